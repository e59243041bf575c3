"""Landing-file sensors: one per source, watching its tables' file globs under ELT_LANDING_DIR.

The cursor remembers every file (path -> mtime and size) already handed to a run, so a file set
starts exactly one run and never a second one. New daily files of a partitioned table
(`<table>/2018-09-05.csv`) start a run of that day's partition; other new files one run of the
tables they belong to.
"""
# no `from __future__ import annotations`: Dagster reads the context and resource annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import dagster as dg

from core.settings import settings
from orchestration.defs.automation.jobs import AssetJob
from orchestration.defs.raw_tables import RawTable

DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def default_landing_dir() -> Path:
    return Path(settings().paths.landing_dir)


def scan(landing_dir: Path, tables: Sequence[RawTable]) -> dict[str, tuple[RawTable, str]]:
    """Every landed file of `tables`: relative path -> (table, "mtime_ns:size")."""
    found: dict[str, tuple[RawTable, str]] = {}
    for table in tables:
        if not table.landing_glob:
            continue
        for path in sorted(landing_dir.glob(table.landing_glob)):
            if path.is_file():
                stat = path.stat()
                rel = path.relative_to(landing_dir).as_posix()
                found[rel] = (table, f"{stat.st_mtime_ns}:{stat.st_size}")
    return found


def file_day(path: str) -> str | None:
    match = DAY_IN_NAME.search(Path(path).name)
    if not match:
        return None
    try:
        return dt.date.fromisoformat(match[1]).isoformat()
    except ValueError:
        return None


def _sorted(keys: set[dg.AssetKey]) -> list[dg.AssetKey]:
    return sorted(keys, key=lambda k: k.to_user_string())


def _run_key(prefix: str, files: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()[:16]
    return f"{prefix}:{digest}"


def build_landing_sensor(
    source: str,
    tables: Sequence[RawTable],
    jobs: Mapping[bool, AssetJob],
    daily: dg.TimeWindowPartitionsDefinition,
    default_status: dg.DefaultSensorStatus,
    landing_dir: Callable[[], Path] = default_landing_dir,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{source}_landing_sensor",
        jobs=list(jobs.values()),
        minimum_interval_seconds=60,
        default_status=default_status,
        description=f"Starts ingestion of {source} when new files land (one run per file set).",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        current = scan(landing_dir(), tables)
        new = {p: (t, sig) for p, (t, sig) in current.items() if seen.get(p) != sig}
        if not new:
            return dg.SensorResult(skip_reason=dg.SkipReason("no new files"))

        last_day = daily.get_last_partition_key()
        first_day = daily.get_first_partition_key()
        by_day: dict[str, dict[str, str]] = {}
        other: dict[str, str] = {}
        keys_by_day: dict[str, set[dg.AssetKey]] = {}
        other_keys: set[dg.AssetKey] = set()
        for path, (table, sig) in new.items():
            day = file_day(path) if table.partitioned else None
            if day is not None and True in jobs:
                if first_day and last_day and first_day <= day <= last_day:
                    by_day.setdefault(day, {})[path] = sig
                    keys_by_day.setdefault(day, set()).add(table.key)
                continue  # a day outside the partitions (future, before start) waits
            if False in jobs and not table.partitioned:
                other[path] = sig
                other_keys.add(table.key)

        requests = [
            dg.RunRequest(
                run_key=_run_key(f"{source}:{day}", files),
                job_name=jobs[True].name,
                partition_key=day,
                asset_selection=_sorted(keys_by_day[day]),
                tags={"elt/trigger": "landing_files", "elt/files": str(len(files))},
            )
            for day, files in sorted(by_day.items())
        ]
        if other:
            requests.append(
                dg.RunRequest(
                    run_key=_run_key(source, other),
                    job_name=jobs[False].name,
                    asset_selection=_sorted(other_keys),
                    tags={"elt/trigger": "landing_files", "elt/files": str(len(other))},
                )
            )
        handed = set(other) | {p for files in by_day.values() for p in files}
        cursor = {**seen, **{p: new[p][1] for p in handed}}
        context.log.info(f"{len(handed)} new file(s) -> {len(requests)} run request(s)")
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return _sensor
