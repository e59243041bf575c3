"""The run planner and executor behind `elt demo`, on a small Dagster graph (no warehouse).

The graph mixes unpartitioned and daily assets the way the project does (raw dims, raw daily
events, staging, incremental marts, marts downstream of them), so it needs several runs.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from elt.materialize import (
    MaterializeResult,
    indirect_selection_for,
    ingestion_first,
    materialize_all,
    partition_range,
    plan_runs,
)

DAILY = dg.DailyPartitionsDefinition(start_date="2018-09-01", end_date="2018-09-11")
SINGLE_RUN = dg.BackfillPolicy.single_run()


def build_defs(fail_check: bool = False) -> dg.Definitions:
    @dg.asset(key=["raw", "s", "dim"])
    def dim() -> None: ...

    @dg.asset(key=["raw", "s", "events"], partitions_def=DAILY, backfill_policy=SINGLE_RUN)
    def events(context) -> dg.MaterializeResult:
        keys = context.partition_keys
        return dg.MaterializeResult(metadata={"first": keys[0], "last": keys[-1]})

    stg_key, inc_key, summary_key = (
        dg.AssetKey(["staging", "stg"]),
        dg.AssetKey(["marts", "inc"]),
        dg.AssetKey(["marts", "summary"]),
    )

    # like the dbt project: one multi-asset, its incremental model partitioned, the rest not
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(stg_key, deps=[dim, events]),
            dg.AssetSpec(inc_key, deps=[stg_key], partitions_def=DAILY),
            dg.AssetSpec(summary_key, deps=[inc_key, dim]),
        ],
        can_subset=True,
        backfill_policy=SINGLE_RUN,
    )
    def models(context):
        for key in (stg_key, inc_key, summary_key):
            if key in context.selected_asset_keys:
                yield dg.MaterializeResult(asset_key=key)

    @dg.asset_check(asset=summary_key)
    def summary_ok() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=not fail_check)

    @dg.asset_check(asset=dim)
    def dim_ok() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    return dg.Definitions(assets=[dim, events, models], asset_checks=[summary_ok, dim_ok])


def paths(run) -> list[str]:
    return [k.to_user_string() for k in run.assets]


def test_plan_puts_a_multi_assets_unpartitioned_assets_in_its_partitioned_run() -> None:
    graph = build_defs().resolve_asset_graph()
    plan = plan_runs(graph)
    assert [(paths(r), r.partitions_def) for r in plan] == [
        (["raw/s/dim"], None),  # an asset of its own: its own run
        (["marts/inc", "marts/summary", "raw/s/events", "staging/stg"], DAILY),
    ]
    plan = plan_runs(graph, layer=ingestion_first)  # raw tables first, then the models
    assert [(paths(r), r.partitioned) for r in plan] == [
        (["raw/s/dim"], False),
        (["raw/s/events"], True),
        (["marts/inc", "marts/summary", "staging/stg"], True),
    ]


def test_plan_keeps_two_partitions_definitions_apart() -> None:
    other = dg.DailyPartitionsDefinition(start_date="2017-01-01", end_date="2018-09-11")
    a_key, b_key, both_key = (
        dg.AssetKey(["marts", "a"]),
        dg.AssetKey(["marts", "b"]),
        dg.AssetKey(["marts", "both"]),
    )

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(a_key, partitions_def=DAILY),
            dg.AssetSpec(b_key, partitions_def=other),
            dg.AssetSpec(both_key, deps=[a_key, b_key]),
        ],
        can_subset=True,
        backfill_policy=SINGLE_RUN,
    )
    def three(): ...

    plan = plan_runs(dg.Definitions(assets=[three]).resolve_asset_graph())
    assert [(paths(r), r.partitions_def) for r in plan] == [
        (["marts/b"], other),
        (["marts/a", "marts/both"], DAILY),
    ]


def test_plan_groups_everything_unpartitioned_in_one_run() -> None:
    graph = build_defs().resolve_asset_graph()
    keys = [dg.AssetKey(["raw", "s", "dim"]), dg.AssetKey(["staging", "stg"])]
    (only,) = plan_runs(graph, keys)  # stg's partitioned parent is not selected
    assert paths(only) == ["raw/s/dim", "staging/stg"]


def test_partition_range_is_clipped_to_the_landed_days() -> None:
    assert partition_range(DAILY) == ("2018-09-01", "2018-09-10")
    assert partition_range(DAILY, "2018-09-03", "2018-09-05") == ("2018-09-03", "2018-09-05")
    with pytest.raises(ValueError, match="no partition"):
        partition_range(DAILY, "2019-01-01", None)


@pytest.fixture
def instance(tmp_path: Path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        yield instance


@pytest.mark.integration
def test_materialize_all_runs_everything_with_checks_and_streams_events(instance) -> None:
    seen: list[str] = []
    result = materialize_all(
        build_defs(),
        instance,
        first_partition="2018-09-02",
        last_partition="2018-09-04",
        on_event=lambda event: seen.append(event.event_type_value),
        layer=ingestion_first,
    )
    assert result.success
    assert len(result.runs) == 3  # raw dim, raw events, the models (in one step)
    assert {k.to_user_string() for k in result.materialized} == {
        "raw/s/dim",
        "raw/s/events",
        "staging/stg",
        "marts/inc",
        "marts/summary",
    }
    assert {k.name for k in result.passed_checks} == {"dim_ok", "summary_ok"}
    assert not result.failed_checks and not result.missing
    assert "ASSET_MATERIALIZATION" in seen and "ASSET_CHECK_EVALUATION" in seen
    # the runs are in the instance, one partition range per partitioned run
    runs = instance.get_runs()
    assert len(runs) == 3 and all(r.is_success for r in runs)
    ranges = sorted(str(r.tags.get("dagster/asset_partition_range_start")) for r in runs)
    assert ranges == ["2018-09-02", "2018-09-02", "None"]
    summary = instance.fetch_materializations(dg.AssetKey(["marts", "summary"]), limit=5)
    assert [r.partition_key for r in summary.records] == [None]  # once, not per partition
    events = dg.AssetKey(["raw", "s", "events"])
    materialized = instance.get_materialized_partitions(events)
    assert materialized == {"2018-09-02", "2018-09-03", "2018-09-04"}


@pytest.mark.integration
def test_a_failed_check_is_reported(instance) -> None:
    result = materialize_all(build_defs(fail_check=True), instance, last_partition="2018-09-02")
    assert not result.success
    assert [k.name for k in result.failed_checks] == ["summary_ok"]


@pytest.mark.integration
def test_up_to_date_skips_what_nothing_changed(instance, tmp_path: Path) -> None:
    from elt.uptodate import UpToDate

    defs = build_defs()
    graph = defs.resolve_asset_graph()
    assert materialize_all(defs, instance, last_partition="2018-09-03").success
    raw_events, stg, inc = (
        dg.AssetKey(["raw", "s", "events"]),
        dg.AssetKey(["staging", "stg"]),
        dg.AssetKey(["marts", "inc"]),
    )
    window = ["2018-09-01", "2018-09-02", "2018-09-03", "2018-09-04"]
    todo = UpToDate(instance, graph)  # no loaded-files record: the never materialized days
    assert todo.partitions([raw_events], window) == ["2018-09-04"]  # the new day only
    assert todo.unpartitioned([stg]) == []  # nothing changed upstream
    # with the loaded-files record: exactly the days of files it does not hold, even one
    # already materialized (a re-published file), and no day without files
    pending = UpToDate(instance, graph, pending={raw_events: {"2018-09-02"}})
    assert pending.partitions([raw_events], window) == ["2018-09-02"]
    # a dlt load that ran no job changed nothing; one that loaded rows did
    todo.record([(dg.AssetKey(["raw", "s", "dim"]), None, {"jobs": []})])
    assert todo.unpartitioned([stg]) == []
    todo.record([(raw_events, "2018-09-04", {"jobs": ["load job"]})])
    assert todo.unpartitioned([stg]) == [stg]
    assert todo.partitions([inc], window) == ["2018-09-04"]
    # changed dbt code rebuilds every partition
    assert UpToDate(instance, graph, rebuild=True).partitions([inc], window) == window


def _tests_mode_defs() -> dg.Definitions:
    import os

    def seen() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"tests": os.environ.get("DBT_INDIRECT_SELECTION")})

    @dg.asset(key=["staging", "first"])
    def first() -> dg.MaterializeResult:
        return seen()

    @dg.asset(key=["marts", "inc"], deps=[first], partitions_def=DAILY, backfill_policy=SINGLE_RUN)
    def inc() -> dg.MaterializeResult:
        return seen()

    @dg.asset(key=["marts", "last"], deps=[inc])
    def last() -> dg.MaterializeResult:
        return seen()

    # a test of `first` that also reads `last` (built two runs later), one of `inc` reading `first`
    @dg.asset_check(asset=first, additional_deps=[last])
    def first_matches_last() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    @dg.asset_check(asset=inc, additional_deps=[first])
    def inc_matches_first() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    return dg.Definitions(
        assets=[first, inc, last], asset_checks=[first_matches_last, inc_matches_first]
    )


def test_dbt_tests_run_eagerly_unless_they_read_a_later_runs_table() -> None:
    graph = _tests_mode_defs().resolve_asset_graph()
    first, inc, last = (
        dg.AssetKey(["staging", "first"]),
        dg.AssetKey(["marts", "inc"]),
        dg.AssetKey(["marts", "last"]),
    )
    assert indirect_selection_for(graph, [first], {inc, last}) == "buildable"
    assert (
        indirect_selection_for(graph, [inc], {last}) == "eager"
    )  # its test reads `first`, built before
    assert indirect_selection_for(graph, [last], set()) == "eager"


@pytest.mark.integration
def test_each_run_gets_its_tests_mode_and_the_callers_value_wins(
    instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBT_INDIRECT_SELECTION", raising=False)
    result = materialize_all(_tests_mode_defs(), instance, last_partition="2018-09-02")
    assert result.success and len(result.runs) == 3
    seen = {key.to_user_string(): meta["tests"].value for key, _, meta in _materializations(result)}
    assert seen == {"staging/first": "buildable", "marts/inc": "eager", "marts/last": "eager"}
    monkeypatch.setenv("DBT_INDIRECT_SELECTION", "cautious")
    result = materialize_all(_tests_mode_defs(), instance, last_partition="2018-09-02")
    seen = {key.to_user_string(): meta["tests"].value for key, _, meta in _materializations(result)}
    assert set(seen.values()) == {"cautious"}


def _materializations(result: MaterializeResult) -> list[tuple[dg.AssetKey, str | None, dict]]:
    return [m for run in result.runs for m in run.materializations]
