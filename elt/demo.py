"""`elt demo`: the main job end to end on the embedded default.

Stages: (1) the local ClickHouse endpoint (started if nothing answers), (2) Jaffle Shop landing
files (generated once, cached), (3) the dbt manifest (re-parsed only when stale), (4) every asset
materialized through Dagster (dlt ingestion, then dbt, with every asset check) against the
persistent instance in DAGSTER_HOME, so the runs show later in `make dev`, (5) a summary queried
from the warehouse. Exit code 1 when a run, an asset or a check failed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from core.clickhouse import clickhouse_client
from core.settings import settings

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\w+$")


def say(message: str = "") -> None:
    print(message, flush=True)


def use_project_tools() -> None:
    """Put this environment's executables (dbt, dagster) first on PATH for the subprocesses, so
    `.venv/bin/elt` works without an activated venv (dagster-dbt looks `dbt` up on PATH)."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir


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
    """Start the local endpoint when nothing answers on the configured port; print where it is."""
    from warehouse.lifecycle import ensure_local_endpoint

    warehouse = settings().warehouse
    started = time.monotonic()
    info = ensure_local_endpoint()
    took = time.monotonic() - started
    host, http_port, tcp_port = info.host, info.http_port, info.tcp_port
    if info.pid is None:  # answered, but not a local endpoint of ours (a server, another dir)
        say(f"      using the ClickHouse that answers at {warehouse.http_url}")
    else:
        say(
            f"      local endpoint (chDB) on http://{host}:{http_port}, native tcp {tcp_port}"
            f" · pid {info.pid} · data {info.data_dir} · ready in {took:.1f} s"
        )
    # Everything after this (dlt, dbt subprocesses, Dagster resources) reads these.
    os.environ["CLICKHOUSE_HOST"] = str(host)
    os.environ["CLICKHOUSE_HTTP_PORT"] = str(http_port)
    if tcp_port is not None:
        os.environ["CLICKHOUSE_TCP_PORT"] = str(tcp_port)
    return info


# ------------------------------------------------------------------------- 2. landing files


def publish_landing(years: int, until: dt.date | None) -> Path:
    """Generate (jafgen, cached per number of years) and publish the files up to `until`."""
    from ingestion.landing import SOURCE, cache_root, landing_jaffle

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


def replay_partitions_end(landing_dir: Path) -> str | None:
    """End the daily partitions the day after the last landed day (ELT_PARTITIONS_END_DATE,
    exclusive), unless already set: replayed 2018 data is then judged against its own end,
    not the wall clock (partitions, schedules, partition freshness checks)."""
    days = landed_days(landing_dir)
    if days is not None and not os.environ.get("ELT_PARTITIONS_END_DATE"):
        end = dt.date.fromisoformat(days[1]) + dt.timedelta(days=1)
        os.environ["ELT_PARTITIONS_END_DATE"] = end.isoformat()
    return os.environ.get("ELT_PARTITIONS_END_DATE")


def landed_days(landing_dir: Path) -> tuple[str, str] | None:
    """First and last day of the daily landing files (`<source>/<table>/YYYY-MM-DD.csv`)."""
    days = sorted(
        m.group(1)
        for path in landing_dir.glob("*/*/*")
        if (m := _DAY_FILE.match(path.name)) is not None
    )
    return (days[0], days[-1]) if days else None


# ------------------------------------------------------------------------- 4. Dagster


def prepare_dagster_home() -> Path:
    """DAGSTER_HOME (default .local/dagster) with the dev dagster.yaml; exported for Dagster."""
    from orchestration.instance import ensure_dagster_home

    home = ensure_dagster_home(settings().paths.dagster_home.resolve())
    os.environ["DAGSTER_HOME"] = str(home)
    return home


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


def stage_name(assets: tuple[Any, ...]) -> str:
    """ "ingest" for runs of raw tables only (dlt), else "transform" (dbt)."""
    return "ingest" if all(k.path[0] == "raw" for k in assets) else "transform"


def select_keys(asset_graph: Any, select: str | None, skip_dbt: bool) -> set[Any]:
    """The assets to materialize: all, a Dagster selection string, or the raw tables only."""
    import dagster as dg

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
    skip_dbt: bool,
    select: str | None,
    full: bool = False,
) -> Any:
    """Every (selected) asset through Dagster; the tools' own output goes to a log file."""
    from elt.console import worker_output_to

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    report.log_path = Path(settings().paths.home) / "logs" / f"demo-{stamp}.log"
    with worker_output_to(report.log_path):
        return _materialize(report, stages, landing_dir, skip_dbt, select, full)


