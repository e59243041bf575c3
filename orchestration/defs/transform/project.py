"""The dbt project and its manifest, prepared the recommended way.

`DbtProject.prepare_if_dev()` re-parses under `dagster dev`; a deployment runs
`dagster-dbt project prepare-and-package` at build time. When neither produced a manifest
(tests, `dagster asset materialize`), it is parsed once at load.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

from orchestration.defs.clickhouse import Relation

INCREMENTAL_SELECT = "config.materialized:incremental"
TABLE_MATERIALIZATIONS = {"table", "incremental", "snapshot", "seed"}


PROJECT_FILE_DIRS = ("models", "macros", "seeds", "snapshots", "tests", "analyses")


def prepare_dbt_project(project_dir: Path, profiles_dir: Path) -> DbtProject:
    project = DbtProject(project_dir=project_dir, profiles_dir=profiles_dir)
    project.prepare_if_dev()
    if manifest_is_stale(project):
        project.preparer.prepare(project)
    return project


def manifest_is_stale(project: DbtProject) -> bool:
    """No manifest, or a project file changed after it was written (then it is parsed again)."""
    if not project.manifest_path.exists():
        return True
    written = project.manifest_path.stat().st_mtime
    files = [project.project_dir / "dbt_project.yml"]
    for folder in PROJECT_FILE_DIRS:
        files += (project.project_dir / folder).rglob("*")
    return any(f.is_file() and f.stat().st_mtime > written for f in files)


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

    def split_levels(self) -> dict[str, int]:
        """Per asset node: the most times a path from the raw tables crosses from one Dagster
        multi-asset to another (dlt -> dbt models <-> dbt incremental), ephemerals see-through.

        In a job Dagster splits a multi-asset check whose assets sit at different levels into
        subsets of one op (`_attempt_resolve_node_cycles`), and such a split check evaluated only
        some of its checks; checks grouped by level are never split."""
        nodes = self.data["nodes"]
        levels: dict[str, int] = {}

        def owner(unique_id: str) -> str:
            node = nodes.get(unique_id)
            if node is None:
                return "raw"  # a source: the dlt assets
            return "incremental" if self.is_incremental(node) else "models"

        def parents(unique_id: str) -> set[str]:
            out: set[str] = set()
            for parent in (nodes.get(unique_id) or {}).get("depends_on", {}).get("nodes", []):
                node = nodes.get(parent)
                if node is not None and (node.get("config") or {}).get("materialized") == (
                    "ephemeral"
                ):
                    out |= parents(parent)
                elif node is None or node["resource_type"] in ("model", "seed", "snapshot"):
                    out.add(parent)
            return out

        def level(unique_id: str) -> int:
            if unique_id not in nodes:
                return 0
            if unique_id not in levels:
                levels[unique_id] = 0  # guards against cycles in broken manifests
                levels[unique_id] = max(
                    (level(p) + (owner(p) != owner(unique_id)) for p in parents(unique_id)),
                    default=0,
                )
            return levels[unique_id]

        return {n["unique_id"]: level(n["unique_id"]) for n in self.asset_nodes}

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
