"""The dbt project as dagster-dbt's `DbtProjectComponent`, with what this platform needs on top:
its translator (keys, groups, freshness), the incremental models daily-partitioned by the raw
tables they read, ClickHouse metadata and checks (`orchestration.factory.model_defs`).

The manifest is prepared once, in place (`elt dev`, `elt demo`, the image build, or
`dg utils refresh-defs-state`), and only read when definitions load."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster.components.utils.defs_state import DefsStateConfig, DefsStateManagementType
from dagster_dbt import DagsterDbtTranslator, DbtProjectComponent

from core.settings import settings
from orchestration.defs.transform.project import manifest_path, prepare_manifest
from orchestration.factory import model_defs
from orchestration.inputs import location_inputs


@dataclass
class EltDbtProjectComponent(DbtProjectComponent):
    """`project` names the dbt project (its defs.yaml passes the settings' paths)."""

    @staticmethod
    @dg.template_var
    def dbt_project_dir() -> str:
        return str(settings().project.dbt_project_dir)

    @staticmethod
    @dg.template_var
    def dbt_profiles_dir() -> str:
        return str(settings().project.dbt_profiles_dir)

    @property
    def defs_state_config(self) -> DefsStateConfig:
        # the prepared manifest stays in the project (never copied, never parsed at load)
        return DefsStateConfig(
            key=f"EltDbtProjectComponent[{Path(self.dbt_project.project_dir).name}]",
            management_type=DefsStateManagementType.LOCAL_FILESYSTEM,
            refresh_if_dev=False,
        )

    @cached_property
    def translator(self) -> DagsterDbtTranslator:
        return location_inputs().models.translator

    def write_state_to_path(self, state_path: Path) -> None:
        """`dg utils refresh-defs-state`: prepare the manifest in place and record where it is."""
        project = self.dbt_project
        prepare_manifest(Path(project.project_dir), Path(project.profiles_dir))
        state_path.write_text(str(manifest_path(Path(project.project_dir))))

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return self.build_defs_from_state(context, state_path=None)

    def build_defs_from_state(
        self, context: dg.ComponentLoadContext, state_path: Path | None
    ) -> dg.Definitions:
        models = location_inputs().models
        declared = Path(self.dbt_project.project_dir).resolve()
        if declared != Path(models.project.project_dir).resolve():
            raise ValueError(
                f"{context.path}/defs.yaml: project {declared} is not the settings' dbt project "
                f"{models.project.project_dir} (set ELT_DBT_PROJECT_DIR instead)"
            )
        return model_defs(models)
