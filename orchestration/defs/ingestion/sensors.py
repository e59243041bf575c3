"""Landing-file sensors: one per source, watching its tables' file globs under ELT_LANDING_DIR.

What is loaded comes from the ingestion's own record (`ingestion.loaded`: one query per source)
and a listing of the landing files, so a sensor started after `elt demo` requests nothing. New or
changed daily files of a partitioned table (`<table>/2018-09-05.csv`) start a run of that day's
partition; other new files one run of the tables they belong to. The cursor holds only the files
handed to runs that have not loaded yet (so a queued run is not requested twice); a tick is one
query and one listing, and the sensor's minimum interval keeps it from crowding the others.
"""
# no `from __future__ import annotations`: Dagster reads the context and resource annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import dagster as dg

from core.settings import settings
from ingestion.loaded import landed_files
from ingestion.schema import TableSpec
from orchestration.defs import naming
from orchestration.defs.automation.jobs import AssetJob
from orchestration.defs.partitions import Daily

SENSOR_INTERVAL_SECONDS = 60


def default_landing_dir() -> Path:
    return Path(settings().paths.landing_dir)


def _sorted(keys: set[dg.AssetKey]) -> list[dg.AssetKey]:
    return sorted(keys, key=lambda k: k.to_user_string())


def _run_key(prefix: str, files: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()[:16]
    return f"{prefix}:{digest}"


def build_landing_sensor(
    source: str,
    specs: Sequence[TableSpec],
    jobs: Mapping[Daily | None, AssetJob],
    partitions: Mapping[dg.AssetKey, Daily],
    default_status: dg.DefaultSensorStatus,
    landing_dir: Callable[[], Path] = default_landing_dir,
) -> dg.SensorDefinition:
    local = [s for s in specs if s.files is not None and "://" not in s.files.path]

    @dg.sensor(
        name=f"{source}_landing_sensor",
        jobs=list(jobs.values()),
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status,
        description=f"Starts ingestion of {source} when new files land (one run per file set).",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        handed: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        files = landed_files(local, landing_dir())
        # files handed to a run stay in the cursor until the record shows them loaded
        handed = {
            f.key: f.ref.fingerprint
            for f in files
            if not f.loaded and handed.get(f.key) == f.ref.fingerprint
        }
        new = [f for f in files if not f.loaded and f.key not in handed]
        if not new:
            return dg.SensorResult(
                skip_reason=dg.SkipReason("no new files"), cursor=json.dumps(handed, sort_keys=True)
            )

        # runs per (partitions definition, day): each table's days are its own
        by_day: dict[tuple[Daily, str], dict[str, str]] = {}
        keys_by_day: dict[tuple[Daily, str], set[dg.AssetKey]] = {}
        other: dict[str, str] = {}
        other_keys: set[dg.AssetKey] = set()
        for file in new:
            key = naming.raw_table_key(file.spec.source, file.spec.name)
            definition = partitions.get(key)
            if definition is not None:
                day = file.day.isoformat() if file.day else None
                if day and definition in jobs and definition.has_partition_key(day):
                    by_day.setdefault((definition, day), {})[file.key] = file.ref.fingerprint
                    keys_by_day.setdefault((definition, day), set()).add(key)
                continue  # a day outside the partitions (future, before start) waits
            if None in jobs:
                other[file.key] = file.ref.fingerprint
                other_keys.add(key)

        requests = [
            dg.RunRequest(
                run_key=_run_key(f"{source}:{day}", day_files),
                job_name=jobs[definition].name,
                partition_key=day,
                asset_selection=_sorted(keys_by_day[(definition, day)]),
                tags={"elt/trigger": "landing_files", "elt/files": str(len(day_files))},
            )
            for (definition, day), day_files in sorted(
                by_day.items(), key=lambda item: (item[0][1], jobs[item[0][0]].name)
            )
        ]
        if other:
            requests.append(
                dg.RunRequest(
                    run_key=_run_key(source, other),
                    job_name=jobs[None].name,
                    asset_selection=_sorted(other_keys),
                    tags={"elt/trigger": "landing_files", "elt/files": str(len(other))},
                )
            )
        for day_files in (other, *by_day.values()):
            handed.update(day_files)
        context.log.info(f"{len(new)} new file(s) -> {len(requests)} run request(s)")
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(handed, sort_keys=True))

    return _sensor
