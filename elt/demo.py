"""`elt demo`: the main job end to end on the embedded default.

Stages: (1) the local ClickHouse endpoint (started if nothing answers), (2) the dbt manifest
(compiled only when stale, by a dbt process that runs while the next stages work), (3) Jaffle
Shop landing files (generated once, cached), (4) every asset materialized through Dagster (dlt
ingestion, then dbt, with every asset check) against the persistent instance in DAGSTER_HOME, so
the runs show later in `make dev`, (5) a summary queried from the warehouse. Exit code 1 when a
run, an asset or a check failed.
"""

from __future__ import annotations

import datetime as dt
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import typer
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus as Status,
)

from core.clickhouse import clickhouse_client
from core.longlived import long_lived
from core.settings import settings
from elt.console import worker_output_to
from elt.example import example_present
from elt.materialize import MaterializeResult, RunOutcome, ingestion_first, materialize_all
from elt.summary import MART_DATABASE, render_summary, table_counts
from elt.uptodate import UpToDate
from ingestion.landing import SOURCE, cache_root, landing_jaffle
from ingestion.loaded import landed_files, landing_days, pending_by_table
from ingestion.schema import TableSpec, load_schemas
from orchestration.defs.transform.project import ManifestPreparation
from orchestration.factory import build_definitions, build_table_definitions
from orchestration.instance import ensure_dagster_home
from warehouse.lifecycle import ensure_local_endpoint


def say(message: str = "") -> None:
    print(message, flush=True)


@dataclass
class DemoReport:
    success: bool = False
    stage_seconds: dict[str, float] = field(default_factory=dict)
    assets_total: int = 0
    assets_materialized: int = 0
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    checks_missing: list[str] = field(default_factory=list)
    raw_counts: dict[str, int] = field(default_factory=dict)
    mart_counts: dict[str, int] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)
    log_path: Path | None = None
    selected: set[Any] = field(default_factory=set)
    assets_updated: int = 0
    runs_ok: bool = False


class Stages:
    """Times each stage and prints a header line when it starts."""

    def __init__(self, report: DemoReport) -> None:
        self.report = report
        self.current = ""

    def run(self, name: str, title: str, fn: Callable[[], Any]) -> Any:
        self.current = title
        say(f"\n==> {title}")
        started = time.monotonic()
        try:
            return fn()
        finally:
            elapsed = time.monotonic() - started
            self.report.stage_seconds[name] = self.report.stage_seconds.get(name, 0.0) + elapsed


# ------------------------------------------------------------------------- 1. the endpoint


def ensure_endpoint() -> Any:
    """Start the local endpoint when nothing answers on the configured port; print where it is.

    It listens where the settings say (CLICKHOUSE_HOST/HTTP_PORT/TCP_PORT), so dlt, dbt and the
    Dagster resources find it through the same settings."""
    warehouse = settings().warehouse
    started = time.monotonic()
    info = ensure_local_endpoint()
    took = time.monotonic() - started
    if info.pid is None:  # answered, but not a local endpoint of ours (a server, another dir)
        say(f"      using the ClickHouse that answers at {warehouse.http_url}")
    else:
        say(
            f"      local endpoint (chDB) on http://{info.host}:{info.http_port}, native tcp"
            f" {info.tcp_port} · pid {info.pid} · data {info.data_dir} · ready in {took:.1f} s"
        )
    return info


# ------------------------------------------------------------------------- 3. landing files


def publish_landing(years: int, until: dt.date | None) -> Path:
    """Generate (jafgen, cached per number of years) and publish the files up to `until`."""
    landing_dir = Path(settings().paths.landing_dir)
    cached = (cache_root() / f"{years}y" / ".complete").exists()
    say("      jafgen output cached: " + ("yes" if cached else "no, generating (~15 s per year)"))
    written = landing_jaffle(years, until=until, landing_dir=landing_dir)
    root = landing_dir / SOURCE
    files = sum(1 for p in root.rglob("*") if p.is_file())
    days = landed_days(landing_dir)
    span = f", days {days[0]}..{days[1]}" if days else ""
    say(f"      {root}: {files} files{span}; {sum(written.values())} new or changed this run")
    return landing_dir


def replay_partitions_end(landing_dir: Path) -> dt.date | None:
    """The end of the daily partitions (exclusive): ELT_PARTITIONS_END_DATE when set, else the
    day after the last landed day, so replayed 2018 data is judged against its own end, not the
    wall clock (partitions, schedules). Callers pass it on explicitly (to the definitions, to
    the `dg dev` environment)."""
    configured = settings().run.partitions_end_date
    days = landed_days(landing_dir)
    if configured is not None or days is None:
        return configured
    return dt.date.fromisoformat(days[1]) + dt.timedelta(days=1)


