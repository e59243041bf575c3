"""The development instance's SQLite storages (orchestration/storage.py): Dagster's layout and
behaviour, with each database's engine kept open. Real SQLite files in a temporary DAGSTER_HOME."""
# no `from __future__ import annotations`: Dagster reads the context annotation

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.partition_status_cache import AssetPartitionStatus
from endpoint_support import patched_environ

from orchestration import storage
from orchestration.instance import DEV_INSTANCE_YAML

DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
RANGE = {
    "dagster/asset_partition_range_start": "2024-01-01",
    "dagster/asset_partition_range_end": "2024-01-31",
}


@dg.multi_asset(
    specs=[dg.AssetSpec("left"), dg.AssetSpec("right")],
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def pair(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    for key in ("left", "right"):
        yield dg.MaterializeResult(asset_key=key, metadata={"days": len(context.partition_keys)})


@dg.asset
def single() -> int:
    return 1


@dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run())
def checked(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset_check(asset=checked)
def checked_is_fine() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


JOB = dg.Definitions(assets=[pair]).resolve_implicit_global_asset_job_def()
SINGLE = dg.Definitions(assets=[single]).resolve_implicit_global_asset_job_def()
CHECKED = dg.Definitions(
    assets=[checked, pair], asset_checks=[checked_is_fine]
).resolve_implicit_global_asset_job_def()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    shutil.copyfile(DEV_INSTANCE_YAML, tmp_path / "dagster.yaml")
    with patched_environ({"DAGSTER_HOME": str(tmp_path)}):
        yield tmp_path


def test_the_dev_instance_uses_the_pooled_storages_in_dagsters_layout(home: Path) -> None:
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, storage.PooledSqliteEventLogStorage)
        assert isinstance(instance.run_storage, storage.PooledSqliteRunStorage)
        result = JOB.execute_in_process(instance=instance, tags=RANGE)
        assert result.success
    assert (home / "history" / "runs.db").is_file()
    assert (home / "history" / "runs" / "index.db").is_file()
    assert (home / "history" / "runs" / f"{result.run_id}.db").is_file()
    assert (home / "schedules").is_dir()  # Dagster's default schedule storage


def test_every_partition_event_is_recorded_and_read_by_another_instance(home: Path) -> None:
    with dg.DagsterInstance.get() as writer:
        run_id = JOB.execute_in_process(instance=writer, tags=RANGE).run_id
    # a second instance (new engines, as the webserver or another run process would have)
    with dg.DagsterInstance.get() as reader:
        assert reader.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        for key in ("left", "right"):
            assert len(reader.get_materialized_partitions(dg.AssetKey(key))) == 31
        planned = reader.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=1000
        ).records
        assert len(planned) == 62


@pytest.mark.parametrize("batch", ["0", None])
def test_batched_and_single_writes_record_the_same(home: Path, batch: str | None) -> None:
    env = {} if batch is None else {storage.EVENT_BATCH: batch}
    with patched_environ(env), dg.DagsterInstance.get() as instance:
        expected_batch = batch or storage.EVENT_BATCH_SIZE
        assert os.environ[storage.EVENT_BATCH] == expected_batch  # a value set beforehand wins
        run_id = JOB.execute_in_process(instance=instance, tags=RANGE).run_id
        records = instance.fetch_materializations(dg.AssetKey("left"), limit=100).records
        assert {r.partition_key for r in records} == set(DAILY.get_partition_keys())
        assert {r.run_id for r in records} == {run_id}
        assert all(r.asset_materialization.metadata["days"].value == 31 for r in records)
        latest = instance.get_latest_materialization_event(dg.AssetKey("right"))
        assert latest is not None and latest.run_id == run_id
        status = instance.get_status_by_partition(
            dg.AssetKey("right"), DAILY.get_partition_keys(), DAILY
        )
        assert set(status.values()) == {AssetPartitionStatus.MATERIALIZED}


