"""Resources: ClickHouse (dagster-clickhouse's `ClickhouseResource`, native protocol), dbt CLI
(`transform.cli.EltDbtCliResource`) and dlt, configured from the environment.

Every ClickHouse setting is a `dg.EnvVar` when the variable is set (so the UI shows where it
comes from) and falls back to the local endpoint's default otherwise (127.0.0.1:9000, user
default). `secure` is a bool field and Dagster has no bool `EnvVar`: it is read from
CLICKHOUSE_SECURE when the definitions load.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from dagster_clickhouse import ClickhouseResource
from dagster_dbt import DbtProject
from dagster_dlt import DagsterDltResource

from core.settings import WarehouseSettings
from orchestration.defs.transform.cli import EltDbtCliResource
from orchestration.defs.transform.project import dbt_executable
from orchestration.inputs import location_inputs

DEFAULTS = {
    "CLICKHOUSE_HOST": "127.0.0.1",
    "CLICKHOUSE_USER": "default",
    "CLICKHOUSE_PASSWORD": "",
    "CLICKHOUSE_SECURE": "false",
}
TCP_PORT = "CLICKHOUSE_TCP_PORT"
TCP_PORT_DEFAULT = WarehouseSettings.model_fields["tcp_port"].default


def _env(name: str) -> Any:
    """`dg.EnvVar(name)` if the variable is set, else the local endpoint's default."""
    return dg.EnvVar(name) if os.environ.get(name) else DEFAULTS[name]


def clickhouse_config() -> dict[str, Any]:
    """host, port, user, password, secure and database of the native connection: the
    `ClickhouseResource`'s and the analytics IO manager's."""
    secure = os.environ.get("CLICKHOUSE_SECURE") or DEFAULTS["CLICKHOUSE_SECURE"]
    return {
        "host": _env("CLICKHOUSE_HOST"),
        "port": dg.EnvVar.int(TCP_PORT) if os.environ.get(TCP_PORT) else TCP_PORT_DEFAULT,
        "user": _env("CLICKHOUSE_USER"),
        "password": _env("CLICKHOUSE_PASSWORD"),
        "secure": secure.strip().lower() in ("1", "true", "yes"),
        # every query names its database; the resource's default (None) fails in
        # clickhouse-driver's handshake, so the connection's database is the server's `default`
        "database": "default",
    }


def clickhouse_resource() -> ClickhouseResource:
    """The `clickhouse` resource of every asset, check and op that queries ClickHouse."""
    return ClickhouseResource(**clickhouse_config())


def build_resources(dbt_project: DbtProject) -> dict[str, Any]:
    """The resources every asset, check and sensor of the code location may ask for."""
    return {
        "clickhouse": clickhouse_resource(),
        "dbt": EltDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "dlt": DagsterDltResource(),
    }


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources=build_resources(location_inputs().models.project))