def landed_days(landing_dir: Path, specs: list[TableSpec] | None = None) -> tuple[str, str] | None:
    """First and last day of the daily-partitioned tables' landing files (their YAML globs)."""
    days = landing_days(load_schemas() if specs is None else specs, landing_dir)
    return (days[0].isoformat(), days[-1].isoformat()) if days else None


def pending_window(
    landing_dir: Path, specs: list[TableSpec]
) -> tuple[tuple[str, str] | None, dict[dg.AssetKey, set[str]]]:
    """The window of the data about to be loaded: first and last day of the daily files the
    loaded-files record does not hold yet, and those days per raw table."""
    pending = pending_by_table(landed_files(specs, landing_dir))
    by_key = {
        dg.AssetKey(["raw", source, table]): {d.isoformat() for d in days}
        for (source, table), days in pending.items()
    }
    days = sorted(set().union(*by_key.values())) if by_key else []
    return ((days[0], days[-1]) if days else None), by_key


# ------------------------------------------------------------------------- 2. the dbt manifest


def start_manifest(skip_dbt: bool) -> ManifestPreparation:
    """`dbt compile` in the background when the manifest is stale (not at all for --skip-dbt):
    it runs while the landing files are published and the raw tables load."""
    preparation = ManifestPreparation(compile_sql=True, needed=not skip_dbt)
    if skip_dbt:
        say("      not needed (--skip-dbt)")
    elif preparation.rebuilding:
        say("      stale: dbt compile runs in the background, beside the ingestion")
    else:
        say("      up to date (reused)")
    return preparation


# ------------------------------------------------------------------------- 4. Dagster


def prepare_dagster_home() -> Path:
    """DAGSTER_HOME (default .local/dagster) with the dev dagster.yaml."""
    return ensure_dagster_home(settings().paths.dagster_home.resolve())


class EventPrinter:
    """One line per materialized asset / check result / failure, with running counts."""

    def __init__(self, assets_total: int, checks_total: int) -> None:
        self.assets_total, self.checks_total = assets_total, checks_total
        self.assets = self.checks_ok = self.checks_bad = 0
        self.partitions: dict[Any, int] = {}  # materialized partitions per asset key

    def __call__(self, event: Any) -> None:
        kind = event.event_type_value
        if kind == "ASSET_MATERIALIZATION":
            key, partition = event.asset_key, event.partition
            first = key not in self.partitions
            self.partitions[key] = self.partitions.get(key, 0) + 1
            if first:  # one line per asset; partitions are counted, not listed
                self.assets += 1
                part = f" [partitions from {partition}]" if partition else ""
                say(
                    f"        asset {self.assets:>3}/{self.assets_total}  "
                    f"{key.to_user_string()}{part}"
                )
            elif self.partitions[key] % 100 == 0:
                say(f"          {key.to_user_string()}: {self.partitions[key]} partitions")
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed:
                self.checks_ok += 1
            else:
                self.checks_bad += 1
                severity = getattr(evaluation.severity, "value", evaluation.severity)
                say(
                    f"        CHECK FAILED ({severity})  {evaluation.asset_key.to_user_string()}"
                    f":{evaluation.check_name}"
                )
            done = self.checks_ok + self.checks_bad
            if not evaluation.passed or done % 10 == 0 or done == self.checks_total:
                say(
                    f"        checks {done:>3}/{self.checks_total}  "
                    f"{self.checks_ok} passed, {self.checks_bad} failed"
                )
        elif kind == "STEP_FAILURE":
            error = getattr(event.event_specific_data, "error", None)
            message = error.message.strip().splitlines()[0] if error is not None else ""
            say(f"        STEP FAILED  {event.step_key}: {message}")
        elif kind == "STEP_START":
            say(f"      step {event.step_key}")


def select_keys(asset_graph: Any, select: str | None, skip_dbt: bool) -> set[Any]:
    """The assets to materialize: all, a Dagster selection string, or the raw tables only."""
    keys = set(asset_graph.materializable_asset_keys)
    if select:
        keys &= set(dg.AssetSelection.from_string(select).resolve(asset_graph))
        if not keys:
            raise ValueError(f"--select {select!r} matches no asset")
    if skip_dbt:
        keys = {k for k in keys if k.path[0] == "raw"}
    return keys


