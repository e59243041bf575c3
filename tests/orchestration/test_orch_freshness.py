"""Freshness policies from dbt meta and the defaults (pure functions)."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster._core.definitions.freshness import CronFreshnessPolicy, TimeWindowFreshnessPolicy

from orchestration.defs.quality.freshness import DAILY_DEADLINE, MART_MAX_AGE, model_policy

NODE = {"unique_id": "model.p.orders", "original_file_path": "models/marts/orders.sql"}


def _policy(freshness: object, *, incremental: bool = False, mart_table: bool = False):
    meta = {} if freshness is None else {"dagster": {"freshness": freshness}}
    return model_policy(NODE, meta, incremental=incremental, mart_table=mart_table)


def test_declared_time_window() -> None:
    policy = _policy({"fail_window": "2d", "warn_window": "1d"}, mart_table=True)
    assert isinstance(policy, TimeWindowFreshnessPolicy)
    assert policy.fail_window.to_timedelta() == dt.timedelta(days=2)
    assert policy.warn_window.to_timedelta() == dt.timedelta(days=1)


def test_declared_cron() -> None:
    policy = _policy({"deadline_cron": "0 9 * * 1", "lower_bound": "7d"}, incremental=True)
    assert isinstance(policy, CronFreshnessPolicy)
    assert policy.deadline_cron == "0 9 * * 1"
    assert policy.lower_bound_delta == dt.timedelta(days=7)
    assert policy.timezone == "UTC"


def test_defaults() -> None:
    assert _policy(None, incremental=True) == DAILY_DEADLINE
    assert _policy(None, mart_table=True) == MART_MAX_AGE
    assert _policy(None) is None


@pytest.mark.parametrize(
    ("freshness", "expected"),
    [
        ({"fail_window": "soon"}, "'soon' is not a duration"),
        ({"fail_window": "1h", "warn_window": "2h"}, "warn_window must be less than fail_window"),
        ({"deadline_cron": "every day", "lower_bound": "1d"}, "Invalid cron string"),
        ({"max_age": "1d"}, "expected {fail_window, warn_window?}"),
        ("26h", "expected a mapping"),
    ],
)
def test_bad_meta_names_the_model_file_and_field(freshness: object, expected: str) -> None:
    with pytest.raises(ValueError) as e:
        _policy(freshness)
    assert str(e.value).startswith("models/marts/orders.sql: meta.dagster.freshness")
    assert expected in str(e.value)
