"""clickhouse-connect against the endpoint: typed rows, DataFrames, Arrow, inserts, parameters,
streaming, sessions, errors."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
import zoneinfo

import pandas as pd
import pyarrow as pa
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

pytestmark = pytest.mark.integration

TYPES_DDL = """
CREATE TABLE {db}.types (
    u8 UInt8, u16 UInt16, u32 UInt32, u64 UInt64, u128 UInt128, u256 UInt256,
    i8 Int8, i16 Int16, i32 Int32, i64 Int64, i128 Int128,
    f32 Float32, f64 Float64,
    d1 Decimal(9, 2), d2 Decimal(38, 10),
    s String, fs FixedString(4), id UUID,
    dt Date, dt32 Date32, ts DateTime, ts_tz DateTime('Asia/Tokyo'),
    ts64 DateTime64(3), ts64_tz DateTime64(6, 'America/New_York'),
    n Nullable(Int32), ns Nullable(String),
    arr Array(Int32), arr2 Array(Array(String)), m Map(String, UInt64),
    tup Tuple(Int32, String), ntup Tuple(a Int32, b Nullable(String)),
    lc LowCardinality(String), lcn LowCardinality(Nullable(String)),
    e8 Enum8('red' = 1, 'green' = 2), e16 Enum16('x' = 1000, 'y' = 2000),
    js String, b Bool
) ENGINE = MergeTree ORDER BY u32
"""

NY = zoneinfo.ZoneInfo("America/New_York")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def _row(i: int, null: bool) -> list:
    return [
        255 - i,
        65535,
        4_000_000_000 + i,
        2**64 - 1 - i,
        2**127 + i,
        2**255 + i,
        -128 + i,
        -32768,
        -(2**31) + i,
        -(2**63) + i,
        -(2**127) + i,
        1.5,
        2.25 + i,
        decimal.Decimal("1234567.89"),
        decimal.Decimal("-12345678901234567890.0123456789"),
        f"héllo {i}",
        b"ab\x00c",
        UID,
        dt.date(2024, 2, 29),
        dt.date(1950, 1, 1),
        dt.datetime(2024, 1, 2, 3, 4, 5 + i),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=TOKYO),
        dt.datetime(2024, 1, 2, 3, 4, 5, 123000),
        dt.datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=NY),
        None if null else i,
        None if null else "x",
        [1, 2, i],
        [["a"], [], ["b", "c"]],
        {"k": i, "z": 7},
        (i, "t"),
        (i, None if null else "nb"),
        "low",
        None if null else "lc",
        "green",
        "y",
        '{"a": [1, 2, {"b": null}]}',
        bool(i % 2),
    ]


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def test_types_roundtrip(ch, db) -> None:
    ch.command(TYPES_DDL.format(db=db))
    rows = [_row(i, null=i == 1) for i in range(3)]
    ch.insert(f"{db}.types", rows)
    result = ch.query(f"SELECT * FROM {db}.types ORDER BY u32")
    got = result.result_rows
    assert len(got) == 3
    for expected, actual in zip(rows, got, strict=True):
        exp = list(expected)
        act = list(actual)
        # zoned columns: the same instant (the client picks naive-UTC or aware values)
        assert _utc(act[21]) == _utc(exp[21])
        assert _utc(act[23]) == _utc(exp[23])
        assert act[22] == exp[22]
        assert act[16] == b"ab\x00c"
        assert act[28] == exp[28]
        # named tuples come back as dicts
        assert act[30] == {"a": exp[30][0], "b": exp[30][1]}
        for idx in (21, 23, 30):
            exp[idx] = act[idx]
        assert act == exp
    types = dict(zip(result.column_names, [t.name for t in result.column_types], strict=True))
    assert types["ts64_tz"] == "DateTime64(6, 'America/New_York')"
    assert types["lcn"] == "LowCardinality(Nullable(String))"
    assert types["m"] == "Map(String, UInt64)"


def test_query_df_and_arrow(ch, db) -> None:
    ch.command(
        f"CREATE TABLE {db}.m (id UInt32, name String, amount Decimal(10, 2), "
        "at DateTime64(3, 'UTC'), tag Nullable(String)) ENGINE = MergeTree ORDER BY id"
    )
    ch.command(
        f"INSERT INTO {db}.m SELECT number, concat('n', toString(number)), number / 4, "
        "toDateTime64('2024-01-01 00:00:00', 3, 'UTC') + number, "
        "if(number % 2 = 0, NULL, 'odd') FROM numbers(1000)"
    )
    df = ch.query_df(f"SELECT * FROM {db}.m ORDER BY id")
    assert len(df) == 1000
    assert df["name"].iloc[10] == "n10"
    assert df["tag"].isna().sum() == 500
    assert str(df["at"].iloc[1])[:19] == "2024-01-01 00:00:01"
    table = ch.query_arrow(f"SELECT id, name, amount FROM {db}.m ORDER BY id")
    assert table.num_rows == 1000
    assert table.column("id").to_pylist()[:3] == [0, 1, 2]
    assert table.schema.field("name").type in (pa.string(), pa.large_string(), pa.binary())


def test_insert_dataframe_and_arrow(ch, db) -> None:
    ch.command(
        f"CREATE TABLE {db}.ins (id Int64, name String, score Float64, day Date) "
        "ENGINE = MergeTree ORDER BY id"
    )
    df = pd.DataFrame(
        {
            "id": range(500),
            "name": [f"r{i}" for i in range(500)],
            "score": [i / 2 for i in range(500)],
            "day": [dt.date(2024, 1, 1) + dt.timedelta(days=i % 30) for i in range(500)],
        }
    )
    summary = ch.insert_df(f"{db}.ins", df)
    assert summary.written_rows == 500
    arrow = pa.table(
        {
            "id": pa.array(range(500, 800), pa.int64()),
            "name": pa.array([f"a{i}" for i in range(300)]),
            "score": pa.array([1.0] * 300),
            "day": pa.array([dt.date(2024, 3, 1)] * 300, pa.date32()),
        }
    )
    ch.insert_arrow(f"{db}.ins", arrow)
    count, total, last = ch.query(
        f"SELECT count(), sum(score), max(day) FROM {db}.ins"
    ).result_rows[0]
    assert count == 800
    assert total == sum(i / 2 for i in range(500)) + 300
    assert last == dt.date(2024, 3, 1)


def test_bound_parameters(ch) -> None:
    # client-side binding (%(x)s) and server-side binding ({x:Type} -> param_x)
    row = ch.query(
        "SELECT %(s)s, %(n)s, %(d)s",
        parameters={"s": 'it\'s \\ "q"\n', "n": 42, "d": dt.date(2024, 5, 6)},
    ).result_rows[0]
    assert row == ('it\'s \\ "q"\n', 42, "2024-05-06")
    row = ch.query(
        "SELECT {s:String}, {a:Array(UInt8)}, {t:DateTime}, {n:Nullable(Int32)}",
        parameters={
            "s": "tab\there 'quote'",
            "a": [1, 2, 3],
            "t": dt.datetime(2024, 1, 1, 10, 30),
            "n": None,
        },
    ).result_rows[0]
    assert row == ("tab\there 'quote'", [1, 2, 3], dt.datetime(2024, 1, 1, 10, 30), None)


def test_streaming_queries(ch) -> None:
    total = 0
    blocks = 0
    with ch.query_row_block_stream(
        "SELECT number, toString(number) FROM numbers(300000)"
    ) as stream:
        for block in stream:
            blocks += 1
            total += sum(row[0] for row in block)
    assert total == sum(range(300000))
    assert blocks > 1
    with ch.query_df_stream("SELECT number FROM numbers(200000)") as frames:
        assert sum(len(frame) for frame in frames) == 200000
    with ch.query_arrow_stream("SELECT number FROM numbers(200000)") as batches:
        assert sum(batch.num_rows for batch in batches) == 200000


def test_error_codes(ch, db) -> None:
    with pytest.raises(DatabaseError) as err:
        ch.query("SELECT no_such_column")
    assert "Code: 47" in str(err.value)
    with pytest.raises(DatabaseError) as err:
        ch.query(f"SELECT * FROM {db}.no_such_table")
    assert "Code: 60" in str(err.value)
    with pytest.raises(DatabaseError) as err:
        ch.command("SELEC 1")
    assert "Code: 62" in str(err.value)
    # the client keeps working after errors
    assert ch.query("SELECT 1").result_rows == [(1,)]


def test_error_in_the_middle_of_a_stream(ch) -> None:
    with (
        pytest.raises(DatabaseError) as err,
        ch.query_row_block_stream(
            "SELECT throwIf(number = 250000, 'boom') FROM numbers(400000)",
            settings={"max_block_size": 10000},
        ) as stream,
    ):
        for _ in stream:
            pass
    assert "boom" in str(err.value)
    assert ch.query("SELECT 2").result_rows == [(2,)]


def test_sessions_temp_tables_and_set(ch) -> None:
    # clickhouse-connect uses one session per client by default
    ch.command("CREATE TEMPORARY TABLE tmp_x (a UInt8)")
    ch.command("INSERT INTO tmp_x VALUES (1), (2)")
    assert ch.query("SELECT sum(a) FROM tmp_x").result_rows == [(3,)]
    ch.command("SET max_threads = 1")
    assert ch.query("SELECT getSetting('max_threads')").result_rows == [(1,)]
    from warehouse.client import get_client

    other = get_client()
    with pytest.raises(DatabaseError):
        other.query("SELECT * FROM tmp_x")
    assert other.query("SELECT getSetting('max_threads')").result_rows != [(1,)]
    other.close()


def test_settings_do_not_leak_within_a_session(ch) -> None:
    before = ch.query("SELECT getSetting('max_block_size')").result_rows[0][0]
    assert before != 1234
    with_setting = ch.query(
        "SELECT getSetting('max_block_size')", settings={"max_block_size": 1234}
    ).result_rows[0][0]
    assert with_setting == 1234
    after = ch.query("SELECT getSetting('max_block_size')").result_rows[0][0]
    assert after == before
    # a sticky SET survives a per-query override and comes back afterwards
    ch.command("SET max_block_size = 4321")
    assert (
        ch.query(
            "SELECT getSetting('max_block_size')", settings={"max_block_size": 99}
        ).result_rows[0][0]
        == 99
    )
    assert ch.query("SELECT getSetting('max_block_size')").result_rows[0][0] == 4321


def test_database_parameter(warehouse, db) -> None:
    from warehouse.client import get_client

    client = get_client(database=db)
    assert client.query("SELECT currentDatabase()").result_rows == [(db,)]
    client.command("CREATE TABLE plain (a UInt8) ENGINE = MergeTree ORDER BY a")
    client.insert("plain", [[7]])
    assert client.query("SELECT a FROM plain").result_rows == [(7,)]
    client.close()
