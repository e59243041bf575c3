"""The warm run worker: one process that has loaded the code location, forked once per run.

Dagster starts every run in a new interpreter that imports dagster, dbt, dlt and pandas and
builds the definitions again (about 6 s of a 2-core machine's time before the first step).
This process does that once, then serves `orchestration.launcher.WarmRunLauncher`: each line
on stdin is a run to execute (the serialized arguments of `dagster api execute_run`, the
command Dagster's container run launchers start); it forks, the child runs that command with
everything already imported and answers nothing; the parent writes the child's pid as one
JSON line on the reply stream and reaps it when it ends. EOF on stdin ends the process;
running children go on. Like the run processes of Dagster's code server, the children stay in
the process group of whatever started `dg dev`: Ctrl-C there interrupts them too.

    python -m orchestration.run_worker --module orchestration.definitions --attribute defs
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import TextIO

from core.longlived import long_lived


def load(module: str, attribute: str) -> None:
    """Import and build the code location as a run process would (its pointer, this
    directory), so the modules and caches are there before the first fork."""
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    pointer = ModuleCodePointer(module, attribute, working_directory=os.getcwd())
    with long_lived():
        ReconstructableRepository(pointer).get_definition()
        import dagster._cli  # noqa: F401  (the execute_run command, imported once)


def run_child(execute_run_args: str, reply: TextIO) -> None:
    """In the forked child: `dagster api execute_run <args>`; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # dbt and dlt wait for their children
        reply.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        from dagster._cli import main as dagster_cli

        sys.argv = ["dagster", "api", "execute_run", execute_run_args]
        try:
            dagster_cli()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(requests: TextIO, reply: TextIO) -> None:
    """One fork per request line until EOF."""
    for line in requests:
        request = json.loads(line)
        if threading.active_count() != 1:  # fork is safe only from a single-threaded process
            reply.write(json.dumps({"error": "threads running in the warm worker"}) + "\n")
            continue
        pid = os.fork()
        if pid == 0:
            run_child(request["execute_run_args"], reply)
        reply.write(json.dumps({"run_id": request["run_id"], "pid": pid}) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestration.run_worker")
    parser.add_argument("--module", required=True, help="the code location's module")
    parser.add_argument("--attribute", required=True, help="its Definitions (or loader)")
    args = parser.parse_args(argv)

    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what the code and the runs print goes where this worker's errors go
    started = time.monotonic()
    try:
        try:
            load(args.module, args.attribute)
        except Exception:
            reply.write(json.dumps({"error": traceback.format_exc()}) + "\n")
            raise SystemExit(1) from None
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished children
        ready = {"ready": True, "pid": os.getpid(), "load_seconds": time.monotonic() - started}
        reply.write(json.dumps(ready) + "\n")
        serve(sys.stdin, reply)
    except KeyboardInterrupt:  # Ctrl-C of `dg dev`: its runs get it too; end quietly
        pass


if __name__ == "__main__":
    main()
