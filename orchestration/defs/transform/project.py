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


def prepare_dbt_project(project_dir: Path, profiles_dir: Path) -> DbtProject:
    project = DbtProject(project_dir=project_dir, profiles_dir=profiles_dir)
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
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

    def child_map(self) -> Mapping[str, list[str]]:
        return self.data.get("child_map", {})
