"""The endpoint's settings, read from the environment variables the platform documents.

`CLICKHOUSE_HOST/HTTP_PORT/TCP_PORT/USER/PASSWORD/SECURE` say where the endpoint listens (and
where `get_client` connects); `ELT_WAREHOUSE_DIR` (default `$ELT_HOME/warehouse`, `ELT_HOME`
default `.local` in the working directory) is its data directory.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EndpointSettings(BaseSettings):
    """Where the local endpoint listens and keeps its data (port 0 = any free port)."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = Field(default="127.0.0.1", validation_alias="CLICKHOUSE_HOST")
    http_port: int = Field(default=8123, ge=0, le=65535, validation_alias="CLICKHOUSE_HTTP_PORT")
    tcp_port: int = Field(default=9000, ge=0, le=65535, validation_alias="CLICKHOUSE_TCP_PORT")
    user: str = Field(default="default", validation_alias="CLICKHOUSE_USER")
    password: str = Field(default="", validation_alias="CLICKHOUSE_PASSWORD")
    secure: bool = Field(default=False, validation_alias="CLICKHOUSE_SECURE")
    home: Path = Field(default=Path(".local"), validation_alias="ELT_HOME")
    warehouse_dir: Path | None = Field(default=None, validation_alias="ELT_WAREHOUSE_DIR")

    @property
    def data_dir(self) -> Path:
        """The data directory, absolute."""
        return (self.warehouse_dir or self.home / "warehouse").resolve()
