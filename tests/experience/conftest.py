"""Fixtures of the experience tests: an isolated project environment for `elt` subprocesses."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# A small demo window keeps the end-to-end tests short (the default is one simulated year).
DEMO_YEARS = "1"
DEMO_UNTIL = "2018-09-04"


def free_ports(count: int) -> list[int]:
    """Ports the OS reports free on 127.0.0.1 (bound together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


@dataclass
class Project:
    """A copy of the project's configuration (schemas, dbt project) with its own local state."""

    root: Path
    env: dict[str, str]

    @property
    def home(self) -> Path:
        return Path(self.env["ELT_HOME"])

    @property
    def dbt_project_dir(self) -> Path:
        return Path(self.env["ELT_DBT_PROJECT_DIR"])

    @property
    def schemas_dir(self) -> Path:
        return Path(self.env["ELT_SCHEMAS_DIR"])

    @property
    def dagster_home(self) -> Path:
        return Path(self.env["DAGSTER_HOME"])

    def elt(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return self.run(str(BIN / "elt"), *args, timeout=timeout)

    def run(self, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def client(self):
        import clickhouse_connect

        return clickhouse_connect.get_client(
            host="127.0.0.1", port=int(self.env["CLICKHOUSE_HTTP_PORT"]), username="default"
        )


@pytest.fixture(scope="session")
def jafgen_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """jafgen output shared by every experience test of the session."""
    return tmp_path_factory.mktemp("jafgen-cache")


def make_project(base: Path, jafgen_cache: Path) -> Project:
    root = base / "project"
    shutil.copytree(
        ROOT / "dbt_project",
        root / "dbt_project",
        ignore=shutil.ignore_patterns("target", "dbt_packages", "logs"),
    )
    shutil.copytree(ROOT / "ingestion" / "schemas", root / "schemas")
    home = base / "local"
    http_port, tcp_port = free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKHOUSE_", "ELT_"))}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "ELT_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster"),
            "ELT_JAFGEN_CACHE": str(jafgen_cache),
            "ELT_DBT_PROJECT_DIR": str(root / "dbt_project"),
            "ELT_SCHEMAS_DIR": str(root / "schemas"),
            "ELT_DAGSTER_AUTOSTART": "0",
            "ELT_DEMO_YEARS": DEMO_YEARS,
            "ELT_DEMO_UNTIL": DEMO_UNTIL,
            "CLICKHOUSE_HOST": "127.0.0.1",
            "CLICKHOUSE_HTTP_PORT": str(http_port),
            "CLICKHOUSE_TCP_PORT": str(tcp_port),
            "DBT_PROFILES_DIR": str(ROOT),
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
    )
    return Project(root=root, env=env)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, jafgen_cache: Path) -> Iterator[Project]:
    """An isolated project; the endpoint `elt` starts in it is stopped afterwards."""
    proj = make_project(tmp_path_factory.mktemp("exp"), jafgen_cache)
    try:
        yield proj
    finally:
        from warehouse.lifecycle import stop

        stop(proj.home / "warehouse")
