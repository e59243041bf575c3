"""Where dlt loads: the ClickHouse destination, its loader user, and the project's pipelines.

Light on purpose (dlt and settings only, no row-processing imports): the Dagster code location
builds a pipeline at load time to derive the asset specs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dlt
from dlt.destinations.impl.clickhouse.configuration import ClickHouseCredentials

from core.settings import settings
from ingestion.dlt_names import DATASET_TABLE_SEPARATOR

Window = tuple[dt.datetime, dt.datetime]

RUN_KWARGS: dict[str, Any] = {"loader_file_format": "parquet"}

# dlt settings every pipeline of this project uses, named as dlt's environment variables: arrow
# rows get `_dlt_load_id` (the raw tables' load id column) and no `_dlt_id`
_DLT_CONFIG: dict[str, object] = {
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": True,
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID": False,
    "RUNTIME__LOG_LEVEL": "WARNING",
    # state lives in ELT_DLT_DIR (persistent); skipping the restore saves seconds per run
    "RESTORE_FROM_DESTINATION": False,
}


def _loopback_env() -> dict[str, str]:
    """Into a ClickHouse on this machine (the local endpoint) parquet files go uncompressed:
    compressing costs ~10% of a load and saves nothing over loopback (the raw tables are mostly
    UUID strings: snappy shrinks them ~10%). Remote servers keep dlt's default (snappy)."""
    if settings().warehouse.is_loopback:
        return {"DATA_WRITER__COMPRESSION": "none"}
    return {}


def loader_user() -> tuple[str, str]:
    """(user, password) dlt loads with: CLICKHOUSE_LOADER_USER/PASSWORD when set (production's
    loader user may write only `raw`), else CLICKHOUSE_USER/PASSWORD."""
    return settings().warehouse.loader_credentials


def destination() -> Any:
    """dlt's ClickHouse destination from `core.settings` (database = raw).

    dlt's own config still applies for what is not set here (e.g.
    DESTINATION__CLICKHOUSE__TABLE_ENGINE_TYPE)."""
    warehouse = settings().warehouse
    user, password = warehouse.loader_credentials
    credentials = ClickHouseCredentials()
    credentials.host = warehouse.host
    credentials.port = warehouse.tcp_port
    credentials.http_port = warehouse.http_port
    credentials.username = user
    credentials.password = password
    credentials.secure = 1 if warehouse.secure else 0
    credentials.database = warehouse.raw_database
    return dlt.destinations.clickhouse(
        credentials=credentials, dataset_table_separator=DATASET_TABLE_SEPARATOR
    )


def use_project_dlt_config() -> None:
    """Put the project's dlt settings into dlt's in-memory config provider (not `os.environ`):
    dlt reads environment variables first, so a variable the user set still wins."""
    for name, value in {**_DLT_CONFIG, **_loopback_env()}.items():
        dlt.config[name.lower().replace("__", ".")] = value


def default_pipeline_name(source_name: str, window: Window | None = None) -> str:
    """One working directory per source; windowed (partition) runs get their own."""
    if window is None:
        return f"elt_{source_name}"
    return f"elt_{source_name}_{window[0]:%Y%m%d}"


def make_pipeline(
    source_name: str,
    *,
    pipelines_dir: Path | str | None = None,
    window: Window | None = None,
    pipeline_name: str | None = None,
) -> dlt.Pipeline:
    """A dlt pipeline bound to ClickHouse, working dir in ELT_DLT_DIR (interrupted loads resume).

    Nothing connects here. Different `pipeline_name`s of one source share the dataset (tables)
    but not the working dir, so two Dagster steps never share one."""
    use_project_dlt_config()
    config = settings()
    directory = Path(pipelines_dir or config.paths.dlt_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=pipeline_name or default_pipeline_name(source_name, window),
        pipelines_dir=str(directory),
        destination=destination(),
        dataset_name=source_name,
        progress="log" if config.run.dlt_progress else None,
    )