def test_a_plan_of_assets_and_checks_is_recorded_as_event_by_event(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run's planned materializations and planned checks come as one batch
    one_by_one: list[str] = []
    store_event = storage.SqliteEventLogStorage.store_event

    def counted(self: Any, event: Any) -> None:
        one_by_one.append(event.dagster_event_type)
        store_event(self, event)

    monkeypatch.setattr(storage.SqliteEventLogStorage, "store_event", counted)
    results = {}
    for batch in ("0", storage.EVENT_BATCH_SIZE):
        one_by_one.clear()
        with patched_environ({storage.EVENT_BATCH: batch}), dg.DagsterInstance.get() as instance:
            run_id = CHECKED.execute_in_process(instance=instance, tags=RANGE).run_id
            planned = instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=1000
            ).records
            check_key = dg.AssetCheckKey(dg.AssetKey("checked"), "checked_is_fine")
            execution = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                [check_key]
            )[check_key]
            latest = instance.get_latest_materialization_event(dg.AssetKey("checked"))
            records = instance.get_asset_records([dg.AssetKey("left"), dg.AssetKey("checked")])
            results[batch] = {
                "planned": sorted((r.asset_key.to_user_string(), r.partition_key) for r in planned),
                "check": (execution.run_id == run_id, execution.status.value),
                "latest": (latest.run_id == run_id, latest.dagster_event.partition),
                "last_run": [r.asset_entry.last_run_id == run_id for r in records],
            }
            planned_alone = [t for t in one_by_one if t and t.endswith("PLANNED")]
            assert len(planned_alone) == (0 if batch != "0" else 3 * 31 + 1)
    assert results["0"] == results[storage.EVENT_BATCH_SIZE]
    assert len(results["0"]["planned"]) == 3 * 31
    assert results["0"]["check"] == (True, "SUCCEEDED")
    assert results["0"]["latest"] == (True, "2024-01-31")
    assert results["0"]["last_run"] == [True, True]


def test_open_run_databases_are_bounded_and_older_runs_stay_readable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "OPEN_RUN_DATABASES", 2)
    with dg.DagsterInstance.get() as instance:
        run_ids = [SINGLE.execute_in_process(instance=instance).run_id for _ in range(4)]
        engines = instance.event_log_storage._engines
        assert len([s for s in engines if s != "index"]) <= 2
        for run_id in run_ids:
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
            steps = instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.STEP_SUCCESS
            ).records
            assert len(steps) == 1


def test_deleting_and_wiping_release_the_files(home: Path) -> None:
    with dg.DagsterInstance.get() as instance:
        first = SINGLE.execute_in_process(instance=instance).run_id
        second = SINGLE.execute_in_process(instance=instance).run_id
        instance.delete_run(first)
        assert instance.get_run_by_id(first) is None
        assert instance.all_logs(first) == []
        assert len(instance.all_logs(second)) > 0
        instance.event_log_storage.wipe()
        assert not (home / "history" / "runs" / f"{second}.db").exists()
        assert instance.all_logs(second) == []
        third = SINGLE.execute_in_process(instance=instance)  # still usable after the wipe
        assert third.success


def test_an_explicit_base_dir_is_used(tmp_path: Path) -> None:
    events = storage.PooledSqliteEventLogStorage(base_dir=str(tmp_path / "events"))
    runs = storage.PooledSqliteRunStorage.from_config_value(
        None, {"base_dir": str(tmp_path / "runs")}
    )
    try:
        assert (tmp_path / "events" / "index.db").is_file()
        assert (tmp_path / "runs" / "runs.db").is_file()
    finally:
        events.dispose()
        runs.dispose()


def test_without_dagster_home_or_base_dir_the_error_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(dg.DagsterInvariantViolationError, match="DAGSTER_HOME or an explicit"):
        storage.PooledSqliteEventLogStorage()


def test_a_table_is_looked_up_until_it_is_there(tmp_path: Path) -> None:
    events = storage.PooledSqliteEventLogStorage(base_dir=str(tmp_path / "events"))
    try:
        assert events.has_table("asset_check_executions")
        assert not events.has_table("no_such_table")
        assert events._tables_seen == {"asset_check_executions"}
    finally:
        events.dispose()


def test_a_home_made_for_development_is_found_whatever_dagster_home_says(
    tmp_path: Path,
) -> None:
    from dagster._core.instance.ref import InstanceRef

    from orchestration.instance import ensure_dagster_home

    home = ensure_dagster_home(tmp_path / "home")
    with patched_environ({"DAGSTER_HOME": str(tmp_path / "elsewhere")}):
        instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
        try:
            run_id = SINGLE.execute_in_process(instance=instance).run_id
        finally:
            instance.dispose()
    assert (home / "history" / "runs" / f"{run_id}.db").is_file()
    assert (home / "history" / "runs.db").is_file()
    assert not (tmp_path / "elsewhere").exists()
