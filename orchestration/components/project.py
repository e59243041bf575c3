"""The code location as a component: the schema-YAML tables (dlt assets, their checks,
schedules, sensors), the dbt project and the parts under `orchestration/defs/`.

`orchestration/defs/defs.yaml` instantiates it; paths left out come from the settings
(`core/settings.py`), like everywhere else."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.factory import ProjectPaths, build_definitions


class EltProjectComponent(dg.Component, dg.Model, dg.Resolvable):
    """Definitions built from `schemas_dir` (ingestion/schemas) and the prepared dbt project."""

    schemas_dir: str | None = None
    dbt_project_dir: str | None = None
    dbt_profiles_dir: str | None = None

    def _paths(self, root: Path) -> ProjectPaths:
        given = {
            name: root / value
            for name, value in (
                ("schemas_dir", self.schemas_dir),
                ("dbt_project_dir", self.dbt_project_dir),
                ("dbt_profiles_dir", self.dbt_profiles_dir),
            )
            if value
        }
        return ProjectPaths(**given)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_definitions(self._paths(context.project_root))
