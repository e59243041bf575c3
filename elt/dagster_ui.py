"""A running Dagster UI, from the outside: start a webserver command (`dg dev`) in a process
group of its own, wait until its code location has loaded, send GraphQL requests, stop the whole
group. Used by the tests and the orchestration benchmark, which drive the UI as a user's browser
does."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPOSITORIES = """
query { repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }
"""


class DagsterUIError(RuntimeError):
    """The UI answered with GraphQL errors, exited, or did not come up in time."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def graphql(
    url: str, document: str, variables: Mapping[str, Any] | None = None, timeout: float = 120
) -> dict[str, Any]:
    """The `data` of one GraphQL request to the webserver at `url` (http or https)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    body = json.dumps({"query": document, "variables": dict(variables or {})}).encode()
    request = urllib.request.Request(  # noqa: S310 (http/https, checked above)
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        payload = json.loads(response.read())
    if payload.get("errors"):
        raise DagsterUIError(f"GraphQL errors from {url}: {payload['errors']}")
    return payload["data"]


@contextlib.contextmanager
def serving(
    command: Sequence[str],
    url: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    timeout: float = 300,
) -> Iterator[list[dict[str, Any]]]:
    """Run `command` (a webserver answering at `url`) until the block ends; yields the code
    location's repositories once they have loaded. Stopped with SIGINT to its process group,
    then SIGKILL."""
    with log_path.open("a") as log:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield _wait_for_repositories(process, url, log_path, timeout)
        finally:
            _stop_group(process)


def _wait_for_repositories(
    process: subprocess.Popen, url: str, log_path: Path, timeout: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise DagsterUIError(f"the webserver exited ({process.returncode}); see {log_path}")
        with contextlib.suppress(OSError):
            nodes = graphql(url, REPOSITORIES, timeout=30)["repositoriesOrError"].get("nodes")
            if nodes:
                return nodes
        if time.monotonic() > deadline:
            raise DagsterUIError(f"no code location at {url} after {timeout:.0f} s; see {log_path}")
        time.sleep(0.5)


def _stop_group(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGINT, 60), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
