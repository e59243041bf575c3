"""Resources: ClickHouse (clickhouse-connect), dbt CLI and dlt, configured from the environment.

Every setting is a `dg.EnvVar` when the variable is set (so the UI shows where it comes from) and
falls back to the local endpoint's default otherwise (127.0.0.1:8123, user default).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import clickhouse_connect
import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from dagster_dlt import DagsterDltResource
from pydantic import Field

from orchestration.defs.transform.project import dbt_executable
from orchestration.inputs import location_inputs

DEFAULTS = {
    "CLICKHOUSE_HOST": "127.0.0.1",
    "CLICKHOUSE_HTTP_PORT": "8123",
    "CLICKHOUSE_USER": "default",
    "CLICKHOUSE_PASSWORD": "",
    "CLICKHOUSE_SECURE": "false",
}


class ClickHouseResource(dg.ConfigurableResource):
    """A clickhouse-connect client factory for checks and materialization metadata."""

    host: str = Field(default="127.0.0.1", description="CLICKHOUSE_HOST")
    http_port: int = Field(default=8123, description="CLICKHOUSE_HTTP_PORT")
    user: str = Field(default="default", description="CLICKHOUSE_USER")
    password: str = Field(default="", description="CLICKHOUSE_PASSWORD")
    secure: str = Field(default="false", description="CLICKHOUSE_SECURE (true/false)")

    @contextmanager
    def get_client(self) -> Iterator[Any]:
        client = clickhouse_connect.get_client(
            host=self.host,
            port=self.http_port,
            username=self.user,
            password=self.password,
            secure=self.secure.strip().lower() in ("1", "true", "yes"),
            # the embedded endpoint does not need sessions; keeps clients independent per thread
            autogenerate_session_id=False,
        )
        try:
            yield client
        finally:
            client.close()

    def query_rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        with self.get_client() as client:
            return list(client.query(sql, parameters=parameters or {}).result_rows)


def _env(name: str) -> Any:
    """`dg.EnvVar(name)` if the variable is set, else the local endpoint's default."""
    return dg.EnvVar(name) if os.environ.get(name) else DEFAULTS[name]


def clickhouse_resource() -> ClickHouseResource:
    port_name = "CLICKHOUSE_HTTP_PORT"
    return ClickHouseResource(
        host=_env("CLICKHOUSE_HOST"),
        http_port=dg.EnvVar.int(port_name)
        if os.environ.get(port_name)
        else int(DEFAULTS[port_name]),
        user=_env("CLICKHOUSE_USER"),
        password=_env("CLICKHOUSE_PASSWORD"),
        secure=_env("CLICKHOUSE_SECURE"),
    )


def build_resources(dbt_project: DbtProject) -> dict[str, Any]:
    """The resources every asset, check and sensor of the code location may ask for."""
    return {
        "clickhouse": clickhouse_resource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "dlt": DagsterDltResource(),
    }


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources=build_resources(location_inputs().models.project))