def _materialize(
    report: DemoReport,
    stages: Stages,
    landing_dir: Path,
    skip_dbt: bool,
    select: str | None,
    full: bool = False,
) -> Any:
    import dagster as dg

    from elt.dbt_state import ensure_manifest
    from elt.materialize import execute_run, group_checks, partition_range, plan_runs

    home = prepare_dagster_home()
    # A dbt test runs in a run that builds its model once all its other models exist or are
    # upstream ("buildable"), not in the first run that builds one of them: a relationships test
    # between models of two runs would otherwise read a table that does not exist yet. The few
    # left over (e.g. orders → locations) run at the end (see below).
    os.environ.setdefault("DBT_INDIRECT_SELECTION", "buildable")
    rebuilt = stages.run("dbt manifest", "dbt manifest", ensure_manifest)
    say("      re-parsed (dbt parse)" if rebuilt else "      up to date (reused)")

    end = replay_partitions_end(landing_dir)
    if end:
        say(f"      daily partitions end before {end} (ELT_PARTITIONS_END_DATE)")

    def load() -> Any:
        from orchestration.definitions import defs

        return defs, defs.resolve_asset_graph()

    defs, asset_graph = stages.run(
        "load definitions", "Dagster definitions (orchestration.definitions)", load
    )
    keys = select_keys(asset_graph, select, skip_dbt)
    checks_total = sum(len(asset_graph.get(k).check_keys) for k in keys)
    plan = plan_runs(asset_graph, keys, layer=lambda key: 0 if key.path[0] == "raw" else 1)
    report.assets_total = len(keys)
    window = landed_days(landing_dir)
    instance = dg.DagsterInstance.get()
    days = f" · days {window[0]}..{window[1]}" if window else ""
    say(f"      {len(keys)} assets, {checks_total} checks, {len(plan)} runs{days}")
    say(f"      DAGSTER_HOME {home} · dbt/dlt output in {report.log_path}")
    printer = EventPrinter(len(keys), checks_total)
    job = defs.resolve_implicit_global_asset_job_def()
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    from elt.materialize import RANGE_END_TAG, RANGE_START_TAG, MaterializeResult, PlannedRun
    from elt.uptodate import UpToDate

    result = MaterializeResult()
    todo = UpToDate(instance, asset_graph, landing_dir, rebuild=rebuilt or full)
    for index, planned in enumerate(plan, start=1):
        name = stage_name(planned.assets)
        tags = {"elt/demo": "true", "elt/stage": name}
        title = f"{name}: run {index}/{len(plan)}, {len(planned.assets)} assets"
        if planned.partitions_def is None:
            needed = planned.assets if full else tuple(todo.unpartitioned(planned.assets))
            scope = "unpartitioned"
            skipped = "every asset up to date (nothing changed upstream)"
        else:
            first, last = window or (None, None)
            start, end = partition_range(planned.partitions_def, first, last)
            all_days = planned.partitions_def.get_partition_keys()
            in_window = [d for d in all_days if start <= d <= end]
            days = in_window if full else todo.partitions(planned.assets, in_window)
            needed = planned.assets if days else ()
            if days:
                tags |= {RANGE_START_TAG: days[0], RANGE_END_TAG: days[-1]}
            scope = f"daily partitions {days[0]}..{days[-1]}" if days else "daily partitions"
            skipped = f"all {len(in_window)} partitions up to date"
        if not needed:
            say(f"\n==> {title} ({scope}): {skipped}")
            continue
        run = PlannedRun(tuple(needed), planned.partitions_def)
        for key in run.assets:
            result.expected_checks |= set(asset_graph.get(key).check_keys)

        def run_one(run=run, tags=tags) -> Any:
            return execute_run(job, instance, run, tags=tags, on_event=printer, run_config=quiet)

        if len(needed) < len(planned.assets):
            title += f" ({len(needed)} to update)"
        outcome = stages.run(name, f"{title} ({scope})", run_one)
        todo.record(outcome.materializations)
        if run.partitions_def is not None:
            counts = ", ".join(f"{k.path[-1]} {printer.partitions.get(k, 0)}" for k in run.assets)
            say(f"      partitions materialized: {counts}")
        say(
            f"      run {outcome.run_id} {'succeeded' if outcome.success else 'FAILED'}"
            f" in {outcome.seconds:.1f} s"
        )
        result.runs.append(outcome)
        if not outcome.success:
            latest_state(report, instance, asset_graph, keys, result)
            return result
    # Checks whose dbt test reads models of several runs (relationships between an incremental
    # mart and a table mart) run once every model exists: one checks-only run per partitions def.
    for partitions_def, check_keys in group_checks(asset_graph, result.missing):
        tags = {"elt/demo": "true", "elt/stage": "checks"}
        if partitions_def is not None:
            first, last = window or (None, None)
            start, end = partition_range(partitions_def, first, last)
            tags |= {RANGE_START_TAG: start, RANGE_END_TAG: end}

        def run_checks(check_keys=check_keys, tags=tags) -> Any:
            return execute_run(
                job,
                instance,
                None,
                check_keys=check_keys,
                tags=tags,
                on_event=printer,
                run_config=quiet,
            )

        title = f"checks: {len(check_keys)} checks that span several runs"
        outcome = stages.run("checks", title, run_checks)
        say(
            f"      run {outcome.run_id} {'succeeded' if outcome.success else 'FAILED'}"
            f" in {outcome.seconds:.1f} s"
        )
        result.runs.append(outcome)
    latest_state(report, instance, asset_graph, keys, result)
    return result


def latest_state(
    report: DemoReport, instance: Any, asset_graph: Any, keys: set[Any], result: Any
) -> None:
    """Assets and checks as the instance knows them now: a re-run that skipped up-to-date work
    still reports every asset's materialization and every check's latest result."""
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus as Status,
    )

    report.selected = set(keys)
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
    from elt.summary import MART_DATABASE, render_summary, table_counts

    report = DemoReport()
    stages = Stages(report)
    use_project_tools()
    window = f"{years} simulated year(s)" + (f", until {until}" if until else "")
    say(f"elt demo: Jaffle Shop ({window}) → dlt → ClickHouse → dbt, through Dagster")
    stages.run("endpoint", "local ClickHouse endpoint", ensure_endpoint)
    landing_dir = stages.run(
        "landing", "landing files (jafgen)", lambda: publish_landing(years, until)
    )
    result = materialize(report, stages, landing_dir, skip_dbt, select, full)

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
    try:
        report = run_demo(
            years=years, until=_parse_date(until), skip_dbt=skip_dbt, select=select, full=full
        )
    except Exception as exc:
        traceback.print_exc()
        say(f"\nelt demo FAILED: {type(exc).__name__}: {exc}")
        raise typer.Exit(code=1) from None
    raise typer.Exit(code=0 if report.success else 1)
