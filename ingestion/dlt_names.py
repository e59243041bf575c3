"""The names dlt gives tables and columns, so schema validation can refuse a silent rename.

dlt normalizes every identifier with its naming convention (snake_case by default): `name_`
becomes `namex`, `a__b` becomes `a_b`. A declared name dlt would change would load into a
different column than the one declared, so validation rejects it and says the name dlt uses.
"""

from __future__ import annotations

import re
from functools import cache

# Names of this shape are fixed points of dlt's snake_case convention (a test checks it
# against dlt); only other names pay for importing dlt (about a second).
_STABLE = re.compile(r"^_?[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")

DATASET_TABLE_SEPARATOR = "___"  # ingestion.destination passes it to dlt's ClickHouse destination
DLT_TABLES = ("_dlt_loads", "_dlt_version", "_dlt_pipeline_state")
STAGING_SUFFIX = "_staging"  # dlt's staging dataset of a source: `<source>_staging`


@cache
def _naming() -> object:
    from dlt.common.normalizers.naming.snake_case import NamingConvention  # see _STABLE

    return NamingConvention()


def dlt_name(identifier: str) -> str:
    """The name dlt's snake_case naming convention gives `identifier`."""
    if _STABLE.fullmatch(identifier):
        return identifier
    return _naming().normalize_identifier(identifier)


def rename_problem(identifier: str) -> str | None:
    """Why dlt would not keep `identifier` as it is (None when it would)."""
    renamed = dlt_name(identifier)
    if renamed == identifier:
        return None
    return (
        f"{identifier!r} would be loaded as {renamed!r} (dlt's snake_case name normalization);"
        f" declare {renamed!r} or another lower snake_case name (no trailing or double '_')"
    )


def raw_table_name(dataset: str, table: str) -> str:
    """A table's name in the raw database: `<dataset>___<table>`, as dlt's destination names it."""
    return f"{dataset}{DATASET_TABLE_SEPARATOR}{table}"
