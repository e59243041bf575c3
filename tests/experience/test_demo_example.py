"""About the shipped example: `elt demo` replays its 2018 data, whose landed days end the daily
partitions."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from elt.demo import replay_partitions_end
from elt.dev import dagster_env

pytestmark = pytest.mark.example  # the shipped Jaffle Shop example


def test_replayed_data_ends_the_daily_partitions(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ELT_PARTITIONS_END_DATE", raising=False)
    (tmp_path / "jaffle_shop" / "orders").mkdir(parents=True)
    (tmp_path / "jaffle_shop" / "orders" / "2018-09-04.csv").write_text("x\n")
    assert replay_partitions_end(tmp_path) == dt.date(2018, 9, 5)  # exclusive end
    assert "ELT_PARTITIONS_END_DATE" not in os.environ  # passed on explicitly, not exported
    assert dagster_env(tmp_path, dt.date(2018, 9, 5))["ELT_PARTITIONS_END_DATE"] == "2018-09-05"
    monkeypatch.setenv("ELT_PARTITIONS_END_DATE", "2019-01-01")
    assert replay_partitions_end(tmp_path) == dt.date(2019, 1, 1)  # an explicit setting wins
