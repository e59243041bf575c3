"""Endpoint benchmark: the local ClickHouse endpoint vs in-process chDB on the same data.

    uv run python -m benchmarks.endpoint [--rows 1000000] [--repeat 3]

Data: ROWS rows x 4 columns (id UInt64, value Float64, name String, ts DateTime), generated once
as an Arrow table. Each measurement inserts into an empty MergeTree table (or reads the whole
table) and takes the best of --repeat runs:

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


def best(repeat: int, setup: Callable[[int], None], run: Callable[[int], None]) -> float:
    """Best wall time of `run(i)` over `repeat` runs (each after `setup(i)`)."""
    times = []
    for i in range(repeat):
        setup(i)
        t0 = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - t0)
    return min(times)


def arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=65536)
    return sink.getvalue().to_pybytes()


# -- in-process (child process) -------------------------------------------------------------


def inprocess(rows: int, repeat: int, data_dir: str) -> dict[str, float]:
    import os

    os.environ["TZ"] = "UTC"
    import chdb

    table = make_table(rows)
    payload = arrow_bytes(table)
    conn = chdb.connect(data_dir)
    raw = conn._conn
    raw.query("CREATE DATABASE IF NOT EXISTS bench", "CSV", params={})

    def setup(i: int) -> None:
        raw.query(f"DROP TABLE IF EXISTS bench.t{i}", "CSV", params={})
        raw.query(DDL.format(n=i), "CSV", params={})

    def inserting(fmt: str, data: bytes) -> Callable[[int], None]:
        def insert(i: int) -> None:
            inserter = raw.send_insert(f"INSERT INTO bench.t{i}", fmt)
            step = 1 << 20
            for pos in range(0, len(data), step):
                raw.insert_append(inserter, data[pos : pos + step])
            raw.insert_done(inserter)

        return insert

    insert_arrow_s = best(repeat, setup, inserting("ArrowStream", payload))
    native = raw.query("SELECT * FROM bench.t0 FORMAT Native", "Native", params={}).bytes()
    insert_s = best(repeat, setup, inserting("Native", native))

    def read(i: int) -> None:
        data = raw.query("SELECT * FROM bench.t0", "Arrow", params={}).bytes()
        result = pa.ipc.open_file(pa.BufferReader(data)).read_all()
        assert result.num_rows == rows

    read_s = best(repeat, lambda i: None, read)
    conn.close()
    return {"insert_s": insert_s, "insert_arrow_s": insert_arrow_s, "read_s": read_s}


# -- through the endpoint -------------------------------------------------------------------


def endpoint(rows: int, repeat: int, data_dir: Path) -> dict[str, float]:
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
    out: dict[str, float] = {}
    try:
        ch = clickhouse_connect.get_client(
            host=info.host, port=info.http_port, autogenerate_session_id=False
        )
        ch.command("CREATE DATABASE IF NOT EXISTS bench")
        counter = iter(range(10_000))

        def fresh(_: int) -> None:
            n = next(counter)
            fresh.table = f"bench.t{n}"  # type: ignore[attr-defined]
            ch.command(DDL.format(n=n))

        def target() -> str:
            return fresh.table  # type: ignore[attr-defined]

        out["http_insert_arrow_s"] = best(repeat, fresh, lambda i: ch.insert_arrow(target(), table))
        full = target()
        native_bytes = ch.raw_query(f"SELECT * FROM {full} FORMAT Native")
        out["http_insert_native_s"] = best(
            repeat,
            fresh,
            lambda i: ch.raw_insert(target(), names, native_bytes, fmt="Native"),
        )
        # typed Python columns: includes clickhouse-connect's own serialization (client-bound)
        out["http_insert_python_s"] = best(
            repeat,
            fresh,
            lambda i: ch.insert(target(), columns, column_names=names, column_oriented=True),
        )
        assert ch.query(f"SELECT count() FROM {full}").result_rows[0][0] == rows

        def read_arrow(i: int) -> None:
            assert ch.query_arrow(f"SELECT * FROM {full}").num_rows == rows

        out["http_read_arrow_s"] = best(repeat, lambda i: None, read_arrow)
        if info.tcp_port:
            from clickhouse_driver import Client

            # use_numpy: clickhouse-driver's columnar fast path (its pure-Python path is the
            # bottleneck otherwise, not the endpoint)
            native = Client(host=info.host, port=info.tcp_port, settings={"use_numpy": True})
            import numpy as np

            arrays = [
                table.column("id").to_numpy(),
                table.column("value").to_numpy(),
                np.array(table.column("name").to_pylist(), dtype=object),
                table.column("ts").to_numpy().astype("datetime64[s]"),
            ]

            def native_insert(i: int) -> None:
                native.execute(f"INSERT INTO {target()} ({', '.join(names)}) VALUES", arrays,
                               columnar=True)  # fmt: skip

            out["native_insert_s"] = best(repeat, fresh, native_insert)

            def native_read(i: int) -> None:
                result = native.execute(f"SELECT * FROM {full}", columnar=True)
                assert len(result[0]) == rows

            out["native_read_s"] = best(repeat, lambda i: None, native_read)
            native.disconnect()
        ch.close()
    finally:
        stop(data_dir)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--inprocess-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inprocess_child:
        print(json.dumps(inprocess(args.rows, args.repeat, args.inprocess_child)))
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="bench-endpoint-"))
    try:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.endpoint", "--rows", str(args.rows),
             "--repeat", str(args.repeat), "--inprocess-child", str(scratch / "inprocess")],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        limit = json.loads(child.stdout.strip().splitlines()[-1])
        ep = endpoint(args.rows, args.repeat, scratch / "endpoint")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = args.rows
    rate = {k.removesuffix("_s") + "_rows_per_s": round(rows / v) for k, v in ep.items()}
    rate["inprocess_insert_rows_per_s"] = round(rows / limit["insert_s"])
    rate["inprocess_insert_arrow_rows_per_s"] = round(rows / limit["insert_arrow_s"])
    rate["inprocess_read_rows_per_s"] = round(rows / limit["read_s"])
    result: dict[str, object] = {
        "rows": rows,
        "insert_http_ratio": round(limit["insert_s"] / ep["http_insert_native_s"], 3),
        "insert_http_arrow_ratio": round(limit["insert_arrow_s"] / ep["http_insert_arrow_s"], 3),
        "insert_http_python_ratio": round(limit["insert_s"] / ep["http_insert_python_s"], 3),
        "read_http_arrow_ratio": round(limit["read_s"] / ep["http_read_arrow_s"], 3),
    }
    if "native_insert_s" in ep:
        result["insert_native_ratio"] = round(limit["insert_s"] / ep["native_insert_s"], 3)
        result["read_native_ratio"] = round(limit["read_s"] / ep["native_read_s"], 3)
    result.update(rate)
    result["seconds"] = {"inprocess": limit, "endpoint": ep}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(result)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
