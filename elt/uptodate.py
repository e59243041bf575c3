"""What a re-run of `elt demo` still has to materialize (make-like, from the Dagster instance).

- raw tables without partitions always run: dlt's incremental cursor loads only new rows, and a
  materialization whose dlt load had no job counts as "nothing changed";
- daily partitions run only where needed: for a raw files table, the days whose landing files the
  loaded-files record does not hold (`ingestion.loaded`, passed in as `pending`); for other raw
  tables the partitions never materialized; for dbt, partitions never materialized and days
  changed upstream in this invocation; all of them when the dbt code changed (`rebuild`);
- other dbt models run when never materialized, when the dbt code changed, or when an upstream
  asset changed in this invocation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dagster import AssetKey


def is_raw(key: AssetKey) -> bool:
    return key.path[0] == "raw"


def loaded_nothing(metadata: dict[str, Any]) -> bool:
    """A dlt materialization whose load ran no job (dagster-dlt's `jobs` metadata is empty)."""
    jobs = metadata.get("jobs")
    value = getattr(jobs, "value", jobs)
    return jobs is not None and value in ([], "[]", ())


class UpToDate:
    def __init__(
        self,
        instance: Any,
        asset_graph: Any,
        pending: Mapping[AssetKey, set[str]] | None = None,
        rebuild: bool = False,
    ) -> None:
        self.instance, self.asset_graph = instance, asset_graph
        self.pending = dict(pending or {})  # raw files table -> days of files not loaded yet
        self.rebuild = rebuild  # the dbt code changed: rebuild every dbt asset
        self.changed_keys: set[AssetKey] = set()
        self.changed_partitions: set[str] = set()

    def _never(self, key: AssetKey) -> bool:
        return self.instance.get_latest_materialization_event(key) is None

    def unpartitioned(
        self, assets: Sequence[AssetKey], changing: Sequence[AssetKey] = ()
    ) -> list[AssetKey]:
        """The unpartitioned assets of a run that need materializing (in the run's order);
        `changing`: the run's partitioned assets that it materializes (upstream changes too)."""
        if all(is_raw(k) for k in assets):
            return list(assets)
        needed: set[AssetKey] = set()
        grew = True
        while grew:  # needed upstream in the same run makes a model needed too
            grew = False
            for key in assets:
                if key in needed:
                    continue
                parents = set(self.asset_graph.get(key).parent_keys)
                changed = self.changed_keys | needed | set(changing)
                if self.rebuild or self._never(key) or parents & changed:
                    needed.add(key)
                    grew = True
        return [k for k in assets if k in needed]

    def partitions(self, assets: Sequence[AssetKey], window: Iterable[str]) -> list[str]:
        """The partition keys (within `window`) that a partitioned run still has to cover."""
        window = set(window)
        raw = all(is_raw(k) for k in assets)
        if self.rebuild and not raw:
            return sorted(window)
        needed: set[str] = set()
        for key in assets:
            if raw and key in self.pending:
                needed |= self.pending[key] & window  # what the files say, not the calendar
            else:
                needed |= window - set(self.instance.get_materialized_partitions(key))
        if not raw:
            needed |= self.changed_partitions & window
        return sorted(needed)

    def record(self, materializations: Iterable[tuple[AssetKey, str | None, dict]]) -> None:
        """Note what changed in a run that just finished."""
        for key, partition, metadata in materializations:
            if is_raw(key) and loaded_nothing(metadata):
                continue
            self.changed_keys.add(key)
            if partition is not None:
                self.changed_partitions.add(partition)
