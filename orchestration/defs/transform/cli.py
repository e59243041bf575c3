"""The `dbt` resource: dagster-dbt's `DbtCliResource` without two costs it pays on every run.

- `dbt --version` in a subprocess to learn the dbt version (about 1.5 s; the resource is made
  anew for each run): the version is read once per process, from the installed dbt-core when
  the executable is this environment's own dbt.
- An in-process dbt adapter (the project's profile and all its macros parsed again, 0.3-1 s),
  which dagster-dbt needs only for `fetch_column_metadata` / `fetch_row_counts`. This project
  reads columns and rows from ClickHouse itself (`transform.assets`), so it makes none;
  dagster-dbt's invocation takes `adapter=None` as it does for the Fusion engine.

Everything else (the dbt process, its events, artifacts, selection) is dagster-dbt's.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource
from packaging.version import Version


@functools.cache
def dbt_version(executable: str) -> Version:
    """The version of the dbt at `executable`, asked once per process."""
    if Path(executable).parent == Path(sys.executable).parent:
        return Version(importlib.metadata.version("dbt-core"))
    output = subprocess.check_output([executable, "--version"], text=True)
    match = re.search(r"(\d+\.\d+\.\d+)", output)
    if match is None:
        raise ValueError(f"cannot read the dbt version from `{executable} --version`: {output}")
    return Version(match.group(1))


class EltDbtCliResource(DbtCliResource):
    """`DbtCliResource` that asks the dbt version once per process and makes no adapter."""

    @functools.cached_property
    def _cli_version(self) -> Version:
        return dbt_version(self.dbt_executable)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None
