"""Endpoint benchmark: the local ClickHouse endpoint vs in-process chDB on the same data.

    uv run python -m benchmarks.endpoint [--rows 1000000] [--repeat 3]

Data: ROWS rows x 4 columns (id UInt64, value Float64, name String, ts DateTime), generated once
as an Arrow table. Each measurement inserts into an empty MergeTree table (or reads the whole
table) and takes the best of --repeat runs:

Each endpoint run is preceded by the matching in-process run, so both see the same machine load
(this box is shared); ratios use the best time of each.

- inprocess_*: chDB in a separate process with its own data dir (the limit on this machine):
  insert = Native (and ArrowStream) bytes streamed into `send_insert`, read = `SELECT *` as
  Arrow -> pa.Table
- http_*: clickhouse-connect against an endpoint started on free ports: raw_insert of the
  same data as Native bytes (insert_http_ratio), insert_arrow of the Arrow table, insert of
  typed Python columns (adds clickhouse-connect's own per-value serialization, client-bound),
  query_arrow (read_http_arrow_ratio). Ratios compare like with like (Native with Native,
  Arrow with Arrow).
- native_*: clickhouse-driver (use_numpy columnar insert / columnar select) over native TCP

Prints one final JSON line of ratios (endpoint rows/s / in-process rows/s) and rates, and
writes it to benchmarks/results/endpoint.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "endpoint.json"
DDL = "CREATE TABLE bench.t{n} (id UInt64, value Float64, name String, ts DateTime('UTC')) " \
    "ENGINE = MergeTree ORDER BY id"  # fmt: skip


def make_table(rows: int) -> pa.Table:
    import numpy as np

    rng = np.random.default_rng(42)
    ids = np.arange(rows, dtype=np.uint64)
    names = pa.array([f"name_{i}" for i in range(1000)])
    return pa.table(
        {
            "id": pa.array(ids),
            "value": pa.array(rng.random(rows)),
            "name": names.take(pa.array(ids % 1000)),
            "ts": pa.array(
                (1_700_000_000 + ids.astype("int64")).astype("datetime64[s]"),
                pa.timestamp("s", tz="UTC"),
            ),
        }
    )


def arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=65536)
    return sink.getvalue().to_pybytes()


# -- in-process (child process, driven over stdin/stdout) ----------------------------------


def inprocess_child(rows: int, data_dir: str) -> None:
    """Serve measurement requests: one kind per stdin line, seconds on stdout."""
    import os

    os.environ["TZ"] = "UTC"
    import chdb

    table = make_table(rows)
    payloads = {"insert_arrow": ("ArrowStream", arrow_bytes(table))}
    conn = chdb.connect(data_dir)
    raw = conn._conn
    raw.query("CREATE DATABASE IF NOT EXISTS bench", "CSV", params={})
    counter = iter(range(1_000_000))

    def fresh() -> str:
        name = f"bench.t{next(counter)}"
        raw.query(DDL.format(n=name.split(".t")[1]), "CSV", params={})
        return name

    def insert(kind: str) -> float:
        fmt, data = payloads[kind]
        target = fresh()
        t0 = time.perf_counter()
        inserter = raw.send_insert(f"INSERT INTO {target}", fmt)
        step = 1 << 20
        for pos in range(0, len(data), step):
            raw.insert_append(inserter, data[pos : pos + step])
        raw.insert_done(inserter)
        elapsed = time.perf_counter() - t0
        raw.query(f"DROP TABLE {target}", "CSV", params={})
        return elapsed

    full = fresh()
    inserter = raw.send_insert(f"INSERT INTO {full}", "ArrowStream")
    raw.insert_append(inserter, payloads["insert_arrow"][1])
    raw.insert_done(inserter)
    native = raw.query(f"SELECT * FROM {full} FORMAT Native", "Native", params={}).bytes()
    payloads["insert_native"] = ("Native", native)

    def read() -> float:
        t0 = time.perf_counter()
        data = raw.query(f"SELECT * FROM {full}", "Arrow", params={}).bytes()
        result = pa.ipc.open_file(pa.BufferReader(data)).read_all()
        elapsed = time.perf_counter() - t0
        assert result.num_rows == rows
        return elapsed

    print("ready", flush=True)
    for line in sys.stdin:
        kind = line.strip()
        seconds = read() if kind == "read" else insert(kind)
        print(seconds, flush=True)
    conn.close()


class InProcess:
    """The in-process limit, measured in a child process right next to each endpoint run."""

    def __init__(self, rows: int, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.endpoint", "--rows", str(rows),
             "--inprocess-child", str(data_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stdin is not None
        assert self.proc.stdout.readline().strip() == "ready"
        self.times: dict[str, list[float]] = {}

    def measure(self, kind: str) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(kind + "\n")
        self.proc.stdin.flush()
        seconds = float(self.proc.stdout.readline())
        self.times.setdefault(kind, []).append(seconds)
        return seconds

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# -- through the endpoint -------------------------------------------------------------------


def endpoint(rows: int, repeat: int, data_dir: Path, limit: InProcess) -> dict[str, float]:
    """Best seconds per endpoint measurement; before each run the matching in-process
    measurement runs too, so both see the same machine load."""
    import clickhouse_connect

    from warehouse.lifecycle import start_background, stop

    table = make_table(rows)
    columns = [
        table.column("id").to_numpy(),
        table.column("value").to_numpy(),
        table.column("name").to_pylist(),
        table.column("ts").to_pylist(),
    ]
    names = ["id", "value", "name", "ts"]
    info = start_background(data_dir, http_port=0, tcp_port=0)
    times: dict[str, list[float]] = {}
    try:
        ch = clickhouse_connect.get_client(
            host=info.host, port=info.http_port, autogenerate_session_id=False
        )
        ch.command("CREATE DATABASE IF NOT EXISTS bench")
        counter = iter(range(1_000_000))

        def fresh() -> str:
            n = next(counter)
            ch.command(DDL.format(n=n))
            return f"bench.t{n}"

        full = fresh()
        ch.insert_arrow(full, table)
        assert ch.query(f"SELECT count() FROM {full}").result_rows[0][0] == rows
        native_bytes = ch.raw_query(f"SELECT * FROM {full} FORMAT Native")

        def read_arrow(_: str) -> None:
            assert ch.query_arrow(f"SELECT * FROM {full}").num_rows == rows

        runs: list[tuple[str, str, Callable[[str], None], bool]] = [
            ("http_insert_native", "insert_native",
             lambda t: ch.raw_insert(t, names, native_bytes, fmt="Native"), True),
            ("http_insert_arrow", "insert_arrow", lambda t: ch.insert_arrow(t, table), True),
            ("http_read_arrow", "read", read_arrow, False),
            # typed Python columns: adds clickhouse-connect's per-value serialization
            ("http_insert_python", "insert_native",
             lambda t: ch.insert(t, columns, column_names=names, column_oriented=True), True),
        ]  # fmt: skip
        native = None
        if info.tcp_port:
            import numpy as np
            from clickhouse_driver import Client

            # use_numpy: clickhouse-driver's columnar fast path (its pure-Python path is the
            # bottleneck otherwise, not the endpoint)
            native = Client(host=info.host, port=info.tcp_port, settings={"use_numpy": True})
            arrays = [
                table.column("id").to_numpy(),
                table.column("value").to_numpy(),
                np.array(table.column("name").to_pylist(), dtype=object),
                table.column("ts").to_numpy().astype("datetime64[s]"),
            ]
            insert_sql = f"INSERT INTO {{}} ({', '.join(names)}) VALUES"

            def native_read(_: str) -> None:
                result = native.execute(f"SELECT * FROM {full}", columnar=True)
                assert len(result[0]) == rows

            runs += [
                ("native_insert", "insert_native",
                 lambda t: native.execute(insert_sql.format(t), arrays, columnar=True), True),
                ("native_read", "read", native_read, False),
            ]  # fmt: skip
        for _ in range(repeat):
            for name, kind, run, needs_table in runs:
                limit.measure(kind)
                target = fresh() if needs_table else full
                t0 = time.perf_counter()
                run(target)
                times.setdefault(name, []).append(time.perf_counter() - t0)
                if needs_table:
                    ch.command(f"DROP TABLE {target}")
        if native is not None:
            native.disconnect()
        ch.close()
    finally:
        stop(data_dir)
    return {name + "_s": min(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--inprocess-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inprocess_child:
        inprocess_child(args.rows, args.inprocess_child)
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="bench-endpoint-"))
    try:
        limit_proc = InProcess(args.rows, scratch / "inprocess")
        try:
            ep = endpoint(args.rows, args.repeat, scratch / "endpoint", limit_proc)
        finally:
            limit_proc.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    limit = {kind + "_s": min(values) for kind, values in limit_proc.times.items()}
    rows = args.rows

    def ratio(inprocess_key: str, endpoint_key: str) -> float:
        return round(limit[inprocess_key] / ep[endpoint_key], 3)

    result: dict[str, object] = {
        "rows": rows,
        "insert_http_ratio": ratio("insert_native_s", "http_insert_native_s"),
        "insert_http_arrow_ratio": ratio("insert_arrow_s", "http_insert_arrow_s"),
        "insert_http_python_ratio": ratio("insert_native_s", "http_insert_python_s"),
        "read_http_arrow_ratio": ratio("read_s", "http_read_arrow_s"),
    }
    if "native_insert_s" in ep:
        result["insert_native_ratio"] = ratio("insert_native_s", "native_insert_s")
        result["read_native_ratio"] = ratio("read_s", "native_read_s")
    for key, seconds in {**ep, **{"inprocess_" + k: v for k, v in limit.items()}}.items():
        result[key.removesuffix("_s") + "_rows_per_s"] = round(rows / seconds)
    result["seconds"] = {"inprocess": limit, "endpoint": ep}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
