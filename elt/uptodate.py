"""What a re-run of `elt demo` still has to materialize (make-like, from the Dagster instance).

- raw tables without partitions always run: dlt's incremental cursor loads only new rows, and a
  materialization whose dlt load had no job counts as "nothing changed";
- daily partitions run only where needed: partitions never materialized, days whose landing
  files are newer than the asset's last materialization (raw), and days changed upstream in this
  invocation (dbt); all of them when the dbt code changed (`rebuild`);
- other dbt models run when never materialized, when the dbt code changed, or when an upstream
  asset changed in this invocation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dagster import AssetKey

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\w+$")


def is_raw(key: AssetKey) -> bool:
    return key.path[0] == "raw"


def loaded_nothing(metadata: dict[str, Any]) -> bool:
    """A dlt materialization whose load ran no job (dagster-dlt's `jobs` metadata is empty)."""
    jobs = metadata.get("jobs")
    value = getattr(jobs, "value", jobs)
    return jobs is not None and value in ([], "[]", ())


class UpToDate:
    def __init__(
        self, instance: Any, asset_graph: Any, landing_dir: Path, rebuild: bool = False
    ) -> None:
        self.instance, self.asset_graph, self.landing_dir = instance, asset_graph, landing_dir
        self.rebuild = rebuild  # the dbt code changed: rebuild every dbt asset
        self.changed_keys: set[AssetKey] = set()
        self.changed_partitions: set[str] = set()

    def _never(self, key: AssetKey) -> bool:
        return self.instance.get_latest_materialization_event(key) is None

    def unpartitioned(self, assets: Sequence[AssetKey]) -> list[AssetKey]:
        """The assets of an unpartitioned run that need materializing (in the run's order)."""
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
                if self.rebuild or self._never(key) or parents & (self.changed_keys | needed):
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
            needed |= window - set(self.instance.get_materialized_partitions(key))
            if raw:
                needed |= self._newer_landing_days(key) & window
        if not raw:
            needed |= self.changed_partitions & window
        return sorted(needed)

    def _newer_landing_days(self, key: AssetKey) -> set[str]:
        folder = self.landing_dir.joinpath(*key.path[1:])
        event = self.instance.get_latest_materialization_event(key)
        since = event.timestamp if event is not None else 0.0
        days = set()
        for path in folder.glob("*") if folder.is_dir() else ():
            match = _DAY_FILE.match(path.name)
            if match and path.stat().st_mtime > since:
                days.add(match.group(1))
        return days

    def record(self, materializations: Iterable[tuple[AssetKey, str | None, dict]]) -> None:
        """Note what changed in a run that just finished."""
        for key, partition, metadata in materializations:
            if is_raw(key) and loaded_nothing(metadata):
                continue
            self.changed_keys.add(key)
            if partition is not None:
                self.changed_partitions.add(partition)
