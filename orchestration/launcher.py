"""Runs started from a warm worker (`orchestration.run_worker`) instead of a new interpreter.

`WarmRunLauncher` is Dagster's `DefaultRunLauncher` for every run but those of the code
location its warm worker has loaded: those it hands to the worker, which forks and runs
`dagster api execute_run` with the code location already imported and built. Runs of other
code locations, or from another interpreter or directory, go the default way; so does a run
whose code location was reloaded since the worker was bound to it (the worker is replaced in
the background). Cancelling a forked run sends it SIGINT, as Dagster's code server does to
the run processes it started.

`WarmingQueuedRunCoordinator` is Dagster's `QueuedRunCoordinator`; when the daemon reads its
dequeue interval (once, as it starts the run queue) it warms the launcher's worker, so the
first run launched from the UI is a warm one too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any, Self

from dagster import DefaultRunLauncher, Field, QueuedRunCoordinator
from dagster._core.launcher import LaunchRunContext
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClassData, serialize_value

PID_TAG = "orchestration/run_worker_pid"
DEFAULT_MODULE = "orchestration.definitions"
DEFAULT_ATTRIBUTE = "defs"


class WarmWorker:
    """One `orchestration.run_worker` process and the code location server it serves."""

    def __init__(self, module: str, attribute: str) -> None:
        self.server_id: str | None = None  # bound at its first run
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [
                *(sys.executable, "-m", "orchestration.run_worker"),
                *("--module", module, "--attribute", attribute),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._ready: dict[str, Any] | None = None

    def _read(self) -> dict[str, Any]:
        stdout = self._process.stdout
        line = stdout.readline() if stdout is not None else ""
        if not line:
            raise RuntimeError(f"warm run worker exited (code {self._process.poll()})")
        message = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"warm run worker: {message['error']}")
        return message

    def ready(self) -> dict[str, Any]:
        """Wait until the code location is loaded; its pid and load time."""
        with self._lock:
            if self._ready is None:
                self._ready = self._read()
            return self._ready

    def fork_run(self, run_id: str, execute_run_args: str) -> int:
        """Fork a run process for this run; its pid."""
        self.ready()
        with self._lock:
            stdin = self._process.stdin
            assert stdin is not None
            request = {"run_id": run_id, "execute_run_args": execute_run_args}
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            return int(self._read()["pid"])

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """EOF to the worker: it ends; runs it forked go on."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


class WarmRunLauncher(DefaultRunLauncher):
    """Dagster's default run launcher, with this code location's runs forked warm."""

    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        module: str = DEFAULT_MODULE,
        attribute: str = DEFAULT_ATTRIBUTE,
    ) -> None:
        super().__init__(inst_data=inst_data)
        self._module, self._attribute = module, attribute
        self._worker: WarmWorker | None = None
        self._worker_lock = threading.Lock()

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "module": Field(str, is_required=False, default_value=DEFAULT_MODULE),
            "attribute": Field(str, is_required=False, default_value=DEFAULT_ATTRIBUTE),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(inst_data=inst_data, **config_value)

    def serves(self, run_origin: Any) -> bool:
        """Whether a run of this origin is of the code location the worker loads."""
        pointer = run_origin.repository_origin.code_pointer
        return (
            getattr(pointer, "module", None) == self._module
            and getattr(pointer, "fn_name", getattr(pointer, "attribute", None)) == self._attribute
            and os.path.realpath(pointer.working_directory or "") == os.path.realpath(os.getcwd())
            and os.path.realpath(run_origin.executable_path or "")
            == os.path.realpath(sys.executable)
        )

    def warm_up(self) -> WarmWorker:
        """The warm worker, started if there is none (it loads in the background)."""
        with self._worker_lock:
            if self._worker is None or not self._worker.alive:
                self._worker = WarmWorker(self._module, self._attribute)
            return self._worker

    def _replace_worker(self, stale: WarmWorker) -> None:
        with self._worker_lock:
            if self._worker is stale:
                self._worker = None
        stale.stop()
        self.warm_up()

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if context.workspace is None or origin is None or not self.serves(origin):
            return super().launch_run(context)
        worker = self.warm_up()
        location_name = run.remote_job_origin.repository_origin.code_location_origin.location_name
        location = context.workspace.get_code_location(location_name)
        server_id = getattr(location, "server_id", None)
        if worker.server_id is None:
            worker.server_id = server_id
        elif worker.server_id != server_id:  # the code location was reloaded
            threading.Thread(target=self._replace_worker, args=(worker,), daemon=True).start()
            return super().launch_run(context)

        args = ExecuteRunArgs(
            job_origin=origin, run_id=run.run_id, instance_ref=self._instance.get_ref()
        )
        try:
            pid = worker.fork_run(run.run_id, serialize_value(args))
        except (RuntimeError, OSError, ValueError) as error:  # the worker failed or died
            self._instance.report_engine_event(
                f"Warm run worker unavailable ({error}); starting the run the default way.",
                run,
                cls=self.__class__,
            )
            threading.Thread(target=self._replace_worker, args=(worker,), daemon=True).start()
            return super().launch_run(context)
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(pid)})
        loaded = worker.ready()
        self._instance.report_engine_event(
            f"Run process {pid} forked from the warm run worker (pid {loaded['pid']},"
            f" code location loaded in {loaded['load_seconds']:.1f} s).",
            run,
            cls=self.__class__,
        )

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or PID_TAG not in run.tags:
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        try:
            os.kill(int(run.tags[PID_TAG]), signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        with self._worker_lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()
        super().dispose()


class WarmingQueuedRunCoordinator(QueuedRunCoordinator):
    """Dagster's run queue; the daemon starting it warms the launcher's worker."""

    @property
    def dequeue_interval_seconds(self) -> int:
        launcher = self._instance.run_launcher
        if isinstance(launcher, WarmRunLauncher):
            launcher.warm_up()
        return super().dequeue_interval_seconds
