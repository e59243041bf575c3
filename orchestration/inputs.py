"""What the code location is built from: the schema YAMLs with their partitions, the prepared
dbt project with its manifest, and the sensor/schedule default statuses."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtProject

from core.settings import settings
from ingestion.schema import TableSpec, load_schemas
from orchestration.defs import naming
from orchestration.defs.naming import table_key
from orchestration.defs.partitions import Daily, model_partitions, table_partitions
from orchestration.defs.transform.project import Manifest, manifest_path, prepared_dbt_project
from orchestration.defs.translators import DbtTranslator


@dataclass(frozen=True)
class ProjectPaths:
    """Where the code location finds its inputs (env overrides, then repository defaults)."""

    dbt_project_dir: Path = field(default_factory=lambda: settings().project.dbt_project_dir)
    dbt_profiles_dir: Path = field(default_factory=lambda: settings().project.dbt_profiles_dir)
    schemas_dir: Path = field(default_factory=lambda: settings().project.schemas_dir)


@dataclass(frozen=True)
class Statuses:
    """Sensors and schedules start running by default unless ELT_DAGSTER_AUTOSTART=0."""

    sensor: dg.DefaultSensorStatus
    schedule: dg.DefaultScheduleStatus

    @classmethod
    def from_settings(cls) -> Statuses:
        on = settings().run.dagster_autostart
        return cls(
            dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED,
            dg.DefaultScheduleStatus.RUNNING if on else dg.DefaultScheduleStatus.STOPPED,
        )


@dataclass(frozen=True)
class Tables:
    """The schema YAMLs and each daily-partitioned table's own partitions (its YAML's start)."""

    specs: list[TableSpec]
    partitions: dict[dg.AssetKey, Daily]

    @classmethod
    def load(cls, schemas_dir: Path, partitions_end: dt.date | None = None) -> Tables:
        specs = sorted(load_schemas(schemas_dir), key=lambda s: (s.source, s.name))
        partitions = {
            table_key(t): table_partitions(t.partition_start, end=partitions_end)
            for t in specs
            if t.partition_start is not None
        }
        return cls(specs, partitions)


@dataclass(frozen=True)
class Models:
    """The prepared dbt project: its manifest, asset keys, and the daily partitions of the
    incremental models (those of the raw tables they read)."""

    project: DbtProject
    manifest: Manifest
    translator: DbtTranslator
    keys: dict[str, dg.AssetKey]  # by unique id
    partitions: dict[str, Daily]  # incremental models, by unique id

    @classmethod
    def load(cls, project: DbtProject, tables: Tables) -> Models:
        manifest = Manifest.load(project.manifest_path)
        manifest.attach_tests_to_last_parent()
        translator = DbtTranslator()
        incremental = [n["unique_id"] for n in manifest.asset_nodes if manifest.is_incremental(n)]
        partitions = model_partitions(
            incremental, _upstream_raw(manifest, incremental, translator), tables.partitions
        )
        keys = {n["unique_id"]: naming.dbt_asset_key(n) for n in manifest.asset_nodes}
        return cls(project, manifest, translator, keys, partitions)

    @property
    def partitions_by_key(self) -> dict[dg.AssetKey, Daily]:
        return {self.keys[u]: d for u, d in self.partitions.items()}


@dataclass(frozen=True)
class Inputs:
    paths: ProjectPaths
    tables: Tables
    models: Models
    statuses: Statuses

    @classmethod
    def load(cls, paths: ProjectPaths, partitions_end: dt.date | None = None) -> Inputs:
        tables = Tables.load(paths.schemas_dir, partitions_end)
        project = prepared_dbt_project(paths.dbt_project_dir, paths.dbt_profiles_dir)
        return cls(paths, tables, Models.load(project, tables), Statuses.from_settings())


def location_inputs() -> Inputs:
    """The code location's inputs from the settings' paths, read once per process and again
    only when a schema YAML or the manifest changed (its parts share them)."""
    paths = ProjectPaths()
    return _cached_inputs(paths, _fingerprint(paths))


@functools.lru_cache(maxsize=2)
def _cached_inputs(paths: ProjectPaths, fingerprint: tuple[object, ...]) -> Inputs:
    return Inputs.load(paths)


def _fingerprint(paths: ProjectPaths) -> tuple[object, ...]:
    files = [*sorted(paths.schemas_dir.rglob("*.yml")), manifest_path(paths.dbt_project_dir)]
    return (
        settings().run.partitions_end_date,
        tuple((str(f), f.stat().st_mtime_ns if f.exists() else None) for f in files),
    )


def _upstream_raw(
    manifest: Manifest, models: list[str], translator: DbtTranslator
) -> dict[str, set[dg.AssetKey]]:
    """The raw-table keys (dbt sources) each model reads, through any models in between."""
    nodes, sources = manifest.data["nodes"], manifest.data["sources"]
    found: dict[str, set[dg.AssetKey]] = {}

    def walk(unique_id: str) -> set[dg.AssetKey]:
        if unique_id in sources:
            return {translator.get_asset_key(sources[unique_id])}
        if unique_id not in found:
            found[unique_id] = set()  # a cycle guard; dbt graphs have none
            parents = (nodes.get(unique_id) or {}).get("depends_on", {}).get("nodes", [])
            found[unique_id] = set().union(*(walk(p) for p in parents))
        return found[unique_id]

    return {m: walk(m) for m in models}
