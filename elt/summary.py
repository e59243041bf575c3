"""Row counts from the warehouse and the demo's closing summary (plain text, CI-log friendly)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.identifiers import validate_identifier

MART_DATABASE = "marts"
MAX_LISTED = 12  # failed / not-run checks listed by name in the summary
# dlt's bookkeeping tables in the raw database (`<dataset>____dlt_loads`, …) are not data.
_DLT_INTERNAL = ("_dlt_loads", "_dlt_version", "_dlt_pipeline_state", "_dlt_sentinel_table")


@dataclass(frozen=True)
class TableCount:
    database: str
    table: str
    engine: str
    rows: int

    @property
    def name(self) -> str:
        return f"{self.database}.{self.table}"


def is_data_table(table: str) -> bool:
    """Not dlt's bookkeeping, not its merge staging dataset (`<source>_staging___<table>`)."""
    dataset = table.split("___", 1)[0]
    return not table.endswith(_DLT_INTERNAL) and not dataset.endswith("_staging")


def table_counts(client, database: str) -> list[TableCount]:
    """Exact rows of every data table/view in `database` (FINAL for Replacing engines)."""
    validate_identifier(database, field="database")
    rows = client.query(
        "select name, engine from system.tables where database = {db:String} "
        "and not is_temporary order by name",
        parameters={"db": database},
    ).result_rows
    counts = []
    for name, engine in rows:
        if not is_data_table(name):
            continue
        validate_identifier(name, field="table")
        final = " final" if "Replacing" in engine else ""
        n = client.query(f"select count() from `{database}`.`{name}`{final}").result_rows[0][0]
        counts.append(TableCount(database, name, engine, int(n)))
    return counts


def seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {value % 60:04.1f} s"


def render_counts(title: str, counts: Sequence[TableCount]) -> list[str]:
    if not counts:
        return [f"  {title}: none"]
    width = max(len(c.name) for c in counts)
    lines = [f"  {title}:"]
    for c in counts:
        lines.append(f"    {c.name:<{width}}  {c.rows:>12,}  {c.engine}")
    return lines


def render_summary(
    *,
    assets_materialized: int,
    assets_total: int,
    assets_updated: int | None = None,
    runs: int,
    checks_passed: int,
    checks_failed: Iterable[str],
    checks_missing: Iterable[str],
    raw: Sequence[TableCount],
    marts: Sequence[TableCount],
    stage_seconds: Mapping[str, float],
    dev_port: int = 3000,
    success: bool,
    log_path: object | None = None,
) -> str:
    """The closing summary: what ran, what is in the warehouse, where to look next."""
    failed, missing = list(checks_failed), list(checks_missing)
    lines = ["", "=" * 72, "elt demo: " + ("OK" if success else "FAILED"), "=" * 72]
    updated = "" if assets_updated is None else f", {assets_updated} updated by this run"
    lines.append(
        f"  assets materialized: {assets_materialized}/{assets_total}{updated} ({runs} run(s))"
    )
    check_line = f"  asset checks:        {checks_passed} passed, {len(failed)} failed"
    if missing:
        check_line += f", {len(missing)} not evaluated"
    lines.append(check_line)
    shown = [f"    FAILED  {name}" for name in failed] + [f"    NOT RUN {name}" for name in missing]
    lines += shown[:MAX_LISTED]
    if len(shown) > MAX_LISTED:
        lines.append(f"    … and {len(shown) - MAX_LISTED} more")
    lines += render_counts("rows per raw table", raw)
    lines += render_counts("rows per mart", marts)
    total = sum(stage_seconds.values())
    timing = " · ".join(f"{stage} {seconds(s)}" for stage, s in stage_seconds.items())
    lines.append(f"  time per stage:      {timing} · total {seconds(total)}")
    if log_path is not None:
        lines.append(f"  dbt/dlt output:      {log_path}")
    shown_tables = [*marts, *raw]  # a table this run filled, whatever the project's sources
    query = f"select * from {shown_tables[0].name} limit 10" if shown_tables else "show databases"
    lines += [
        "",
        "Next:",
        f"  make dev          Dagster UI on http://127.0.0.1:{dev_port} (these runs are there)",
        f'  uv run elt sql "{query}"',
        f'  uv run elt sql "show tables from {MART_DATABASE}"',
        "  make demo         again: idempotent, only new data is loaded",
    ]
    return "\n".join(lines)
