"""Run configuration of the ingestion assets: `limit` loads exactly that many rows per table,
`full_refresh` reloads everything, bad config is refused with Dagster's error; the same config
from the command line (`dagster asset materialize --config-json`)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from orch_support import materialize_command, query
from pyassets_support import fresh_stack, run_assets
from pydantic import ValidationError

pytestmark = [pytest.mark.integration, pytest.mark.example]  # uses the shipped Jaffle Shop example

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = dg.AssetKey(["raw", "jaffle_shop", "customers"])
ORDERS = dg.AssetKey(["raw", "jaffle_shop", "orders"])
OP = "dlt_jaffle_shop"  # the unpartitioned jaffle_shop tables


def _config(**values: object) -> dict:
    return {"ops": {OP: {"config": values}}}


def _distinct_ids(landing: Path, table: str) -> int:
    ids = set()
    for path in (landing / "jaffle_shop" / table).glob("*.csv"):
        with path.open(newline="") as handle:
            ids |= {row["id"] for row in csv.DictReader(handle)}
    return len(ids)


def _rows(relation: str) -> int:
    return int(query(f"select count() from {relation} final")[0][0])


@pytest.fixture(scope="module")
def stack(
    landing: Path, orch_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dg.Definitions]:
    with fresh_stack(tmp_path_factory.mktemp("run-config")) as defs:
        yield defs


def test_limit_loads_exactly_that_many_rows_and_full_refresh_reloads_all(
    stack: dg.Definitions, landing: Path
) -> None:
    total = _distinct_ids(landing, "customers")
    assert total > 7
    with dg.instance_for_test() as instance:
        assert run_assets(stack, instance, [CUSTOMERS], _config(limit=7)).success
        assert _rows("raw.jaffle_shop___customers") == 7
        assert run_assets(stack, instance, [CUSTOMERS], _config(full_refresh=True)).success
    assert _rows("raw.jaffle_shop___customers") == total
    assert int(query("select count() from raw.jaffle_shop___customers")[0][0]) == total


def test_bad_config_gives_dagsters_error(stack: dg.Definitions) -> None:
    """Wrong names and types: Dagster refuses the run config before the run; a value out of
    bounds: the step fails at its start with pydantic's error naming the field."""
    job = stack.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        for bad, fragment in (
            ({"limt": 5}, 'unexpected config entry "limt"'),
            ({"limit": "many"}, "root:ops:dlt_jaffle_shop:config:limit"),
        ):
            with pytest.raises(dg.DagsterInvalidConfigError, match=fragment):
                job.execute_in_process(
                    instance=instance, asset_selection=[CUSTOMERS], run_config=_config(**bad)
                )
        with pytest.raises(
            ValidationError, match=r"limit\n  Input should be greater than or equal to 1"
        ):
            job.execute_in_process(
                instance=instance, asset_selection=[CUSTOMERS], run_config=_config(limit=0)
            )


def test_full_refresh_of_a_partitioned_table_is_refused(stack: dg.Definitions) -> None:
    job = stack.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[ORDERS],
            partition_key="2018-09-02",
            run_config={"ops": {f"{OP}_daily": {"config": {"full_refresh": True}}}},
            raise_on_error=False,
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "full_refresh drops whole tables" in failure.event_specific_data.error.message


def test_limit_from_the_command_line(stack: dg.Definitions, dagster_home: Path) -> None:
    config = json.dumps(_config(limit=3, full_refresh=True))
    proc = subprocess.run(
        materialize_command(CUSTOMERS.to_user_string(), "--config-json", config),
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _rows("raw.jaffle_shop___customers") == 3
