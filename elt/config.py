"""Connection settings shared by dlt, dbt and Dagster, read once from the environment.

Every tool reads the same variables, so pointing the project at a real ClickHouse
server is a matter of configuration only (see `.env.example`).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class WarehouseSettings(BaseSettings):
    """How clients reach ClickHouse (the local endpoint by default)."""

    model_config = SettingsConfigDict(env_prefix="CLICKHOUSE_", extra="ignore")

    host: str = "127.0.0.1"
    http_port: int = Field(default=8123, ge=1, le=65535)
    tcp_port: int = Field(default=9000, ge=1, le=65535)
    user: str = "default"
    password: str = ""
    secure: bool = False
    raw_database: str = "raw"
    cluster: str = ""

    @field_validator("raw_database")
    @classmethod
    def _identifier(cls, value: str) -> str:
        from elt.identifiers import validate_identifier

        return validate_identifier(value, field="CLICKHOUSE_RAW_DATABASE")

    @cached_property
    def http_url(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.host}:{self.http_port}"


class LocalPaths(BaseSettings):
    """Where the embedded default keeps its state (all git-ignored under `.local/`)."""

    model_config = SettingsConfigDict(env_prefix="ELT_", extra="ignore")

    home: Path = PROJECT_ROOT / ".local"
    warehouse_dir: Path | None = None
    landing_dir: Path | None = None
    dlt_dir: Path | None = None

    def model_post_init(self, __context: object) -> None:
        self.warehouse_dir = self.warehouse_dir or self.home / "warehouse"
        self.landing_dir = self.landing_dir or self.home / "landing"
        self.dlt_dir = self.dlt_dir or self.home / "dlt"


def warehouse_settings() -> WarehouseSettings:
    return WarehouseSettings()


def local_paths() -> LocalPaths:
    return LocalPaths()


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", str(local_paths().home / "dagster")))
