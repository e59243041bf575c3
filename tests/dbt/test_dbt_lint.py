"""sqlfluff: the dbt SQL lints clean with the repo's .sqlfluff, which never rewrites ClickHouse
function or type case; profiles.yml keeps secrets out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlfluff.core import FluffConfig, Linter

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def linter(monkeypatch: pytest.MonkeyPatch) -> Linter:
    monkeypatch.chdir(REPO)  # .sqlfluff paths (macros, ignore file) are relative to the repo root
    return Linter(config=FluffConfig.from_root())


def test_models_and_tests_lint_clean(linter: Linter) -> None:
    folders = [p for p in ("dbt_project/models", "dbt_project/tests") if Path(p).is_dir()]
    result = linter.lint_paths(tuple(folders))
    records = result.as_records()
    violations = {
        r["filepath"]: [
            f"L{v['start_line_no']} {v['code']} {v['description']}" for v in r["violations"]
        ]
        for r in records
        if r["violations"]
    }
    assert violations == {}
    sql_files = [p for folder in folders for p in Path(folder).rglob("*.sql")]
    assert len(records) == len(sql_files)  # every model and singular test was linted


def test_fix_keeps_clickhouse_function_and_type_case(linter: Linter) -> None:
    sql = (
        "select\n"
        "    toYYYYMM(ordered_at) as order_month,\n"
        "    cast(order_id as LowCardinality(String)) as order_key,\n"
        "    toDateTime64(ordered_at, 6, 'UTC') as ordered_at_utc,\n"
        "    countIf(is_food_item) as count_food_items\n"
        "from orders\n"
        "group by order_month, order_key, ordered_at_utc\n"
    )
    fixed = linter.lint_string(sql, fix=True).fix_string()[0]
    for token in ("toYYYYMM", "LowCardinality(String)", "toDateTime64", "countIf"):
        assert token in fixed


def test_keywords_must_be_lower_case(linter: Linter) -> None:
    codes = {v.rule_code() for v in linter.lint_string("SELECT a FROM b\n").get_violations()}
    assert "CP01" in codes


def test_profiles_use_env_vars_and_hold_no_secret() -> None:
    profiles = yaml.safe_load((REPO / "profiles.yml").read_text())
    outputs = profiles["clickhouse_elt"]["outputs"]
    assert {"local", "prod", "cluster"} <= outputs.keys()
    assert "env_var('DBT_TARGET', 'local')" in profiles["clickhouse_elt"]["target"]
    for name, output in outputs.items():
        assert output["type"] == "clickhouse"
        for key in ("host", "port", "user", "password", "secure"):
            assert "env_var('CLICKHOUSE_" in str(output[key]), (name, key)
    assert "CLICKHOUSE_CLUSTER" in outputs["cluster"]["cluster"]
