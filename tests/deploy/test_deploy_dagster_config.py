"""deploy/dagster.yaml, deploy/dagster.cluster.yaml and deploy/workspace.yaml against Dagster's own
config schemas, and as real instances on Postgres."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.workspace.config_schema import ensure_workspace_config
from dagster_docker import DockerRunLauncher
from deploy_helpers import DEPLOY, dagster_env

FILES = ("dagster.yaml", "dagster.cluster.yaml")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / name).read_text())


def instance_dir(tmp_path: Path, name: str) -> Path:
    home = tmp_path / name.replace(".", "_")
    home.mkdir()
    shutil.copy(DEPLOY / name, home / "dagster.yaml")
    return home


@pytest.fixture
def instance_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    env = dagster_env("postgresql://dagster@db.invalid:5432/dagster", tmp_path, max_runs=3)
    env["DAGSTER_DOCKER_NETWORK"] = "elt"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.mark.parametrize("name", FILES)
def test_instance_config_is_valid(name: str, tmp_path: Path, instance_env) -> None:
    config, _ = dagster_instance_config(str(instance_dir(tmp_path, name)))
    pg = config["storage"]["postgres"]["postgres_db"]
    # every connection setting is an environment reference, resolved when the instance starts
    assert pg == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
        "scheme": "postgresql+psycopg2",
    }
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_retries"]["enabled"] and config["run_retries"]["max_retries"] >= 1
    assert config["run_monitoring"]["enabled"]
    assert config["compute_logs"]["class"] == "LocalComputeLogManager"
    assert config["telemetry"] == {"enabled": False}


@pytest.mark.parametrize("name", FILES)
def test_class_configs_match_their_schemas(name: str, instance_env) -> None:
    config = load(name)
    coordinator = process_config(
        QueuedRunCoordinator.config_type(), config["run_coordinator"]["config"]
    )
    assert coordinator.success, coordinator.errors
    assert coordinator.value["max_concurrent_runs"] == 3  # from DAGSTER_MAX_CONCURRENT_RUNS
    assert {t["key"] for t in coordinator.value["tag_concurrency_limits"]} == {
        "elt/kind",
        "elt/warehouse",
    }
    launcher = config["run_launcher"]
    if name == "dagster.cluster.yaml":
        assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
        result = process_config(DockerRunLauncher.config_type(), launcher["config"])
        assert result.success, result.errors
        assert result.value["network"] == "elt"
        assert result.value["container_kwargs"]["auto_remove"] is True
    else:
        assert launcher["class"] == "DefaultRunLauncher"


def test_cluster_file_differs_only_in_the_run_launcher() -> None:
    base, cluster = load("dagster.yaml"), load("dagster.cluster.yaml")
    assert base.keys() == cluster.keys()
    for key in base:
        if key != "run_launcher":
            assert base[key] == cluster[key], key
    assert base["run_launcher"] != cluster["run_launcher"]


def test_workspace_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_CODE_SERVER_HOST", "code-server")
    monkeypatch.setenv("DAGSTER_CODE_SERVER_PORT", "4000")
    workspace = ensure_workspace_config(load("workspace.yaml"), str(DEPLOY / "workspace.yaml"))
    (entry,) = workspace["load_from"]
    assert entry["grpc_server"]["location_name"] == "elt"


@pytest.mark.integration
@pytest.mark.parametrize("name", FILES)
def test_instances_start_on_postgres(
    name: str, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both files build a working instance on a real Postgres (schema created, queue, launcher);
    the Docker launcher needs no Docker engine until it launches a run."""
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter

    env = dagster_env(postgres_url, tmp_path)
    env["DAGSTER_DOCKER_NETWORK"] = "elt"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    instance = DagsterInstance.from_config(str(instance_dir(tmp_path, name)))
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        expected = "DockerRunLauncher" if "cluster" in name else "DefaultRunLauncher"
        assert type(instance.run_launcher).__name__ == expected
        assert instance.run_retries_enabled and instance.run_monitoring_enabled
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED])) == 0
    finally:
        instance.dispose()
