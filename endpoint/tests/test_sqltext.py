"""Unit tests: finding INSERT heads and FORMAT clauses (pure functions)."""

from __future__ import annotations

from warehouse.sqltext import find_insert, is_insert_head, output_format


def test_insert_with_format_and_inline_data() -> None:
    text = "INSERT INTO db.t (a, b) FORMAT CSV\n1,2\n"
    head = find_insert(text)
    assert head is not None
    assert head.statement == "INSERT INTO db.t (a, b)"
    assert head.fmt == "CSV"
    assert text[head.data_offset :] == "1,2\n"


def test_leading_comments_and_settings() -> None:
    text = "-- dbt\n/* x FORMAT Y */ insert into t settings async_insert=0 format JSONEachRow {}"
    head = find_insert(text)
    assert head is not None
    assert head.statement == "insert into t settings async_insert=0"
    assert head.fmt == "JSONEachRow"
    assert text[head.data_offset :] == "{}"


def test_values_and_select() -> None:
    text = "INSERT INTO t VALUES (1, 'FORMAT x')"
    head = find_insert(text)
    assert head is not None and head.fmt == "Values"
    assert text[head.data_offset :] == " (1, 'FORMAT x')"
    assert find_insert("INSERT INTO t SELECT * FROM s FORMAT CSV") is None
    assert find_insert("SELECT 1 FORMAT CSV") is None
    assert find_insert("INSERT INTO t WITH 1 AS x SELECT x") is None


def test_quoted_names_and_functions() -> None:
    text = "INSERT INTO `my format` FORMAT TSV"
    head = find_insert(text)
    assert head is not None and head.statement == "INSERT INTO `my format`"
    head = find_insert("INSERT INTO FUNCTION file('x.csv', 'CSV', 'a UInt8') FORMAT CSV\n")
    assert head is not None and head.fmt == "CSV"


def test_truncated_prefix_needs_more() -> None:
    assert find_insert("INSERT INTO t FORMAT CS", complete=False) is None
    assert find_insert("INSERT INTO t FORMAT CSV\n", complete=False) is not None
    assert is_insert_head("  /* c */ INSERT INTO")
    assert not is_insert_head("SELECT 1")


def test_data_starts_after_first_newline_only() -> None:
    text = "INSERT INTO t FORMAT TSV  \n\n1\n"
    head = find_insert(text)
    assert head is not None
    assert text[head.data_offset :] == "\n1\n"


def test_output_format() -> None:
    assert output_format("SELECT 1 FORMAT JSONEachRow") == "JSONEachRow"
    assert output_format("SELECT 'FORMAT CSV'") is None
    assert output_format("SELECT * FROM (SELECT 1 FORMAT TSV) FORMAT Native") == "Native"
    assert output_format("SELECT 1") is None


def test_insert_target_and_settings() -> None:
    from warehouse.sqltext import insert_target, split_settings

    assert insert_target("INSERT INTO db.t (a, b)") == ("db", "t")
    assert insert_target("insert into table `my db`.`t-1`") == ("my db", "t-1")
    assert insert_target("INSERT INTO t SETTINGS x = 1") == (None, "t")
    assert insert_target("INSERT INTO FUNCTION file('x.csv')") is None
    assert split_settings("INSERT INTO t (a) SETTINGS async_insert = 0") == (
        "INSERT INTO t (a)",
        "SETTINGS async_insert = 0",
    )
    assert split_settings("INSERT INTO t (settings)") == ("INSERT INTO t (settings)", "")
