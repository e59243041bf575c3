"""Jaffle Shop demo landing data: run jafgen once per N years (cached), publish the landing layout.

Layout under the landing dir: `jaffle_shop/orders/<YYYY-MM-DD>.csv` and
`jaffle_shop/items/<YYYY-MM-DD>.csv` (daily; item rows carry their order's `ordered_at`), and one
file for each other table (`jaffle_shop/customers/customers.csv`, ...). Publishing is idempotent:
a file whose content is unchanged is not rewritten (its mtime stays, so ingestion skips it).
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from core.settings import settings

SOURCE = "jaffle_shop"
TABLES = ("customers", "orders", "items", "products", "stores", "supplies", "tweets")
DAILY = ("orders", "items")


def cache_root() -> Path:
    return Path(settings().paths.jafgen_cache)


def _jafgen_command() -> list[str]:
    beside = Path(sys.executable).parent / "jafgen"
    return [str(beside)] if beside.exists() else [shutil.which("jafgen") or "jafgen"]


def generate(years: int, cache_dir: Path | None = None) -> Path:
    """Run jafgen for `years` simulated years (once: cached) and return its jaffle-data dir."""
    if years < 1:
        raise ValueError("years must be >= 1")
    work = Path(cache_dir or cache_root()) / f"{years}y"
    data = work / "jaffle-data"
    if all((data / f"raw_{t}.csv").exists() for t in TABLES) and (work / ".complete").exists():
        return data
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [*_jafgen_command(), str(years)], cwd=work, check=True, capture_output=True, text=True
    )
    (work / ".complete").write_text(dt.datetime.now(dt.UTC).isoformat())
    return data


def _read(path: Path) -> pa.Table:
    with path.open("rb") as handle:
        names = handle.readline().decode().strip().split(",")
    return pa_csv.read_csv(
        path,
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )


def _csv_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    return sink.getvalue()


def _write_if_changed(path: Path, content: bytes) -> bool:
    if path.exists() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
    return True


def _daily(table: pa.Table, day_column: str, until: dt.date | None) -> dict[str, pa.Table]:
    days = pc.utf8_slice_codeunits(table.column(day_column), 0, 10)
    table = table.append_column("__day", days)
    if until is not None:
        table = table.filter(pc.less_equal(table.column("__day"), until.isoformat()))
    # `id` breaks ties: the join's row order varies, and re-publishing must be byte-identical
    table = table.sort_by([("__day", "ascending"), (day_column, "ascending"), ("id", "ascending")])
    out: dict[str, pa.Table] = {}
    values = table.column("__day").to_pylist()
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            out[values[start]] = table.slice(start, i - start).drop_columns(["__day"])
            start = i
    return out


def publish(raw_dir: Path, landing_dir: Path, until: dt.date | None = None) -> dict[str, int]:
    """Publish jafgen's raw_*.csv into the landing layout; returns files written per table."""
    root = Path(landing_dir) / SOURCE
    written: dict[str, int] = {}
    orders = _read(raw_dir / "raw_orders.csv")
    items = _read(raw_dir / "raw_items.csv")
    order_times = orders.select(["id", "ordered_at"]).rename_columns(["order_id", "ordered_at"])
    items = items.join(order_times, keys="order_id", join_type="inner")
    items = items.select(["id", "order_id", "sku", "ordered_at"])
    for name, table in (("orders", orders), ("items", items)):
        count = 0
        for day, rows in _daily(table, "ordered_at", until).items():
            count += _write_if_changed(root / name / f"{day}.csv", _csv_bytes(rows))
        written[name] = count
    for name in TABLES:
        if name in DAILY:
            continue
        content = (raw_dir / f"raw_{name}.csv").read_bytes()
        written[name] = int(_write_if_changed(root / name / f"{name}.csv", content))
    return written


def landing_jaffle(
    years: int, until: dt.date | None = None, landing_dir: Path | None = None
) -> dict[str, int]:
    """`elt landing jaffle`: generate (cached) and publish; returns files written per table."""
    raw = generate(years)
    return publish(raw, Path(landing_dir or settings().paths.landing_dir), until)


def publish_jaffle(
    landing_dir: Path | str | None = None, years: int = 1, until: dt.date | None = None
) -> dict[str, int]:
    """Python API of `elt landing jaffle` (jafgen output cached per N years)."""
    return landing_jaffle(years, until, Path(landing_dir) if landing_dir else None)
