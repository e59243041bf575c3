"""Materialize every asset of a Dagster `Definitions` in dependency order, streaming progress.

One Dagster run cannot mix assets of different partitions definitions, so the assets are planned
into a short sequence of runs (`plan_runs`): each run holds assets of one partitions definition
whose upstream assets are done or in the same run, and the unpartitioned assets of their
multi-assets (the dbt project's tables beside its incremental models: one `dbt build`).
Partitioned runs cover a partition range in one run (`dagster/asset_partition_range_*` tags; the
assets need a single-run backfill policy). Each run executes in process against the given
instance (so it shows in `dg dev`), while the
caller's `on_event` sees its events as they are written (asset materializations, check results).

dbt tests run with the models of each run. dbt picks them by its indirect selection: "eager"
(every test that reads a model of the run) when every table such a test reads exists by the
end of the run, else "buildable" (only tests whose models are all in the run or upstream), so
no test reads a table a later run builds; the tests left over run at the end, in one
checks-only run per partitions definition.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import dagster as dg
from dagster import AssetKey, DagsterEventType

from core.environ import patched_environ

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# Events shown while a run executes.
PROGRESS_EVENTS = {
    DagsterEventType.RUN_START,
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
}


@dataclass(frozen=True)
class PlannedRun:
    """One Dagster run: assets sharing a partitions definition (None = unpartitioned)."""

    assets: tuple[AssetKey, ...]
    partitions_def: dg.PartitionsDefinition | None = None

    @property
    def partitioned(self) -> bool:
        return self.partitions_def is not None


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    materialized: list[AssetKey] = field(default_factory=list)
    # (asset key, partition, metadata) of each materialization
    materializations: list[tuple[AssetKey, str | None, dict]] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)  # AssetCheckEvaluation
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class MaterializeResult:
    runs: list[RunOutcome] = field(default_factory=list)
    expected_checks: set[dg.AssetCheckKey] = field(default_factory=set)

    @property
    def success(self) -> bool:
        return self.runs_succeeded and not self.failed_checks and not self.missing

    @property
    def runs_succeeded(self) -> bool:
        return all(r.success for r in self.runs)

    def extend(self, other: MaterializeResult) -> None:
        """Add the runs and expected checks of a later `materialize_all`."""
        self.runs += other.runs
        self.expected_checks |= other.expected_checks

    @property
    def materialized(self) -> set[AssetKey]:
        return {k for r in self.runs for k in r.materialized}

    @property
    def checks(self) -> dict[dg.AssetCheckKey, Any]:
        """The last evaluation of each check."""
        return {c.asset_check_key: c for r in self.runs for c in r.checks}

    @property
    def passed_checks(self) -> list[dg.AssetCheckKey]:
        return sorted((k for k, c in self.checks.items() if c.passed), key=str)

    @property
    def failed_checks(self) -> list[dg.AssetCheckKey]:
        return sorted((k for k, c in self.checks.items() if not c.passed), key=str)

    @property
    def missing(self) -> list[dg.AssetCheckKey]:
        """Checks that should have run with their assets but reported nothing."""
        return sorted(self.expected_checks - self.checks.keys(), key=str)


def _partitions_id(partitions_def: dg.PartitionsDefinition | None) -> str:
    return "" if partitions_def is None else repr(partitions_def)


def plan_runs(
    asset_graph: Any,
    keys: Iterable[AssetKey] | None = None,
    layer: Callable[[AssetKey], int] = lambda key: 0,
) -> list[PlannedRun]:
    """Order the materializable assets into runs of at most one partitions definition (and one
    layer) each. An unpartitioned asset joins a partitioned run when a partitioned asset of its
    multi-asset is in it (one step builds both: the dbt project's unpartitioned models beside its
    incremental ones, one `dbt build`); Dagster materializes it once, beside the partitions.

    Greedy: among the assets whose upstream is done, take the partitions definition (lowest
    `layer` first, e.g. ingestion before dbt) whose run can absorb the most assets: its ready
    assets, the ready unpartitioned ones that may join, and descendants that become ready.
    """
    selected = set(keys) if keys is not None else set(asset_graph.materializable_asset_keys)
    nodes = {k: asset_graph.get(k) for k in selected}
    parents = {k: {p for p in nodes[k].parent_keys if p in selected} for k in selected}
    part = {k: _partitions_id(nodes[k].partitions_def) for k in selected}
    joins = _joinable_runs(asset_graph, selected, part)
    done: set[AssetKey] = set()
    runs: list[PlannedRun] = []
    while len(done) < len(selected):
        best: set[AssetKey] = set()
        best_layer = None
        for lay, gid in sorted({(layer(k), part[k]) for k in selected - done}):
            if best and best_layer is not None and lay > best_layer:
                break  # a lower layer can run: it goes first
            batch: set[AssetKey] = set()
            grew = True
            while grew:
                grew = False
                for key in selected - done - batch:
                    fits = part[key] == gid or gid in joins[key]
                    if fits and layer(key) == lay and parents[key] <= done | batch:
                        batch.add(key)
                        grew = True
            if len(batch) > len(best):
                best, best_layer = batch, lay
        if not best:  # a cycle cannot happen in a valid asset graph; guard anyway
            raise RuntimeError(f"cannot order assets: {sorted(map(str, selected - done))}")
        ordered = tuple(sorted(best, key=lambda k: k.to_user_string()))
        definitions = [nodes[k].partitions_def for k in ordered if nodes[k].partitions_def]
        runs.append(PlannedRun(ordered, definitions[0] if definitions else None))
        done |= best
    return runs


def _joinable_runs(
    asset_graph: Any, selected: set[AssetKey], part: dict[AssetKey, str]
) -> dict[AssetKey, set[str]]:
    """For each unpartitioned asset, the partitions definitions of the partitioned assets of its
    multi-asset (the runs it may join); none for the others."""
    out: dict[AssetKey, set[str]] = {k: set() for k in selected}
    for key in selected:
        if part[key] == "":
            siblings = asset_graph.assets_def_for_key(key).keys
            out[key] = {part[k] for k in siblings if k in selected and part[k] != ""}
    return out


def group_checks(
    asset_graph: Any, check_keys: Iterable[dg.AssetCheckKey]
) -> list[tuple[dg.PartitionsDefinition | None, list[dg.AssetCheckKey]]]:
    """Checks grouped by the partitions definition of their asset (one checks-only run each)."""
    groups: dict[str, tuple[dg.PartitionsDefinition | None, list[dg.AssetCheckKey]]] = {}
    for key in sorted(check_keys, key=str):
        partitions_def = asset_graph.get(key.asset_key).partitions_def
        groups.setdefault(_partitions_id(partitions_def), (partitions_def, []))[1].append(key)
    return [groups[gid] for gid in sorted(groups)]


def partition_range(
    partitions_def: dg.PartitionsDefinition, first: str | None = None, last: str | None = None
) -> tuple[str, str]:
    """The partition keys to cover, clipped to `first`..`last` (keys, inclusive)."""
    keys = partitions_def.get_partition_keys()
    if first is not None:
        keys = [k for k in keys if k >= first]
    if last is not None:
        keys = [k for k in keys if k <= last]
    if not keys:
        raise ValueError(f"no partition between {first} and {last} in {partitions_def}")
    return keys[0], keys[-1]


INDIRECT_SELECTION = "DBT_INDIRECT_SELECTION"  # dagster-dbt hands its environment to dbt


def indirect_selection_for(
    asset_graph: Any, run_assets: Iterable[AssetKey], later: set[AssetKey]
) -> str:
    """dbt's indirect selection for a run: "eager" unless a check that reads one of the run's
    assets also reads an asset that a later run builds."""
    assets = set(run_assets)
    for check_key in asset_graph.asset_check_keys:
        spec = asset_graph.get_check_spec(check_key)
        reads = {check_key.asset_key, *(dep.asset_key for dep in spec.additional_deps)}
        if reads & assets and reads & later:
            return "buildable"
    return "eager"


def dbt_tests(mode: str) -> contextlib.AbstractContextManager[None]:
    """`DBT_INDIRECT_SELECTION=mode` while a run executes; a value the caller set wins."""
    if INDIRECT_SELECTION in os.environ:
        return contextlib.nullcontext()
    return patched_environ({INDIRECT_SELECTION: mode})


def _event_of(record: Any) -> Any:
    return record.event_log_entry.dagster_event


def execute_run(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    planned: PlannedRun | None,
    *,
    check_keys: Iterable[dg.AssetCheckKey] = (),
    tags: dict[str, str] | None = None,
    on_event: Callable[[Any], None] | None = None,
    run_config: dict[str, Any] | None = None,
    poll_seconds: float = 0.25,
    tests: str = "buildable",
) -> RunOutcome:
    """Execute one planned run in process (or, with `planned` None, only the given checks);
    stream its events to `on_event` while it runs. `tests`: dbt's indirect selection."""
    run_id = str(uuid.uuid4())
    outcome = RunOutcome(run_id=run_id, success=False)
    box: dict[str, Any] = {}
    if planned is None:
        job = job.get_subset(asset_selection=set(), asset_check_selection=set(check_keys))
        selection = None
    else:
        selection = list(planned.assets)

    def work() -> None:
        try:
            with dbt_tests(tests):
                box["result"] = job.execute_in_process(
                    instance=instance,
                    asset_selection=selection,
                    run_id=run_id,
                    tags=tags or {},
                    run_config=run_config,
                    raise_on_error=False,
                )
        except BaseException as exc:  # surfaced below, after the events are drained
            box["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=work, name=f"dagster-run-{run_id[:8]}", daemon=True)
    worker.start()
    cursor: str | None = None
    while True:
        alive = worker.is_alive()
        conn = instance.get_records_for_run(run_id, cursor=cursor, of_type=PROGRESS_EVENTS)
        cursor = conn.cursor if conn.records else cursor
        for record in conn.records:
            event = _event_of(record)
            if event is None:
                continue
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                outcome.materialized.append(event.asset_key)
                data = event.event_specific_data.materialization
                outcome.materializations.append(
                    (event.asset_key, data.partition, dict(data.metadata))
                )
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                outcome.checks.append(event.event_specific_data)
            elif event.event_type == DagsterEventType.STEP_FAILURE:
                outcome.failures.append(event.step_key or "?")
            if on_event is not None:
                on_event(event)
        if not alive and not conn.has_more:
            break
        if not conn.has_more:
            time.sleep(poll_seconds)
    outcome.seconds = time.monotonic() - started
    if "error" in box:
        outcome.failures.append(f"{type(box['error']).__name__}: {box['error']}")
    else:
        outcome.success = bool(box["result"].success)
    return outcome


class Todo(Protocol):
    """What still has to run (`elt.uptodate.UpToDate`); without one, everything runs."""

    def unpartitioned(
        self, assets: Sequence[AssetKey], changing: Sequence[AssetKey] = ()
    ) -> list[AssetKey]: ...

    def partitions(self, assets: Sequence[AssetKey], window: Iterable[str]) -> list[str]: ...

    def record(self, materializations: Iterable[tuple[AssetKey, str | None, dict]]) -> None: ...


def stage_name(assets: Iterable[AssetKey]) -> str:
    """ "ingest" for runs of raw tables only (dlt), else "transform" (dbt)."""
    return "ingest" if all(k.path[0] == "raw" for k in assets) else "transform"


def ingestion_first(key: AssetKey) -> int:
    """The planner's layer: raw tables (dlt) before dbt models."""
    return 0 if key.path[0] == "raw" else 1


def _run_in_place(name: str, title: str, work: Callable[[], RunOutcome]) -> RunOutcome:
    return work()


def materialize_all(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    first_partition: str | None = None,
    last_partition: str | None = None,
    keys: Iterable[AssetKey] | None = None,
    todo: Todo | None = None,
    layer: Callable[[AssetKey], int] = lambda key: 0,
    on_event: Callable[[Any], None] | None = None,
    on_line: Callable[[str], None] = lambda line: None,
    stage: Callable[[str, str, Callable[[], RunOutcome]], RunOutcome] = _run_in_place,
    run_config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> MaterializeResult:
    """Materialize the assets (all by default) with their checks; stop at the first failed run.

    Partitioned runs cover `first_partition`..`last_partition` (clipped to the definition).
    With a `todo`, assets and partitions it says are up to date are left out. `stage(name,
    title, work)` wraps each run (the demo times and titles it); `on_line` gets the lines that
    say what is skipped and how each run ended."""
    asset_graph = defs.resolve_asset_graph()
    job = defs.resolve_implicit_global_asset_job_def()
    plan = plan_runs(asset_graph, keys, layer=layer)
    result = MaterializeResult()
    later_runs = [set().union(*(set(p.assets) for p in plan[i + 1 :])) for i in range(len(plan))]
    for index, planned in enumerate(plan, start=1):
        name = stage_name(planned.assets)
        run_tags = {**(tags or {}), "elt/stage": name}
        title = f"{name}: run {index}/{len(plan)}, {len(planned.assets)} assets"
        partitioned = [k for k in planned.assets if asset_graph.get(k).partitions_def]
        unpartitioned = [k for k in planned.assets if k not in set(partitioned)]
        days: list[str] = []
        in_window: list[str] = []
        if partitioned:
            start, end = partition_range(planned.partitions_def, first_partition, last_partition)
            all_days = planned.partitions_def.get_partition_keys()
            in_window = [d for d in all_days if start <= d <= end]
            days = in_window if todo is None else todo.partitions(partitioned, in_window)
        changing = partitioned if days else []  # what this run changes upstream of the others
        whole = unpartitioned if todo is None else todo.unpartitioned(unpartitioned, changing)
        scope = "unpartitioned"
        skipped = "every asset up to date (nothing changed upstream)"
        if partitioned:
            if days:
                run_tags |= {RANGE_START_TAG: days[0], RANGE_END_TAG: days[-1]}
                scope = f"daily partitions {days[0]}..{days[-1]}"
                if unpartitioned:
                    scope += f", {len(whole)} unpartitioned"
            elif not whole:
                scope = "daily partitions"
                skipped = f"all {len(in_window)} partitions up to date, and every other asset"
        needed = (partitioned if days else []) + list(whole)
        if not needed:
            on_line(f"\n==> {title} ({scope}): {skipped}")
            continue
        run = PlannedRun(tuple(needed), planned.partitions_def if days else None)
        for key in run.assets:
            result.expected_checks |= set(asset_graph.get(key).check_keys)
        if len(needed) < len(planned.assets):
            title += f" ({len(needed)} to update)"

        tests = indirect_selection_for(asset_graph, run.assets, later_runs[index - 1])

        def work(
            run: PlannedRun = run, run_tags: dict[str, str] = run_tags, tests: str = tests
        ) -> RunOutcome:
            return execute_run(
                job,
                instance,
                run,
                tags=run_tags,
                on_event=on_event,
                run_config=run_config,
                tests=tests,
            )

        outcome = stage(name, f"{title} ({scope})", work)
        if todo is not None:
            todo.record(outcome.materializations)
        on_line(_ended(outcome))
        result.runs.append(outcome)
        if not outcome.success:
            return result
    # Checks whose dbt test reads a model of a later run run once every model exists: one
    # checks-only run per partitions definition.
    for partitions_def, check_keys in group_checks(asset_graph, result.missing):
        run_tags = {**(tags or {}), "elt/stage": "checks"}
        if partitions_def is not None:
            start, end = partition_range(partitions_def, first_partition, last_partition)
            run_tags |= {RANGE_START_TAG: start, RANGE_END_TAG: end}

        def check_work(
            check_keys: list[dg.AssetCheckKey] = check_keys, run_tags: dict[str, str] = run_tags
        ) -> RunOutcome:
            return execute_run(
                job,
                instance,
                None,
                check_keys=check_keys,
                tags=run_tags,
                on_event=on_event,
                run_config=run_config,
            )

        title = f"checks: {len(check_keys)} checks that span several runs"
        outcome = stage("checks", title, check_work)
        on_line(_ended(outcome))
        result.runs.append(outcome)
    return result


def _ended(outcome: RunOutcome) -> str:
    state = "succeeded" if outcome.success else "FAILED"
    return f"      run {outcome.run_id} {state} in {outcome.seconds:.1f} s"
