"""The endpoint's command line: `start`, `serve`, `status`, `stop` (mounted as `elt warehouse`)
and `sql_command` (mounted as `elt sql`). Options left out come from `EndpointSettings`."""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from warehouse import lifecycle
from warehouse.client import get_client
from warehouse.server import ServerConfig
from warehouse.server import serve as run_server
from warehouse.settings import EndpointSettings

warehouse_app = typer.Typer(no_args_is_help=True, help="The local ClickHouse endpoint (chDB).")
console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory [default: $ELT_WAREHOUSE_DIR, else $ELT_HOME/warehouse]",
        show_default=False,
    ),
]
Host = Annotated[
    str | None,
    typer.Option("--host", help="Listen address, kept on loopback [default: $CLICKHOUSE_HOST]"),
]
HttpPort = Annotated[
    int | None,
    typer.Option("--http-port", help="HTTP port, 0 = any free [default: $CLICKHOUSE_HTTP_PORT]"),
]
TcpPort = Annotated[
    int | None,
    typer.Option(
        "--tcp-port",
        help="Native TCP port, 0 = any free, -1 = none [default: $CLICKHOUSE_TCP_PORT]",
    ),
]
User = Annotated[str | None, typer.Option("--user", help="User name [default: $CLICKHOUSE_USER]")]
Password = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="Require this password, empty = no check [default: $CLICKHOUSE_PASSWORD]",
        show_default=False,
    ),
]


def _config(
    data_dir: Path | None,
    host: str | None,
    http_port: int | None,
    tcp_port: int | None,
    user: str | None,
    password: str | None,
) -> ServerConfig:
    """Command-line options over the environment's settings."""
    settings = EndpointSettings()
    tcp = settings.tcp_port if tcp_port is None else tcp_port
    secret = settings.password if password is None else password
    return ServerConfig(
        data_dir=(data_dir or settings.data_dir).resolve(),
        host=host or settings.host,
        http_port=settings.http_port if http_port is None else http_port,
        tcp_port=None if tcp < 0 else tcp,
        user=user or settings.user,
        password=secret or None,
    )


def _data_dir(data_dir: Path | None) -> Path:
    return (data_dir or EndpointSettings().data_dir).resolve()


@warehouse_app.command()
def serve(
    data_dir: DataDir = None,
    host: Host = None,
    http_port: HttpPort = None,
    tcp_port: TcpPort = None,
    user: User = None,
    password: Password = None,
) -> None:
    """Run the endpoint in the foreground (Ctrl-C or SIGTERM stops it)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = _config(data_dir, host, http_port, tcp_port, user, password)
    raise typer.Exit(code=run_server(config))


@warehouse_app.command()
def start(
    data_dir: DataDir = None,
    host: Host = None,
    http_port: HttpPort = None,
    tcp_port: TcpPort = None,
    user: User = None,
    password: Password = None,
) -> None:
    """Start the endpoint in the background; returns when it answers."""
    config = _config(data_dir, host, http_port, tcp_port, user, password)
    already = lifecycle.status(config.data_dir)
    try:
        info = lifecycle.start_background(
            config.data_dir,
            config.host,
            config.http_port,
            config.tcp_port,
            config.user,
            config.password,
        )
    except lifecycle.EndpointError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    _print_info(info, "already running" if already is not None else "started")


@warehouse_app.command()
def stop(data_dir: DataDir = None) -> None:
    """Stop the endpoint of the data directory."""
    directory = _data_dir(data_dir)
    if lifecycle.stop(directory):
        console.print(f"stopped the endpoint of {directory}")
    else:
        console.print(f"no endpoint is running for {directory}")


@warehouse_app.command()
def status(data_dir: DataDir = None) -> None:
    """Where the endpoint of the data directory listens (exit code 1 if not running)."""
    directory = _data_dir(data_dir)
    info = lifecycle.status(directory)
    if info is None:
        console.print(f"no endpoint is running for {directory}")
        raise typer.Exit(code=1)
    _print_info(info, "running")


def _print_info(info: lifecycle.ServerInfo, verb: str) -> None:
    tcp = f"{info.host}:{info.tcp_port}" if info.tcp_port else "-"
    console.print(
        f"endpoint {verb}: pid {info.pid}\n"
        f"  http        http://{info.host}:{info.http_port}\n"
        f"  native tcp  {tcp}\n"
        f"  data dir    {info.data_dir}"
    )


def sql_command(
    query: Annotated[str, typer.Argument(help="SQL to run against the configured warehouse")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """Run a query against the configured warehouse and print a table."""
    try:
        client = get_client()
        result = client.query(query)
    except Exception as exc:  # clickhouse-connect raises several types; show the server text
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    names = list(result.column_names)
    rows = result.result_rows
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        writer.writerows(rows)
    elif fmt == "json":
        for row in rows:
            print(json.dumps(dict(zip(names, row, strict=True)), default=str))
    else:
        table = Table(*names, show_lines=False)
        for row in rows:
            table.add_row(*("NULL" if v is None else str(v) for v in row))
        console.print(table)
        console.print(f"{len(rows)} row(s)", style="dim")
