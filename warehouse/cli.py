"""`elt warehouse …` and `elt sql`: the local ClickHouse endpoint lifecycle."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

warehouse_app = typer.Typer(no_args_is_help=True, help="The local ClickHouse endpoint (chDB).")
console = Console()
err_console = Console(stderr=True)


def _default_dir() -> Path:
    from core.settings import settings

    return Path(settings().paths.warehouse_dir or ".local/warehouse")


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="ELT_WAREHOUSE_DIR",
        help="Data directory of the endpoint [default: $ELT_HOME/warehouse]",
    ),
]
Host = Annotated[str, typer.Option("--host", help="Listen address (keep it on loopback)")]
HttpPort = Annotated[int, typer.Option("--http-port", help="HTTP port (0 = any free port)")]
TcpPort = Annotated[int, typer.Option("--tcp-port", help="Native TCP port (0 = any free port)")]
User = Annotated[str, typer.Option("--user", envvar="CLICKHOUSE_USER", help="User name")]
Password = Annotated[
    str,
    typer.Option(
        "--password",
        envvar="CLICKHOUSE_PASSWORD",
        help="Require this password (empty = no check)",
        show_default=False,
    ),
]


@warehouse_app.command()
def serve(
    data_dir: DataDir = None,
    host: Host = "127.0.0.1",
    http_port: HttpPort = 8123,
    tcp_port: TcpPort = 9000,
    user: User = "default",
    password: Password = "",
) -> None:
    """Run the endpoint in the foreground (Ctrl-C stops it)."""
    import logging

    from warehouse.server import ServerConfig
    from warehouse.server import serve as run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = ServerConfig(
        data_dir=(data_dir or _default_dir()).resolve(),
        host=host,
        http_port=http_port,
        tcp_port=tcp_port,
        user=user,
        password=password or None,
    )
    raise typer.Exit(code=run(config))


@warehouse_app.command()
def start(
    data_dir: DataDir = None,
    host: Host = "127.0.0.1",
    http_port: HttpPort = 8123,
    tcp_port: TcpPort = 9000,
    user: User = "default",
    password: Password = "",
) -> None:
    """Start the endpoint in the background; returns when it answers."""
    from warehouse.lifecycle import EndpointError, start_background, status

    directory = (data_dir or _default_dir()).resolve()
    already = status(directory)
    try:
        info = start_background(directory, host, http_port, tcp_port, user, password or None)
    except EndpointError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    verb = "already running" if already is not None else "started"
    _print_info(info, verb)


@warehouse_app.command()
def stop(data_dir: DataDir = None) -> None:
    """Stop the endpoint of the data directory."""
    from warehouse.lifecycle import stop as stop_endpoint

    directory = (data_dir or _default_dir()).resolve()
    if stop_endpoint(directory):
        console.print(f"stopped the endpoint of {directory}")
    else:
        console.print(f"no endpoint is running for {directory}")


@warehouse_app.command()
def status(data_dir: DataDir = None) -> None:
    """Where the endpoint of the data directory listens (exit code 1 if not running)."""
    from warehouse.lifecycle import status as endpoint_status

    directory = (data_dir or _default_dir()).resolve()
    info = endpoint_status(directory)
    if info is None:
        console.print(f"no endpoint is running for {directory}")
        raise typer.Exit(code=1)
    _print_info(info, "running")


def _print_info(info: object, verb: str) -> None:
    tcp = f"{info.host}:{info.tcp_port}" if info.tcp_port else "-"  # type: ignore[attr-defined]
    console.print(
        f"endpoint {verb}: pid {info.pid}\n"  # type: ignore[attr-defined]
        f"  http        http://{info.host}:{info.http_port}\n"  # type: ignore[attr-defined]
        f"  native tcp  {tcp}\n"
        f"  data dir    {info.data_dir}"  # type: ignore[attr-defined]
    )


def sql_command(
    query: Annotated[str, typer.Argument(help="SQL to run against the configured warehouse")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """Run a query against the configured warehouse and print a table."""
    from warehouse.client import get_client

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
