"""This project's Dagster components (`registry_modules` in pyproject.toml's `[tool.dg]`)."""

from orchestration.components.analytics import AnalyticsComponent
from orchestration.components.dbt_project import EltDbtProjectComponent
from orchestration.components.schema_tables import SchemaTablesComponent

__all__ = ["AnalyticsComponent", "EltDbtProjectComponent", "SchemaTablesComponent"]
