"""Row counts from the warehouse, the demo's closing summary and the report of one source load
(plain text, CI-log friendly)."""

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


def render_load(source: str, summary: Mapping[str, object], *, success: bool = True) -> str:
    """What one run of a source committed (`RunResult.summary()`): per table the rows and rejected
    rows committed by this run (a resumed load package included), late rows, failed files."""
    rows = dict(summary.get("rows") or {})  # type: ignore[call-overload]
    rejected = dict(summary.get("rejected") or {})  # type: ignore[call-overload]
    late = dict(summary.get("late_rows") or {})  # type: ignore[call-overload]
    skipped = dict(summary.get("late_skipped") or {})  # type: ignore[call-overload]
    tables = sorted(set(rows) | set(rejected))
    lines = [f"load {source}: " + ("OK" if success else "FAILED")]
    width = max([len(t) for t in tables] + [5])
    lines.append(f"  {'table':<{width}}  {'committed':>12}  {'rejected':>10}  {'late':>8}")
    for table in tables:
        late_text = str(late.get(table, 0))
        if skipped.get(table):
            late_text += f" ({skipped[table]} skipped)"
        lines.append(
            f"  {table:<{width}}  {rows.get(table, 0):>12,}  {rejected.get(table, 0):>10,}"
            f"  {late_text:>8}"
        )
    resumed = list(summary.get("resumed_packages") or [])  # type: ignore[call-overload]
    if resumed:
        lines.append(f"  completed {len(resumed)} load package(s) an earlier run left unfinished")
    failed = list(summary.get("failed_files") or [])  # type: ignore[call-overload]
    if failed:
        lines.append(f"  {len(failed)} file(s) could not be read (the others loaded):")
        lines += [f"    {f['file']}: {f['error']}" for f in failed]
    return "\n".join(lines)
