"""The one settings object: read from the environment on each call, never written back."""

from __future__ import annotations

import os
from pathlib import Path

import dlt
import pytest
from pydantic import ValidationError

from core.identifiers import InvalidIdentifierError, quote_identifier
from core.settings import PROJECT_ROOT, settings
from ingestion.destination import make_pipeline


def test_defaults_target_the_local_endpoint_and_the_repository(monkeypatch) -> None:
    for name in ("CLICKHOUSE_HOST", "CLICKHOUSE_HTTP_PORT", "ELT_HOME", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    config = settings()
    assert (config.warehouse.host, config.warehouse.http_port) == ("127.0.0.1", 8123)
    assert config.warehouse.is_loopback
    assert config.paths.dagster_home == PROJECT_ROOT / ".local" / "dagster"
    assert config.project.dbt_project_dir == PROJECT_ROOT / "dbt_project"


def test_each_call_sees_the_environment_as_it_is_now(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ELT_HOME", str(tmp_path))
    monkeypatch.delenv("ELT_LANDING_DIR", raising=False)
    assert settings().paths.landing_dir == tmp_path / "landing"
    monkeypatch.setenv("ELT_LANDING_DIR", str(tmp_path / "elsewhere"))
    assert settings().paths.landing_dir == tmp_path / "elsewhere"


def test_passwords_stay_out_of_the_repr(monkeypatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret-key")
    config = settings()
    assert config.warehouse.password == "s3cret-pw"
    assert "s3cret" not in repr(config.warehouse) + repr(config.s3)


def test_bad_values_name_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("ELT_PARTITIONS_END_DATE", "tomorrow")
    with pytest.raises(ValidationError, match="ELT_PARTITIONS_END_DATE='tomorrow'"):
        _ = settings().run
    monkeypatch.setenv("CLICKHOUSE_RAW_DATABASE", "raw; drop")
    with pytest.raises(ValidationError, match="CLICKHOUSE_RAW_DATABASE"):
        _ = settings().warehouse
    with pytest.raises(InvalidIdentifierError, match="table"):
        quote_identifier("a`b", field="table")


def test_building_a_pipeline_leaves_os_environ_alone(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "INFO")  # the user's own dlt setting
    before = dict(os.environ)
    pipeline = make_pipeline("core_settings", pipelines_dir=tmp_path)
    assert dict(os.environ) == before
    assert dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] is True
    assert dlt.config["runtime.log_level"] == "INFO"  # environment variables still win
    assert pipeline.pipelines_dir == str(tmp_path)
