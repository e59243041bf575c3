"""Every setting of the platform and its default, read from the environment in one place.

`settings()` builds a fresh `Settings` on each call (so a changed environment is seen) and never
writes to `os.environ`. Pointing the project at a real ClickHouse server is a matter of
configuration only (see `.env.example`).
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.identifiers import validate_identifier

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class WarehouseSettings(BaseSettings):
    """How clients reach ClickHouse (the local endpoint by default)."""

    model_config = SettingsConfigDict(env_prefix="CLICKHOUSE_", extra="ignore")

    host: str = "127.0.0.1"
    http_port: int = Field(default=8123, ge=1, le=65535)
    tcp_port: int = Field(default=9000, ge=1, le=65535)
    user: str = "default"
    password: str = Field(default="", repr=False)
    secure: bool = False
    raw_database: str = "raw"
    cluster: str = ""
    # production's loader user may write only `raw`; unset: dlt loads as `user`
    loader_user: str = ""
    loader_password: str = Field(default="", repr=False)

    @field_validator("raw_database")
    @classmethod
    def _identifier(cls, value: str) -> str:
        return validate_identifier(value, field="CLICKHOUSE_RAW_DATABASE")

    @cached_property
    def http_url(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.host}:{self.http_port}"

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS

    @property
    def loader_credentials(self) -> tuple[str, str]:
        """(user, password) dlt loads with: CLICKHOUSE_LOADER_USER/PASSWORD when the user is set,
        else CLICKHOUSE_USER/PASSWORD."""
        if self.loader_user:
            return self.loader_user, self.loader_password
        return self.user, self.password


class LocalPaths(BaseSettings):
    """Where the embedded default keeps its state (all git-ignored under `.local/`)."""

    model_config = SettingsConfigDict(env_prefix="ELT_", extra="ignore")

    home: Path = PROJECT_ROOT / ".local"
    warehouse_dir: Path | None = None
    landing_dir: Path | None = None
    dlt_dir: Path | None = None
    jafgen_cache: Path | None = None
    dagster_home: Path | None = Field(default=None, validation_alias="DAGSTER_HOME")

    def model_post_init(self, __context: object) -> None:
        self.warehouse_dir = self.warehouse_dir or self.home / "warehouse"
        self.landing_dir = self.landing_dir or self.home / "landing"
        self.dlt_dir = self.dlt_dir or self.home / "dlt"
        self.jafgen_cache = self.jafgen_cache or self.home / "cache" / "jafgen"
        self.dagster_home = self.dagster_home or self.home / "dagster"


class ProjectPaths(BaseSettings):
    """Where the platform finds its inputs: the dbt project, its profiles, the schema YAMLs."""

    model_config = SettingsConfigDict(env_prefix="ELT_", extra="ignore")

    dbt_project_dir: Path = PROJECT_ROOT / "dbt_project"
    dbt_profiles_dir: Path = Field(default=PROJECT_ROOT, validation_alias="DBT_PROFILES_DIR")
    schemas_dir: Path = PROJECT_ROOT / "ingestion" / "schemas"
    # where `make dbt-docs` serves the dbt docs; each dbt asset links to its page there
    dbt_docs_url: str = "http://127.0.0.1:8080"


class RunSettings(BaseSettings):
    """How local runs behave (demo, `elt dev`, dlt progress output)."""

    model_config = SettingsConfigDict(env_prefix="ELT_", extra="ignore")

    # last daily partition (exclusive); unset: today
    partitions_end_date: dt.date | None = None
    dev_port: int = Field(default=3000, ge=1, le=65535)
    dagster_autostart: bool = True
    dlt_progress: bool = False

    @field_validator("partitions_end_date", mode="before")
    @classmethod
    def _day(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"ELT_PARTITIONS_END_DATE={value!r}: expected a date YYYY-MM-DD"
            ) from None


class S3Settings(BaseSettings):
    """Credentials and endpoint for `s3://` file globs (the AWS CLI's variables)."""

    model_config = SettingsConfigDict(env_prefix="AWS_", extra="ignore")

    endpoint_url_s3: str = ""
    endpoint_url: str = ""  # any S3-compatible server (MinIO, moto)
    access_key_id: str = ""
    secret_access_key: str = Field(default="", repr=False)
    profile: str = ""
    default_region: str = ""


class Settings:
    """The one settings object. Each section reads its environment variables when first used,
    so a caller pays only for (and is only stopped by a bad value in) the sections it reads."""

    @cached_property
    def warehouse(self) -> WarehouseSettings:
        return WarehouseSettings()

    @cached_property
    def paths(self) -> LocalPaths:
        return LocalPaths()

    @cached_property
    def project(self) -> ProjectPaths:
        return ProjectPaths()

    @cached_property
    def run(self) -> RunSettings:
        return RunSettings()

    @cached_property
    def s3(self) -> S3Settings:
        return S3Settings()


def settings() -> Settings:
    """The settings as the environment says now."""
    return Settings()
