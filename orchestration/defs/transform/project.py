"""The dbt project and its manifest: prepared once, only read where definitions load.

`prepare_manifest` runs `dbt parse` when the manifest is missing or older than a project file
(the one staleness rule); `elt dev` calls it when it starts, with the warehouse up, as `dbt
compile` (the asset descriptions then show compiled SQL); `elt demo` runs the same in a dbt
process beside its ingestion (`ManifestPreparation`); and the image build
runs `dagster-dbt project prepare-and-package --file orchestration/defs/transform/project.py`
(which prepares `DBT_PROJECT` below). Loading definitions (code server, run and step processes)
never parses: concurrent runs only read the manifest.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

from core.settings import settings
from orchestration.defs.clickhouse import Relation

TABLE_MATERIALIZATIONS = {"table", "incremental", "snapshot", "seed"}

WATCHED_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md", ".py"}
WATCHED_DIRS = ("models", "macros", "seeds", "snapshots", "tests", "analyses")


def dbt_executable() -> str:
    """The dbt of this environment (next to the running Python), else the one on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def dbt_project(project_dir: Path | None = None, profiles_dir: Path | None = None) -> DbtProject:
    return DbtProject(
        project_dir=project_dir or settings().project.dbt_project_dir,
        profiles_dir=profiles_dir or settings().project.dbt_profiles_dir,
    )


# what `dagster-dbt project prepare-and-package --file <this file>` prepares (image build)
DBT_PROJECT = dbt_project()


def manifest_path(project_dir: Path) -> Path:
    return project_dir / "target" / "manifest.json"


def _inputs(project_dir: Path, profiles_dir: Path) -> Iterator[Path]:
    yield project_dir / "dbt_project.yml"
    yield profiles_dir / "profiles.yml"
    for name in WATCHED_DIRS:
        folder = project_dir / name
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.suffix in WATCHED_SUFFIXES and path.is_file():
                    yield path


def stale_inputs(project_dir: Path, profiles_dir: Path) -> list[Path]:
    """Project files newer than the manifest (all of them when there is no manifest)."""
    manifest = manifest_path(project_dir)
    built = manifest.stat().st_mtime if manifest.exists() else float("-inf")
    return [
        p for p in _inputs(project_dir, profiles_dir) if p.exists() and p.stat().st_mtime > built
    ]


def prepare_manifest(
    project_dir: Path | None = None, profiles_dir: Path | None = None, *, compile_sql: bool = False
) -> bool:
    """Run `dbt parse` (or `dbt compile` with `compile_sql`: it needs the warehouse, and the
    manifest then holds each model's compiled SQL for the asset descriptions) if the manifest
    is missing or stale; True if it was (re)built.

    dbt runs in this process (dbt's programmatic `dbtRunner`): dagster-dbt has imported most of
    dbt already, so this saves a dbt process's start (about 3 s of a cold `elt demo`)."""
    project_dir = project_dir or settings().project.dbt_project_dir
    profiles_dir = profiles_dir or settings().project.dbt_profiles_dir
    if not stale_inputs(project_dir, profiles_dir):
        return False
    run_dbt(_preparation_args(compile_sql, project_dir, profiles_dir))
    manifest_path(project_dir).touch()  # partial parse may leave the file's time unchanged
    return True


def _preparation_args(compile_sql: bool, project_dir: Path, profiles_dir: Path) -> list[str]:
    command = "compile" if compile_sql else "parse"
    return [
        command,
        "--quiet",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir),
    ]


