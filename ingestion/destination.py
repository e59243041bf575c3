"""Where dlt loads: the ClickHouse destination, its loader user, and the project's pipelines.

Light on purpose (dlt and settings only, no row-processing imports): the Dagster code location
builds a pipeline at load time to derive the asset specs.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import dlt
from dlt.destinations.impl.clickhouse.configuration import ClickHouseCredentials

from elt.config import local_paths, warehouse_settings

Window = tuple[dt.datetime, dt.datetime]

RUN_KWARGS: dict[str, Any] = {"loader_file_format": "parquet"}

# dlt settings every pipeline of this project uses (arrow rows get the dlt columns of CONTRACTS)
_DLT_ENV = {
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID": "false",
    "RUNTIME__LOG_LEVEL": os.environ.get("RUNTIME__LOG_LEVEL", "WARNING"),
    # state lives in ELT_DLT_DIR (persistent); skipping the restore saves seconds per run
    "RESTORE_FROM_DESTINATION": "false",
}


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _loopback_env() -> dict[str, str]:
    """Into a ClickHouse on this machine (the local endpoint) parquet files go uncompressed:
    compressing costs ~10% of a load and saves nothing over loopback (the raw tables are mostly
    UUID strings: snappy shrinks them ~10%). Remote servers keep dlt's default (snappy)."""
    if warehouse_settings().host in LOOPBACK_HOSTS:
        return {"DATA_WRITER__COMPRESSION": "none"}
    return {}


def loader_user() -> tuple[str, str]:
    """(user, password) dlt loads with: CLICKHOUSE_LOADER_USER/PASSWORD when set (production's
    loader user may write only `raw`), else CLICKHOUSE_USER/PASSWORD."""
    settings = warehouse_settings()
    user = os.environ.get("CLICKHOUSE_LOADER_USER") or settings.user
    if os.environ.get("CLICKHOUSE_LOADER_USER"):
        return user, os.environ.get("CLICKHOUSE_LOADER_PASSWORD", "")
    return user, settings.password or ""


def destination() -> Any:
    """dlt's ClickHouse destination from `elt.config.warehouse_settings()` (database = raw).

    dlt's own config still applies for what is not set here (e.g.
    DESTINATION__CLICKHOUSE__TABLE_ENGINE_TYPE)."""
    settings = warehouse_settings()
    user, password = loader_user()
    credentials = ClickHouseCredentials()
    credentials.host = settings.host
    credentials.port = settings.tcp_port
    credentials.http_port = settings.http_port
    credentials.username = user
    credentials.password = password
    credentials.secure = 1 if settings.secure else 0
    credentials.database = settings.raw_database
    return dlt.destinations.clickhouse(credentials=credentials, dataset_table_separator="___")


def default_pipeline_name(source_name: str, window: Window | None = None) -> str:
    """One working directory per source; windowed (partition) runs get their own."""
    if window is None:
        return f"elt_{source_name}"
    return f"elt_{source_name}_{window[0]:%Y%m%d}"


def make_pipeline(
    source_name: str,
    pipelines_dir: Path | str | None = None,
    window: Window | None = None,
    pipeline_name: str | None = None,
) -> dlt.Pipeline:
    """A dlt pipeline bound to ClickHouse, working dir in ELT_DLT_DIR (interrupted loads resume).

    Nothing connects here. Different `pipeline_name`s of one source share the dataset (tables)
    but not the working dir, so two Dagster steps never share one."""
    for key, value in {**_DLT_ENV, **_loopback_env()}.items():
        os.environ.setdefault(key, value)
    directory = Path(pipelines_dir or local_paths().dlt_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=pipeline_name or default_pipeline_name(source_name, window),
        pipelines_dir=str(directory),
        destination=destination(),
        dataset_name=source_name,
        progress="log" if os.environ.get("ELT_DLT_PROGRESS") else None,
    )
