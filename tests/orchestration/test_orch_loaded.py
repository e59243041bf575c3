"""The one record of what is loaded, on a fixture source of its own (not the Jaffle example):
after a full load the landing sensor requests nothing, one new file is one run, the next tick
none; a partition window with files but 0 rows in it fails, naming the window and the files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from endpoint_support import local_endpoint, patched_environ

pytestmark = pytest.mark.integration

SOURCE = "fx_loaded"
EVENTS = dg.AssetKey(["raw", SOURCE, "events"])
PLACES = dg.AssetKey(["raw", SOURCE, "places"])
READINGS = dg.AssetKey(["raw", SOURCE, "readings"])
START = dt.date(2021, 3, 1)
END = dt.date(2021, 3, 4)  # partitions 03-01 .. 03-03

EVENTS_YAML = f"""
name: events
files:
  path: {SOURCE}/events/*.csv
columns:
  - name: id
    type: int64
  - name: happened_at
    type: timestamp(6, UTC)
primary_key: [id]
clickhouse:
  engine: ReplacingMergeTree
  order_by: [id]
partitioning:
  column: happened_at
  start: {START.isoformat()}
schedule: "0 6 * * *"
"""

PLACES_YAML = f"""
name: places
files:
  path: {SOURCE}/places/*.csv
columns:
  - name: id
    type: int64
  - name: name
    type: string
primary_key: [id]
schedule: "0 6 * * *"
"""


READINGS_YAML = f"""
name: readings
files:
  path: {SOURCE}/readings/*.parquet
  format: parquet
columns:
  - name: id
    type: int64
  - name: value
    type: string
primary_key: [id]
schedule: "0 6 * * *"
"""


def write_day(landing: Path, day: dt.date, ids: range, on: dt.date | None = None) -> Path:
    """A daily file `events/<day>.csv`; its rows happen on `on` (default: the day itself)."""
    on = on or day
    path = landing / SOURCE / "events" / f"{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{i},{on.isoformat()}T10:00:00Z\n" for i in ids)
    path.write_text("id,happened_at\n" + rows)
    return path


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A fresh endpoint, landing dir, dlt dir and Dagster instance; Definitions of the fixture
    source built from the same pieces as the code location (dlt assets, jobs, landing sensor)."""
    from ingestion.schema import load_schemas
    from orchestration.defs.automation.jobs import ingestion_jobs
    from orchestration.defs.automation.schedules import ingestion_schedules
    from orchestration.defs.ingestion.assets import build_dlt_assets
    from orchestration.defs.ingestion.sensors import build_landing_sensor
    from orchestration.defs.partitions import table_partitions
    from orchestration.defs.resources import clickhouse_resource
    from orchestration.defs.translators import DltTranslator

    root = tmp_path_factory.mktemp("orch-loaded")
    schemas = root / "schemas" / SOURCE
    schemas.mkdir(parents=True)
    (schemas / "events.yml").write_text(EVENTS_YAML)
    (schemas / "places.yml").write_text(PLACES_YAML)
    (schemas / "readings.yml").write_text(READINGS_YAML)
    landing = root / "landing"
    env = {"ELT_LANDING_DIR": str(landing), "ELT_DLT_DIR": str(root / "dlt")}
    with local_endpoint(root / "warehouse"), patched_environ(env):
        specs = load_schemas(root / "schemas")
        partitions = {EVENTS: table_partitions(START, end=END)}
        translator = DltTranslator({(t.source, t.name): t for t in specs})
        assets = build_dlt_assets(specs, partitions=partitions, translator=translator)
        jobs = ingestion_jobs(specs, partitions)
        sensor = build_landing_sensor(
            SOURCE,
            specs,
            {d: j for (_, d), j in jobs.items()},
            partitions,
            dg.DefaultSensorStatus.STOPPED,
        )
        defs = dg.Definitions(
            assets=assets,
            jobs=list(jobs.values()),
            schedules=ingestion_schedules(specs, jobs, dg.DefaultScheduleStatus.STOPPED),
            sensors=[sensor],
            resources={"clickhouse": clickhouse_resource(), "dlt": dg_dlt()},
        )
        with dg.instance_for_test() as instance:
            yield {"defs": defs, "landing": landing, "instance": instance, "assets": assets}


def dg_dlt() -> Any:
    from dagster_dlt import DagsterDltResource

    return DagsterDltResource()


def tick(fx: dict[str, Any], cursor: str | None) -> dg.SensorResult:
    repo = fx["defs"].get_repository_def()
    context = dg.build_sensor_context(instance=fx["instance"], cursor=cursor, repository_def=repo)
    return repo.get_sensor_def(f"{SOURCE}_landing_sensor").evaluate_tick(context)


def materialize(fx: dict[str, Any], key: dg.AssetKey, partition: str | None = None) -> Any:
    assets = [a for a in fx["assets"] if key in a.keys]
    return dg.materialize(
        assets,
        selection=[key],
        partition_key=partition,
        instance=fx["instance"],
        resources=fx["defs"].resources,
        raise_on_error=False,
    )


def rows(sql: str) -> list[tuple]:
    from core.clickhouse import clickhouse_client

    client = clickhouse_client()
    try:
        return list(client.query(sql).result_rows)
    finally:
        client.close()


def test_after_a_full_load_the_sensor_requests_nothing_then_one_run_per_new_file(
    fx: dict[str, Any],
) -> None:
    landing: Path = fx["landing"]
    write_day(landing, START, range(1, 4))
    write_day(landing, START + dt.timedelta(days=1), range(4, 6))
    (landing / SOURCE / "places").mkdir(parents=True)
    (landing / SOURCE / "places" / "places.csv").write_text("id,name\n1,a\n2,b\n")

    # the full load, as `elt demo` runs it: the unpartitioned table, then each landed day
    assert materialize(fx, PLACES).success
    for day in ("2021-03-01", "2021-03-02"):
        assert materialize(fx, EVENTS, day).success
    assert rows(f"select count() from raw.{SOURCE}___events final") == [(5,)]

    first = tick(fx, None)  # a sensor that starts after the load, with an empty cursor
    assert first.run_requests == []

    write_day(landing, START + dt.timedelta(days=2), range(6, 9))
    second = tick(fx, first.cursor)
    assert [(r.partition_key, r.asset_selection) for r in second.run_requests] == [
        ("2021-03-03", [EVENTS])
    ]
    third = tick(fx, second.cursor)  # the run is queued, not loaded yet: not requested again
    assert third.run_requests == []

    assert materialize(fx, EVENTS, "2021-03-03").success
    assert tick(fx, third.cursor).run_requests == []
    assert tick(fx, None).run_requests == []  # the record alone says it is loaded

    # a changed file of the unpartitioned table is one run of that table
    (landing / SOURCE / "places" / "places.csv").write_text("id,name\n1,a\n2,b\n3,c\n")
    changed = tick(fx, None)
    assert [(r.partition_key, r.asset_selection) for r in changed.run_requests] == [
        (None, [PLACES])
    ]


def schedule_tick(fx: dict[str, Any], name: str, at: dt.datetime) -> Any:
    repo = fx["defs"].get_repository_def()
    context = dg.build_schedule_context(
        instance=fx["instance"], scheduled_execution_time=at, repository_def=repo
    )
    return repo.get_schedule_def(name).evaluate_tick(context)


def test_schedules_read_the_record_and_request_only_what_is_not_loaded(
    fx: dict[str, Any],
) -> None:
    """After the test above: every day loaded, places.csv changed since its load."""
    daily = f"ingest_{SOURCE}_daily_schedule"
    for at in (
        dt.datetime(2021, 3, 3, 6, tzinfo=dt.UTC),
        dt.datetime(2021, 3, 4, 6, tzinfo=dt.UTC),
    ):
        data = schedule_tick(fx, daily, at)
        assert data.run_requests == []
        assert "already loaded" in data.skip_message, data.skip_message

    others = f"ingest_{SOURCE}_schedule"
    data = schedule_tick(fx, others, dt.datetime(2021, 3, 4, 6, tzinfo=dt.UTC))
    assert len(data.run_requests) == 1  # places.csv changed: one run
    assert materialize(fx, PLACES).success
    data = schedule_tick(fx, others, dt.datetime(2021, 3, 5, 6, tzinfo=dt.UTC))
    assert data.run_requests == []
    assert data.skip_message == "all 1 landing file(s) already loaded"

    # a new day's file: the daily schedule requests that day
    write_day(fx["landing"], START + dt.timedelta(days=2), range(6, 10))
    data = schedule_tick(fx, daily, dt.datetime(2021, 3, 4, 6, tzinfo=dt.UTC))
    assert [r.partition_key for r in data.run_requests] == ["2021-03-03"]
    assert materialize(fx, EVENTS, "2021-03-03").success


def test_a_window_with_files_and_no_rows_in_it_fails_naming_window_and_files(
    fx: dict[str, Any],
) -> None:
    day = START + dt.timedelta(days=2)
    # the file is named for 03-03 but its rows happened a year earlier
    path = write_day(fx["landing"], day, range(20, 23), on=dt.date(2020, 3, 3))
    result = materialize(fx, EVENTS, day.isoformat())
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "[2021-03-03T00:00:00+00:00, 2021-03-04T00:00:00+00:00)" in message
    assert str(path) in message
    assert "loaded 0 rows" in message


def test_materialization_metadata_tells_the_truth(fx: dict[str, Any]) -> None:
    """On a real partition run: row count under FINAL (stored versions labelled), the
    partition's own rows, ClickHouse column types, no local paths, nothing unserializable."""
    write_day(fx["landing"], START, range(1, 4))  # the same rows again: 3 stored duplicates
    assert materialize(fx, EVENTS, "2021-03-01").success
    record = fx["instance"].fetch_materializations(EVENTS, limit=1).records[0]
    metadata = record.asset_materialization.metadata
    final = rows(f"select count() from raw.{SOURCE}___events final")[0][0]
    stored = rows(
        f"select sum(rows) from system.parts where active and table = '{SOURCE}___events'"
    )
    assert metadata["dagster/row_count"].value == final
    assert metadata["clickhouse/stored_row_versions"].value == stored[0][0] >= final
    assert metadata["dagster/partition_row_count"].value == 3  # of 2021-03-01, not the table
    assert final > 3
    types = {c.name: c.type for c in metadata["dagster/column_schema"].schema.columns}
    assert types == {"id": "Int64", "happened_at": "DateTime64(6, 'UTC')"}
    text = repr(metadata)
    assert "unserializable" not in text
    assert str(fx["landing"].parent) not in text  # no local file paths (dlt's working dir)


def test_the_raw_assets_definition_metadata_is_all_serializable(fx: dict[str, Any]) -> None:
    """What the UI shows of a raw asset's definition: its table, columns, key; no dlt objects
    ("(unserializable)")."""
    from dagster._core.remote_representation.external_data import RepositorySnap

    snap = RepositorySnap.from_def(fx["defs"].get_repository_def())
    (node,) = [n for n in snap.asset_nodes if n.asset_key == EVENTS]
    assert "unserializable" not in repr(node.metadata)
    assert {"dagster/column_schema", "dagster/table_name", "primary_key"} <= set(node.metadata)


def test_an_unreadable_file_fails_the_step_after_the_other_files_load(fx: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingestion.loaded import landed_files
    from ingestion.schema import load_schemas

    folder = fx["landing"] / SOURCE / "readings"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2], "value": ["a", "b"]}), folder / "good.parquet")
    (folder / "bad.parquet").write_bytes(b"id,value\n3,c\n")  # CSV text, not parquet

    result = materialize(fx, READINGS)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "1 file(s) could not be read; the other files loaded (2 row(s))" in message
    assert "bad.parquet" in message and "good.parquet" not in message
    assert rows(f"select id from raw.{SOURCE}___readings final order by id") == [(1,), (2,)]
    # the record holds the good file only: the next run reads the bad one again, and only it
    specs = [s for s in load_schemas(fx["landing"].parent / "schemas") if s.name == "readings"]
    loaded = {f.ref.name: f.loaded for f in landed_files(specs, fx["landing"])}
    assert loaded == {"good.parquet": True, "bad.parquet": False}
