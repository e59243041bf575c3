"""Daily revenue forecast per location over `marts.daily_location_metrics`.

ClickHouse sums the SummingMergeTree rollup to one row per (day, location); pandas forecasts each
of the next `horizon_days` days as the mean revenue of the same weekday over the last
`history_weeks` weeks of the location's data (seasonal naive mean; all of that window when the
weekday has no data). The forecast starts the day after the newest day in the data. Stored as
MergeTree ordered by (location_id, forecast_date): one location's curve is one range read.
"""
# no `from __future__ import annotations`: Dagster reads the context, config and input annotations

import datetime as dt

import dagster as dg
import pandas as pd
from pydantic import Field

from orchestration.defs.analytics import common
from orchestration.defs.analytics.checks import bad_rows_check
from orchestration.defs.analytics.tables import DeclaredTable

DAILY_METRICS = dg.AssetKey(["marts", "daily_location_metrics"])
KEY = common.key("location_revenue_forecast")

REVENUE_BY_DAY = """
select metric_date, location_id, toFloat64(sum(revenue)) as revenue
from {table}
group by metric_date, location_id
"""

TABLE = DeclaredTable(
    columns=(
        ("location_id", "String"),
        ("forecast_date", "Date"),
        ("revenue_forecast", "Float64"),
        ("basis_days", "UInt16"),
        ("as_of_date", "Date"),
    ),
    engine="MergeTree",
    order_by=("location_id", "forecast_date"),
)
DESCRIPTIONS = {
    "revenue_forecast": "Expected revenue (dollars, with tax) of the day.",
    "basis_days": "Observed days the forecast averages.",
    "as_of_date": "Newest day of data the forecast is made from.",
}


class ForecastConfig(dg.Config):
    horizon_days: int = Field(14, ge=1, le=366, description="Days to forecast after the data.")
    history_weeks: int = Field(4, ge=1, le=104, description="Weeks of history to average.")


def forecast_revenue(daily: pd.DataFrame, horizon_days: int, history_weeks: int) -> pd.DataFrame:
    """One row per location and forecast day from (metric_date, location_id, revenue)."""
    if daily.empty:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in TABLE.names})
    days = pd.to_datetime(daily["metric_date"]).dt.normalize()
    as_of = days.max()
    window = daily.assign(day=days)[days > as_of - pd.Timedelta(weeks=history_weeks)]
    window = window.assign(weekday=window["day"].dt.weekday)
    rows = []
    for location_id, history in sorted(window.groupby("location_id"), key=lambda g: g[0]):
        for ahead in range(1, horizon_days + 1):
            day = as_of + pd.Timedelta(days=ahead)
            same = history[history["weekday"] == day.weekday()]
            basis = same if len(same) else history
            rows.append(
                {
                    "location_id": location_id,
                    "forecast_date": day,
                    "revenue_forecast": round(float(basis["revenue"].mean()), 2),
                    "basis_days": len(basis),
                    "as_of_date": as_of,
                }
            )
    out = pd.DataFrame(rows)
    out["basis_days"] = out["basis_days"].astype("uint16")
    return out[TABLE.names]


@common.mart_asset(
    key=KEY,
    mart=DAILY_METRICS,
    input_name="daily",
    select=REVENUE_BY_DAY,
    table=TABLE,
    descriptions=DESCRIPTIONS,
    description=__doc__,
)
def location_revenue_forecast(
    context: dg.AssetExecutionContext, config: ForecastConfig, daily: pd.DataFrame
) -> pd.DataFrame:
    result = forecast_revenue(daily, config.horizon_days, config.history_weeks)
    as_of = result["as_of_date"].max() if len(result) else None
    context.add_output_metadata(
        {
            "horizon_days": config.horizon_days,
            "history_weeks": config.history_weeks,
            "as_of_date": str(as_of.date()) if isinstance(as_of, dt.datetime) else "",
            "locations": dg.MetadataValue.int(int(result["location_id"].nunique())),
        }
    )
    return result


_SQL_TABLE = common.sql_table(KEY)
CHECKS = [
    bad_rows_check(
        KEY,
        "one_row_per_location_day",
        f"select count() - uniqExact(location_id, forecast_date) from {_SQL_TABLE}",
        "Each location has one forecast per day.",
    ),
    bad_rows_check(
        KEY,
        "forecast_not_negative",
        f"select countIf(revenue_forecast < 0 or isNaN(revenue_forecast)) from {_SQL_TABLE}",
        "Revenue forecasts are numbers of at least 0.",
    ),
]
