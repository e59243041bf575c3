"""This project's Dagster components (registered for `dg` in pyproject.toml)."""

from orchestration.components.project import EltProjectComponent

__all__ = ["EltProjectComponent"]