class ManifestPreparation:
    """`prepare_manifest` in a dbt process of its own, so the caller works meanwhile (`elt demo`
    ingests while dbt compiles); `wait()` returns what `prepare_manifest` returns and raises
    its error. Nothing runs when the manifest is up to date."""

    def __init__(
        self,
        project_dir: Path | None = None,
        profiles_dir: Path | None = None,
        *,
        compile_sql: bool = False,
        needed: bool = True,
    ) -> None:
        self.project_dir = project_dir or settings().project.dbt_project_dir
        profiles_dir = profiles_dir or settings().project.dbt_profiles_dir
        self.command = "compile" if compile_sql else "parse"
        self.process: subprocess.Popen[bytes] | None = None
        self.finished = False
        self.failure: RuntimeError | None = None
        if not needed or not stale_inputs(self.project_dir, profiles_dir):
            return
        args = _preparation_args(compile_sql, self.project_dir, profiles_dir)
        self.process = subprocess.Popen(  # --quiet: the output is dbt's errors
            [dbt_executable(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    @property
    def rebuilding(self) -> bool:
        return self.process is not None

    def wait(self) -> bool:
        if self.process is not None and not self.finished:
            output, _ = self.process.communicate()
            self.finished = True
            code = self.process.returncode
            if code == 0:
                manifest_path(self.project_dir).touch()
            else:
                detail = output.decode(errors="replace").strip() or f"exit code {code}"
                self.failure = RuntimeError(f"dbt {self.command} failed:\n{detail}")
        if self.failure is not None:
            raise self.failure  # asked again, the same answer
        return self.process is not None

    def close(self) -> None:
        """Let a preparation still running finish (a killed dbt may leave half a manifest)."""
        if self.process is not None and not self.finished:
            self.finished = True
            self.process.communicate()


def run_dbt(args: list[str]) -> None:
    """One dbt command in this process; its error events in the exception if it fails."""
    from dbt.cli.main import dbtRunner

    errors: list[str] = []

    def keep_errors(event: Any) -> None:
        if event.info.level == "error":
            errors.append(event.info.msg)

    result = dbtRunner(callbacks=[keep_errors]).invoke(args)
    if not result.success:
        detail = "\n".join(errors) or str(result.exception or result.result)
        raise RuntimeError(f"dbt {args[0]} failed:\n{detail}")


def prepared_dbt_project(project_dir: Path, profiles_dir: Path) -> DbtProject:
    """The dbt project whose manifest was prepared beforehand; never parses."""
    project = dbt_project(project_dir, profiles_dir)
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"no dbt manifest at {project.manifest_path}: prepare it first with `elt dev`, "
            "`elt demo`, `dbt parse` or `dagster-dbt project prepare-and-package "
            "--file orchestration/defs/transform/project.py`"
        )
    return project


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest plus the few questions orchestration asks of it."""

    data: Mapping[str, Any]

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls(json.loads(path.read_text()))

    @cached_property
    def asset_nodes(self) -> list[Mapping[str, Any]]:
        return [
            node
            for node in self.data["nodes"].values()
            if node["resource_type"] in ("model", "seed", "snapshot")
            and (node.get("config") or {}).get("materialized") != "ephemeral"
        ]

    def sources(self) -> list[Mapping[str, Any]]:
        return list(self.data["sources"].values())

    def is_incremental(self, node: Mapping[str, Any]) -> bool:
        return (node.get("config") or {}).get("materialized") == "incremental"

    def relation(self, node: Mapping[str, Any]) -> Relation:
        return Relation(node["schema"], node.get("alias") or node["name"])

    def is_table(self, node: Mapping[str, Any]) -> bool:
        materialized = (node.get("config") or {}).get("materialized")
        return (
            node["resource_type"] in ("seed", "snapshot") or materialized in TABLE_MATERIALIZATIONS
        )

    def relations_by_unique_id(self) -> dict[str, Relation]:
        return {n["unique_id"]: self.relation(n) for n in self.asset_nodes if self.is_table(n)}

    def attach_tests_to_last_parent(self) -> int:
        """Make a test with several model parents (e.g. `relationships`) an asset check of the
        parent built last (deepest in the DAG) instead of dbt's attached node.

        The incremental models and the rest are two `@dbt_assets`; a relationships test from
        `orders` (incremental) to `customers` (downstream of `orders`) attached to `orders` would
        run before `customers` exists. Uses dagster-dbt's `meta.dagster.ref`; returns how many
        tests were re-attached."""
        nodes = self.data["nodes"]
        depth: dict[str, int] = {}

        def depth_of(unique_id: str) -> int:
            if unique_id not in depth:
                depth[unique_id] = 0  # guards against cycles in broken manifests
                parents = (nodes.get(unique_id) or {}).get("depends_on", {}).get("nodes", [])
                depth[unique_id] = 1 + max((depth_of(p) for p in parents), default=0)
            return depth[unique_id]

        moved = 0
        for node in nodes.values():
            if node["resource_type"] != "test":
                continue
            parents = [
                p
                for p in node.get("depends_on", {}).get("nodes", [])
                if (nodes.get(p) or {}).get("resource_type") in ("model", "seed", "snapshot")
            ]
            if len(set(parents)) < 2:
                continue
            meta = node.setdefault("config", {}).setdefault("meta", {})
            dagster_meta = meta.setdefault("dagster", {})
            if dagster_meta.get("ref"):
                continue  # the project decided
            last = nodes[max(parents, key=depth_of)]
            dagster_meta["ref"] = {"name": last["name"], "package": last["package_name"]}
            moved += 1
        return moved
