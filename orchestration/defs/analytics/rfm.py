"""Customer segmentation by recency, frequency and monetary value (RFM) over `marts.orders`.

ClickHouse aggregates the orders to one row per customer; pandas scores each measure in
quartiles (1 = worst, 4 = best; ties share the higher score) and names the segment. Recency is
counted back from the newest order in the data, not from the wall clock, so a replay of old data
segments the same way. Stored as MergeTree ordered by (segment, customer_id): readers filter by
segment.
"""
# no `from __future__ import annotations`: Dagster reads the context and input annotations

import math

import dagster as dg
import pandas as pd

from orchestration.defs.analytics import common
from orchestration.defs.analytics.checks import bad_rows_check
from orchestration.defs.analytics.tables import DeclaredTable

ORDERS = dg.AssetKey(["marts", "orders"])
KEY = common.key("customer_rfm")
SEGMENTS = ("champions", "at_risk", "promising", "hibernating")

ORDERS_BY_CUSTOMER = """
select
    customer_id,
    max(ordered_at) as last_ordered_at,
    count() as frequency,
    toFloat64(sum(order_total)) as monetary
from {table}
group by customer_id
"""

TABLE = DeclaredTable(
    columns=(
        ("customer_id", "String"),
        ("last_ordered_at", "DateTime64(6, 'UTC')"),
        ("recency_days", "UInt32"),
        ("frequency", "UInt32"),
        ("monetary", "Float64"),
        ("recency_score", "UInt8"),
        ("frequency_score", "UInt8"),
        ("monetary_score", "UInt8"),
        ("rfm_score", "String"),
        ("segment", "LowCardinality(String)"),
    ),
    engine="MergeTree",
    order_by=("segment", "customer_id"),
)
DESCRIPTIONS = {
    "recency_days": "Days from the customer's last order to the newest order in the data.",
    "frequency": "Orders placed.",
    "monetary": "Sum of order_total (dollars, with tax).",
    "rfm_score": "Recency, frequency and monetary quartile scores, e.g. '434'.",
    "segment": "champions | at_risk | promising | hibernating",
}


def quartile_scores(values: pd.Series) -> pd.Series:
    """1..4 by rank (higher value, higher score); equal values share the higher score."""
    pct = values.rank(method="max", pct=True)
    return pct.map(lambda p: max(1, math.ceil(p * 4 - 1e-9))).astype("uint8")


def segment(recency: int, frequency: int) -> str:
    if frequency >= 3:
        return "champions" if recency >= 3 else "at_risk"
    return "promising" if recency >= 3 else "hibernating"


def rfm_segments(by_customer: pd.DataFrame) -> pd.DataFrame:
    """Scores and segment per customer from (customer_id, last_ordered_at, frequency, monetary)."""
    df = by_customer.sort_values("customer_id").reset_index(drop=True)
    last = pd.to_datetime(df["last_ordered_at"])
    newest = last.max().normalize() if len(df) else pd.Timestamp(0)
    df["last_ordered_at"] = last
    df["recency_days"] = (newest - last.dt.normalize()).dt.days.astype("uint32")
    df["frequency"] = df["frequency"].astype("uint32")
    df["monetary"] = df["monetary"].astype("float64").round(2)
    df["recency_score"] = quartile_scores(-df["recency_days"].astype("int64"))
    df["frequency_score"] = quartile_scores(df["frequency"])
    df["monetary_score"] = quartile_scores(df["monetary"])
    df["rfm_score"] = (
        df["recency_score"].astype(str)
        + df["frequency_score"].astype(str)
        + df["monetary_score"].astype(str)
    )
    scores = zip(df["recency_score"], df["frequency_score"], strict=True)
    df["segment"] = [segment(int(r), int(f)) for r, f in scores]
    return df[TABLE.names]


@common.mart_asset(
    key=KEY,
    mart=ORDERS,
    input_name="orders",
    select=ORDERS_BY_CUSTOMER,
    table=TABLE,
    descriptions=DESCRIPTIONS,
    description=__doc__,
)
def customer_rfm(context: dg.AssetExecutionContext, orders: pd.DataFrame) -> pd.DataFrame:
    result = rfm_segments(orders)
    counts = result["segment"].value_counts().to_dict()
    context.add_output_metadata(
        {f"segment/{name}": dg.MetadataValue.int(int(counts.get(name, 0))) for name in SEGMENTS}
    )
    return result


_SQL_TABLE = common.sql_table(KEY)
CHECKS = [
    bad_rows_check(
        KEY,
        "one_row_per_customer",
        f"select count() - uniqExact(customer_id) from {_SQL_TABLE}",
        "Every customer appears once.",
    ),
    bad_rows_check(
        KEY,
        "scores_and_segments_valid",
        f"select countIf(recency_score not between 1 and 4 or frequency_score not between 1 and 4"
        f" or monetary_score not between 1 and 4 or segment not in {SEGMENTS!r})"
        f" from {_SQL_TABLE}",
        "Scores are quartiles 1..4 and every segment is a known one.",
    ),
]
