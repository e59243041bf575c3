"""The scale-out switch on the dbt side: the same project parsed for the `cluster` target gets
Replicated* engines everywhere (ReplacingMergeTree -> ReplicatedReplacingMergeTree) and ON CLUSTER
DDL, while the single-server `prod` target keeps plain MergeTree engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from deploy_helpers import REPO

TABLES = {"table", "incremental"}


def parse(target: str, tmp_path: Path) -> dict:
    out = tmp_path / target
    env = {
        **os.environ,
        "CLICKHOUSE_HOST": "clickhouse-01",
        "CLICKHOUSE_CLUSTER": "elt",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "parse",
            "--project-dir", str(REPO / "dbt_project"),
            "--profiles-dir", str(REPO),
            "--target", target,
            "--target-path", str(out),
            "--log-path", str(tmp_path / "logs"),
            "--no-partial-parse",
        ],
        env=env, cwd=REPO, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "manifest.json").read_text())


def engines(manifest: dict) -> dict[str, str]:
    return {
        node["name"]: node["config"].get("engine") or "MergeTree()"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] in TABLES
    }


def test_profile_targets() -> None:
    outputs = yaml.safe_load((REPO / "profiles.yml").read_text())["clickhouse_elt"]["outputs"]
    assert {"prod", "cluster"} <= set(outputs)
    assert "CLICKHOUSE_CLUSTER" in outputs["cluster"]["cluster"]
    for target in ("prod", "cluster"):  # compose's transformer login reaches dbt through these
        assert "CLICKHOUSE_USER" in outputs[target]["user"]
        assert "CLICKHOUSE_PASSWORD" in outputs[target]["password"]


@pytest.mark.integration
@pytest.mark.slow
def test_cluster_target_makes_every_table_replicated(tmp_path: Path) -> None:
    cluster, prod = engines(parse("cluster", tmp_path)), engines(parse("prod", tmp_path))
    assert cluster.keys() == prod.keys() and cluster
    replacing = [name for name, engine in prod.items() if engine.startswith("ReplacingMergeTree")]
    assert replacing, "the marts use ReplacingMergeTree"
    for name, engine in cluster.items():
        assert engine.startswith("Replicated"), (name, engine)
        assert engine == f"Replicated{prod[name]}", (name, engine, prod[name])
    for name in replacing:
        assert cluster[name].startswith("ReplicatedReplacingMergeTree("), name
    assert not any(engine.startswith("Replicated") for engine in prod.values())


def code_server_env(cluster: bool) -> dict[str, str]:
    """The code server's environment as compose resolves it with the .env.example values."""
    from deploy_helpers import env_example, interpolate

    base = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    env = dict(base["services"]["code-server"]["environment"])
    if cluster:
        override = yaml.safe_load((REPO / "docker-compose.cluster.yml").read_text())
        env.update(override["services"]["code-server"]["environment"])
    example = {**env_example(), "CLICKHOUSE_LOADER_PASSWORD": "loader-pw"}
    example["CLICKHOUSE_TRANSFORMER_PASSWORD"] = "transformer-pw"
    return {k: str(v) for k, v in interpolate(env, example).items()}


@pytest.mark.parametrize("cluster", [False, True])
def test_each_tool_connects_as_its_user(
    cluster: bool, monkeypatch: pytest.MonkeyPatch, clean_env
) -> None:
    """With the code server's compose environment: dlt loads as the loader, dbt/Dagster query as
    the transformer, and on the cluster profile dlt/ingestion create Replicated* raw tables."""
    from core import settings as core_settings
    from ingestion.layout import clickhouse_hints, engine_clause
    from ingestion.pipeline import destination, loader_user
    from ingestion.schema import load_schemas

    for key, value in code_server_env(cluster).items():
        monkeypatch.setenv(key, value)
    settings = core_settings.settings().warehouse
    assert (settings.user, settings.password) == ("elt_transformer", "transformer-pw")
    assert (settings.host, settings.http_port, settings.secure) == ("clickhouse", 8123, False)
    assert loader_user() == ("elt_loader", "loader-pw")
    credentials = destination().config_params["credentials"]
    assert (credentials.username, credentials.database) == ("elt_loader", "raw")
    assert bool(settings.cluster) is cluster
    for spec in load_schemas():
        engine = engine_clause(spec, replicated=bool(settings.cluster))
        assert engine.startswith("Replicated") is cluster, (spec.name, engine)
        hint = clickhouse_hints(spec, replicated=bool(settings.cluster))["table_engine_type"]
        assert (hint == "replicated_merge_tree") is cluster, (spec.name, hint)
