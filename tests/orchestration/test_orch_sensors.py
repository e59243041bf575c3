"""The landing-file sensor (one run per new file set, never twice) and the run-failure report."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.automation.failures import (
    FAILED_ASSETS_TAG,
    failed_assets,
    report_failed_assets,
)

pytestmark = pytest.mark.example  # uses the shipped Jaffle Shop example


@pytest.fixture
def landing_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    landing = tmp_path / "landing"
    monkeypatch.setenv("ELT_LANDING_DIR", str(landing))
    return landing


def _tick(repo: dg.RepositoryDefinition, instance: dg.DagsterInstance, cursor: str | None):
    sensor = repo.get_sensor_def("jaffle_shop_landing_sensor")
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=repo)
    return sensor.evaluate_tick(context)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_landing_sensor_one_run_per_new_file_set(
    repo: dg.RepositoryDefinition, landing_dir: Path, warehouse: object
) -> None:
    """Nothing is loaded (the sensor reads the loaded-files record from the warehouse): every
    landed file is new once, and the cursor keeps a requested file from a second request."""
    with dg.instance_for_test() as instance:
        first = _tick(repo, instance, None)
        assert first.run_requests == []

        _write(landing_dir / "jaffle_shop/orders/2018-09-05.csv", "id\n1\n")
        second = _tick(repo, instance, first.cursor)
        assert len(second.run_requests) == 1
        request = second.run_requests[0]
        assert request.job_name == "ingest_jaffle_shop_daily"
        assert request.partition_key == "2018-09-05"
        assert request.asset_selection == [dg.AssetKey(["raw", "jaffle_shop", "orders"])]

        # next tick, same files: nothing
        third = _tick(repo, instance, second.cursor)
        assert third.run_requests == []

        # a new file of an unpartitioned table and the next day's orders and items
        _write(landing_dir / "jaffle_shop/customers/customers.csv", "id,name\n1,a\n")
        _write(landing_dir / "jaffle_shop/orders/2018-09-06.csv", "id\n2\n")
        _write(landing_dir / "jaffle_shop/items/2018-09-06.csv", "id\n3\n")
        fourth = _tick(repo, instance, third.cursor)
        by_job = {(r.job_name, r.partition_key): r for r in fourth.run_requests}
        assert set(by_job) == {
            ("ingest_jaffle_shop_daily", "2018-09-06"),
            ("ingest_jaffle_shop", None),
        }
        assert set(by_job[("ingest_jaffle_shop_daily", "2018-09-06")].asset_selection) == {
            dg.AssetKey(["raw", "jaffle_shop", "orders"]),
            dg.AssetKey(["raw", "jaffle_shop", "items"]),
        }
        assert _tick(repo, instance, fourth.cursor).run_requests == []
        # run keys differ per file set, so the daemon would never launch one twice
        keys = [r.run_key for r in second.run_requests + fourth.run_requests]
        assert len(set(keys)) == len(keys)


@dg.asset
def good_asset() -> int:
    return 1


@dg.asset(deps=[good_asset])
def bad_asset() -> None:
    raise ValueError("boom: the warehouse said no")


def test_run_failure_sensor_reports_failed_assets() -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize([good_asset, bad_asset], instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        assert failed_assets(instance, run.run_id) == [dg.AssetKey("bad_asset")]

        context = dg.build_run_status_sensor_context(
            sensor_name="report_failed_assets",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=next(
                r.dagster_event
                for r in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            ),
        ).for_run_failure()
        report_failed_assets(context)

        tags = instance.get_run_by_id(run.run_id).tags
        assert tags[FAILED_ASSETS_TAG] == "bad_asset"
        observations = instance.fetch_observations(dg.AssetKey("bad_asset"), limit=1).records
        metadata = observations[0].asset_observation.metadata
        assert metadata["failed_run_id"].value == run.run_id
        assert "boom: the warehouse said no" in metadata["error"].value
