"""Shared fixtures of the deployment tests: the repo's deploy files, parsed once."""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml
from deploy_helpers import REPO, env_example


@pytest.fixture(scope="session")
def compose_text() -> dict[str, str]:
    return {
        name: (REPO / name).read_text()
        for name in ("docker-compose.yml", "docker-compose.cluster.yml")
    }


@pytest.fixture(scope="session")
def compose(compose_text: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name: yaml.safe_load(text) for name, text in compose_text.items()}


@pytest.fixture(scope="session")
def example_env() -> dict[str, str]:
    return env_example()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CLICKHOUSE_*/DAGSTER_PG_* values leak from the session into a test."""
    for key in list(os.environ):
        if key.startswith(("CLICKHOUSE_", "DAGSTER_PG_")):
            monkeypatch.delenv(key)
