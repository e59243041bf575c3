"""Run configuration of the ingestion assets (launchpad, `--config-json`, `dg launch --config`):

    {"ops": {"dlt_jaffle_shop": {"config": {"limit": 100, "full_refresh": true}}}}

`limit` loads at most that many rows per table (a sample run). A run reads only the landing
files whose version the loaded-files record does not hold yet (a changed file is read again, an
unchanged one is not); `reload` reads the run's files (its window's, for a partition) again all
the same, e.g. after the raw table lost rows. `full_refresh` drops the tables and their dlt state
first and reads every file again (unpartitioned tables only).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field


class IngestionConfig(dg.Config):
    limit: int | None = Field(
        None, ge=1, description="Load at most this many rows per table (none: all)."
    )
    reload: bool = Field(
        False, description="Read the run's files again, also those already loaded."
    )
    full_refresh: bool = Field(
        False, description="Drop the tables and their load state, then load everything again."
    )

    @property
    def reads_loaded_files(self) -> bool:
        return self.reload or self.full_refresh

    def run_kwargs(self, partitioned: bool) -> dict[str, Any]:
        """Extra `pipeline.run` arguments (dlt's `refresh`)."""
        if not self.full_refresh:
            return {}
        if partitioned:
            raise dg.Failure(
                "full_refresh drops whole tables: it applies to unpartitioned tables; "
                "re-run the partitions of a partitioned table to reload them"
            )
        return {"refresh": "drop_resources"}


def limit_rows(source: Any, limit: int | None) -> Any:
    """At most `limit` rows from each selected resource: dlt stops reading after `limit` rows
    (`add_limit(count_rows=True)`) and the last batch is cut to the exact count."""
    if limit is None:
        return source
    for resource in source.resources.selected.values():
        resource.add_limit(limit, count_rows=True)
        resource.add_map(_Trim(limit))
    return source


class _Trim:
    """Cuts a stream of batches (Arrow tables/record batches, lists, rows) at `limit` rows."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def __call__(self, item: Any) -> Any:
        size = _rows(item)
        if size <= self.left:
            self.left -= size
            return item
        keep, self.left = self.left, 0
        return item[:keep] if isinstance(item, list) else item.slice(0, keep)


def _rows(item: Any) -> int:
    if isinstance(item, list):
        return len(item)
    if hasattr(item, "num_rows"):
        return int(item.num_rows)
    return 1
