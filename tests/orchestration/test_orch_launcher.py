"""The warm run launcher on a real instance and a real code server (a fixture code location):
runs forked from the warm worker, cancelled by SIGINT, and started the default way once the
code location was reloaded."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget

from orchestration.launcher import PID_TAG, WarmRunLauncher

pytestmark = pytest.mark.integration  # a code server process and forked run processes

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.fixtures.code_locations.warm_location"
LOCATION = "warm"
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    launcher = {
        "module": "orchestration.launcher",
        "class": "WarmRunLauncher",
        "config": {"module": MODULE, "attribute": "defs"},
    }
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides={"run_launcher": launcher}) as i:
        yield i


@pytest.fixture
def workspace(instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    target = ModuleTarget(
        module_name=MODULE,
        attribute="defs",
        working_directory=os.getcwd(),
        location_name=LOCATION,
    )
    with WorkspaceProcessContext(instance, target) as context:
        yield context


def _launch(instance: dg.DagsterInstance, workspace: WorkspaceProcessContext, job: str) -> str:
    from tests.fixtures.code_locations.warm_location import defs

    request = workspace.create_request_context()
    location = request.get_code_location(LOCATION)
    remote_job = location.get_repository("__repository__").get_full_job(job)
    run = instance.create_run_for_job(
        job_def=defs.resolve_job_def(job),
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
    )
    instance.launch_run(run.run_id, request)
    return run.run_id


def _wait(instance: dg.DagsterInstance, run_id: str, *statuses: Any, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in statuses:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} not {statuses} in {timeout} s: {run and run.status}")


def _where_it_ran(instance: dg.DagsterInstance) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(dg.AssetKey("where_it_ran"))
    assert event is not None and event.asset_materialization is not None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_runs_fork_from_the_warm_worker(instance: dg.DagsterInstance, workspace) -> None:
    launcher = instance.run_launcher
    assert isinstance(launcher, WarmRunLauncher)
    worker = launcher.warm_up().ready()  # the code location loaded before any run

    launched_at = time.time()
    first = _launch(instance, workspace, "where_it_ran_job")
    run = _wait(instance, first, *FINISHED)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    seen = _where_it_ran(instance)
    assert seen["ppid"] == worker["pid"]  # a child of the warm worker
    assert str(seen["pid"]) == run.tags[PID_TAG]
    assert seen["imported_at"] < launched_at  # the code location was imported before the launch
    messages = [
        e.message for e in instance.all_logs(first, of_type=dg.DagsterEventType.ENGINE_EVENT)
    ]
    assert any("forked from the warm run worker" in m for m in messages), messages

    # two more at once: both forked from the same worker, both succeed
    runs = [_launch(instance, workspace, "where_it_ran_job") for _ in range(2)]
    finished = [_wait(instance, r, dg.DagsterRunStatus.SUCCESS) for r in runs]
    assert len({r.tags[PID_TAG] for r in finished}) == 2


def test_cancel_a_forked_run(instance: dg.DagsterInstance, workspace) -> None:
    run_id = _launch(instance, workspace, "waits_job")
    run = _wait(instance, run_id, dg.DagsterRunStatus.STARTED)
    assert PID_TAG in run.tags
    _wait_for_step(instance, run_id)
    assert instance.run_launcher.terminate(run_id) is True
    assert _wait(instance, run_id, dg.DagsterRunStatus.CANCELED).status.value == "CANCELED"


def _wait_for_step(instance: dg.DagsterInstance, run_id: str) -> None:
    deadline = time.monotonic() + 60
    while not instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.2)


def test_a_reloaded_code_location_runs_the_default_way(
    instance: dg.DagsterInstance, workspace: WorkspaceProcessContext
) -> None:
    launcher = instance.run_launcher
    assert isinstance(launcher, WarmRunLauncher)
    first_worker = launcher.warm_up().ready()
    _wait(instance, _launch(instance, workspace, "where_it_ran_job"), dg.DagsterRunStatus.SUCCESS)

    workspace.reload_code_location(LOCATION)  # a new code server: the worker's code is stale
    stale = _launch(instance, workspace, "where_it_ran_job")
    run = _wait(instance, stale, *FINISHED)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert PID_TAG not in run.tags  # started by the code server, as DefaultRunLauncher does
    assert _where_it_ran(instance)["ppid"] != first_worker["pid"]

    # a new worker took the old one's place, for the runs after
    deadline = time.monotonic() + 120
    while launcher.warm_up().ready()["pid"] == first_worker["pid"]:
        assert time.monotonic() < deadline, "the stale worker was not replaced"
        time.sleep(0.5)


def test_a_dead_worker_is_replaced(instance: dg.DagsterInstance, workspace) -> None:
    launcher = instance.run_launcher
    assert isinstance(launcher, WarmRunLauncher)
    dead = launcher.warm_up()
    os.kill(dead.ready()["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while dead.alive:
        assert time.monotonic() < deadline, "the killed worker is still alive"
        time.sleep(0.1)

    run = _wait(instance, _launch(instance, workspace, "where_it_ran_job"), *FINISHED)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    replacement = launcher.warm_up()
    assert replacement is not dead
    assert _where_it_ran(instance)["ppid"] == replacement.ready()["pid"]