def materialize(
    report: DemoReport,
    stages: Stages,
    landing_dir: Path,
    preparation: ManifestPreparation,
    skip_dbt: bool,
    select: str | None,
    full: bool = False,
) -> Any:
    """Every (selected) asset through Dagster; the tools' own output goes to a log file."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    report.log_path = Path(settings().paths.home) / "logs" / f"demo-{stamp}.log"
    home = prepare_dagster_home()
    with (
        worker_output_to(report.log_path),
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):
        return _materialize(
            report, stages, instance, home, landing_dir, preparation, skip_dbt, select, full
        )


def _materialize(
    report: DemoReport,
    stages: Stages,
    instance: dg.DagsterInstance,
    home: Path,
    landing_dir: Path,
    preparation: ManifestPreparation,
    skip_dbt: bool,
    select: str | None,
    full: bool = False,
) -> MaterializeResult:
    """Every selected asset, the raw tables first. While dbt prepares a stale manifest in a
    process of its own, the raw tables load with definitions that need no manifest; a
    `--select` waits for the whole graph."""
    say("\n==> Dagster")
    end = replay_partitions_end(landing_dir)
    if end:
        say(f"      daily partitions end before {end} (ELT_PARTITIONS_END_DATE)")
    specs = load_schemas()
    window, pending = pending_window(landing_dir, specs)
    if full or window is None:  # nothing new: the landed span (dbt partitions never built)
        window = landed_days(landing_dir, specs)
    first, last = window or (None, None)
    days = f" · days {first}..{last}" if window else ""
    say(f"      DAGSTER_HOME {home} · dbt/dlt output in {report.log_path}{days}")
    todo = None if full else UpToDate(instance, None, pending, rebuild=preparation.rebuilding)

    def load(build: Callable[..., dg.Definitions]) -> tuple[dg.Definitions, Any]:
        with long_lived():  # they live as long as the command
            defs = build(partitions_end=end)
            return defs, defs.resolve_asset_graph()

    def run(defs: dg.Definitions, asset_graph: Any, keys: set[Any]) -> MaterializeResult:
        checks_total = sum(len(asset_graph.get(k).check_keys) for k in keys)
        say(f"      {len(keys)} assets, {checks_total} checks")
        if todo is not None:
            todo.asset_graph = asset_graph
        return materialize_all(
            defs,
            instance,
            first_partition=first,
            last_partition=last,
            keys=keys,
            todo=todo,
            layer=ingestion_first,
            on_event=EventPrinter(len(keys), checks_total),
            on_line=say,
            stage=_stage_with_partitions(stages),
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            tags={"elt/demo": "true"},
        )

    result = MaterializeResult()
    keys: set[Any] = set()
    if preparation.rebuilding and not select:  # ingest meanwhile
        title = "Dagster definitions of the raw tables (no dbt manifest needed)"
        tables, table_graph = stages.run(
            "load definitions", title, lambda: load(build_table_definitions)
        )
        keys = select_keys(table_graph, None, skip_dbt=True)
        result.extend(run(tables, table_graph, keys))
        if not result.runs_succeeded:
            latest_state(report, instance, table_graph, keys, result)
            return result
    if preparation.rebuilding:
        stages.run("dbt manifest", "dbt manifest (waiting for dbt compile)", preparation.wait)
    build = build_table_definitions if skip_dbt else build_definitions
    defs, asset_graph = stages.run("load definitions", "Dagster definitions", lambda: load(build))
    rest = select_keys(asset_graph, select, skip_dbt) - keys
    keys |= rest
    result.extend(run(defs, asset_graph, rest))
    latest_state(report, instance, asset_graph, keys, result)
    return result


def _stage_with_partitions(stages: Stages) -> Callable[[str, str, Callable[[], RunOutcome]], Any]:
    """A run as a timed stage, followed by its count of materialized partitions per asset."""

    def stage(name: str, title: str, work: Callable[[], RunOutcome]) -> RunOutcome:
        outcome = stages.run(name, title, work)
        partitions: dict[Any, int] = {}
        for key, partition, _ in outcome.materializations:
            if partition is not None:
                partitions[key] = partitions.get(key, 0) + 1
        if partitions:
            counts = ", ".join(f"{k.path[-1]} {n}" for k, n in partitions.items())
            say(f"      partitions materialized: {counts}")
        return outcome

    return stage


def latest_state(
    report: DemoReport, instance: Any, asset_graph: Any, keys: set[Any], result: Any
) -> None:
    """Assets and checks as the instance knows them now: a re-run that skipped up-to-date work
    still reports every asset's materialization and every check's latest result."""

    report.selected = set(keys)
    report.assets_total = len(keys)
    report.assets_updated = len(set(result.materialized) & keys)
    report.assets_materialized = sum(
        1 for k in keys if instance.get_latest_materialization_event(k) is not None
    )
    check_keys = sorted({c for k in keys for c in asset_graph.get(k).check_keys}, key=str)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
    for check in check_keys:
        record = latest.get(check)
        name = check.to_user_string()
        if record is not None and record.status == Status.SUCCEEDED:
            report.checks_passed.append(name)
        elif record is not None and record.status == Status.FAILED:
            report.checks_failed.append(name)
        else:
            report.checks_missing.append(name)
    report.runs_ok = all(r.success for r in result.runs)


# ------------------------------------------------------------------------- 5. summary


def run_demo(
    years: int = 1,
    until: dt.date | None = None,
    skip_dbt: bool = False,
    select: str | None = None,
    full: bool = False,
) -> DemoReport:
    report = DemoReport()
    stages = Stages(report)
    window = f"{years} simulated year(s)" + (f", until {until}" if until else "")
    say(f"elt demo: Jaffle Shop ({window}) → dlt → ClickHouse → dbt, through Dagster")
    stages.run("endpoint", "local ClickHouse endpoint", ensure_endpoint)
    preparation = stages.run("dbt manifest", "dbt manifest", lambda: start_manifest(skip_dbt))
    try:
        landing_dir = stages.run(
            "landing", "landing files (jafgen)", lambda: publish_landing(years, until)
        )
        result = materialize(report, stages, landing_dir, preparation, skip_dbt, select, full)
    finally:
        preparation.close()  # a failure before the wait leaves no dbt process behind

    def counts() -> tuple[list[Any], list[Any]]:
        client = clickhouse_client(connect_timeout=10, send_receive_timeout=300)
        raw = table_counts(client, settings().warehouse.raw_database)
        marts = [] if skip_dbt else table_counts(client, MART_DATABASE)
        if select:  # only what was selected (raw tables / marts by their asset keys)
            chosen = report.selected
            raw = [c for c in raw if any(c.table == f"{k.path[1]}___{k.path[-1]}" for k in chosen)]
            marts = [c for c in marts if any(k.path == ["marts", c.table] for k in chosen)]
        return raw, marts

    raw, marts = stages.run("summary", "summary (row counts from ClickHouse)", counts)
    report.raw_counts = {c.name: c.rows for c in raw}
    report.mart_counts = {c.name: c.rows for c in marts}
    report.run_ids = [r.run_id for r in result.runs]
    report.success = (
        report.runs_ok
        and not report.checks_failed
        and not report.checks_missing
        and report.assets_materialized == report.assets_total
        and (skip_dbt or bool(select) or (bool(marts) and all(c.rows > 0 for c in marts)))
    )
    say(
        render_summary(
            assets_materialized=report.assets_materialized,
            assets_total=report.assets_total,
            assets_updated=report.assets_updated,
            runs=len(result.runs),
            checks_passed=len(report.checks_passed),
            checks_failed=report.checks_failed,
            checks_missing=report.checks_missing,
            raw=raw,
            marts=marts,
            stage_seconds=report.stage_seconds,
            dev_port=settings().run.dev_port,
            success=report.success,
            log_path=report.log_path,
        )
    )
    return report


def _parse_date(value: str | None) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def demo_command(
    years: int = typer.Option(
        1, "--years", min=1, max=10, envvar="ELT_DEMO_YEARS", help="Simulated years (jafgen)."
    ),
    until: str = typer.Option(
        None,
        "--until",
        envvar="ELT_DEMO_UNTIL",
        help="Publish the days up to this date (YYYY-MM-DD, inclusive); default: all days.",
    ),
    skip_dbt: bool = typer.Option(
        False, "--skip-dbt", help="Only land and ingest the raw tables (CI builds dbt itself)."
    ),
    full: bool = typer.Option(
        False, "--full", help="Materialize everything, even what is up to date."
    ),
    select: str = typer.Option(
        None,
        "--select",
        help="Only these assets (Dagster selection syntax), e.g. 'key:\"raw/shop/reviews\"+'.",
    ),
) -> None:
    """The main job end to end: endpoint, landing data, every asset through Dagster, summary."""
    if not example_present():
        say(
            "elt demo runs the Jaffle Shop example, which this project removed "
            "(`elt example remove`). Load your own sources with `elt schema load <source>` "
            "and materialize them in `make dev`."
        )
        raise typer.Exit(code=2)
    try:
        report = run_demo(
            years=years, until=_parse_date(until), skip_dbt=skip_dbt, select=select, full=full
        )
    except Exception as exc:
        traceback.print_exc()
        say(f"\nelt demo FAILED: {type(exc).__name__}: {exc}")
        raise typer.Exit(code=1) from None
    raise typer.Exit(code=0 if report.success else 1)
