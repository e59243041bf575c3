"""Checks ClickHouse needs beyond dbt tests:

- `no_duplicate_keys_final`: a ReplacingMergeTree table has one row per key when read with FINAL
  (duplicates survive until a merge, FINAL must hide them);
- `partition_count`: active partitions (system.parts) stay under a bound (too many partitions
  means too many parts and slow merges; CONVENTIONS: keep it under ~100-200).
"""
# no `from __future__ import annotations`: Dagster reads the context and resource annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from orchestration.defs.clickhouse import Relation, fetch_duplicate_keys, fetch_table_stats
from orchestration.defs.resources import ClickHouseResource

DUPLICATES_CHECK = "no_duplicate_keys_final"
PARTITIONS_CHECK = "partition_count"
MAX_PARTITIONS = 200


@dataclass(frozen=True)
class CheckedTable:
    key: dg.AssetKey
    relation: Relation
    replacing_key: tuple[str, ...] = ()  # set for ReplacingMergeTree tables
    partitioned: bool = False  # has a PARTITION BY (else there is one partition: nothing to bound)


def replacing_key(config: Mapping[str, object]) -> tuple[str, ...]:
    """The dedup key of a ReplacingMergeTree dbt model: unique_key, else order_by."""
    engine = str(config.get("engine") or "")
    if "ReplacingMergeTree" not in engine:
        return ()
    value = config.get("unique_key") or config.get("order_by") or ()
    items = [value] if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    cols = [c.strip() for item in items for c in str(item).strip("()").split(",") if c.strip()]
    return tuple(cols)


def build_clickhouse_checks(
    tables: Sequence[CheckedTable], max_partitions: int = MAX_PARTITIONS
) -> list[dg.AssetChecksDefinition]:
    if not any(t.partitioned or t.replacing_key for t in tables):
        return []
    by_check: dict[dg.AssetCheckKey, CheckedTable] = {}
    specs: list[dg.AssetCheckSpec] = []
    for table in tables:
        if table.partitioned:
            spec = dg.AssetCheckSpec(
                PARTITIONS_CHECK,
                asset=table.key,
                description=f"Active partitions of {table.relation} stay at or under "
                f"{max_partitions}.",
            )
            specs.append(spec)
            by_check[spec.key] = table
        if table.replacing_key:
            spec = dg.AssetCheckSpec(
                DUPLICATES_CHECK,
                asset=table.key,
                description=(
                    f"{table.relation} read with FINAL has one row per "
                    f"({', '.join(table.replacing_key)})."
                ),
            )
            specs.append(spec)
            by_check[spec.key] = table

    @dg.multi_asset_check(specs=specs, can_subset=True, name="clickhouse_table_checks")
    def clickhouse_table_checks(
        context: dg.AssetCheckExecutionContext, clickhouse: ClickHouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = [k for k in by_check if k in context.selected_asset_check_keys]
        with clickhouse.get_client() as client:
            stats = fetch_table_stats(client, {by_check[k].relation for k in selected})
            for check_key in selected:
                table = by_check[check_key]
                if check_key.name == PARTITIONS_CHECK:
                    partitions = stats[table.relation].partitions if table.relation in stats else 0
                    yield dg.AssetCheckResult(
                        asset_key=table.key,
                        check_name=PARTITIONS_CHECK,
                        passed=partitions <= max_partitions,
                        metadata={"partitions": partitions, "max_partitions": max_partitions},
                    )
                elif table.relation not in stats and not _exists(client, table.relation):
                    yield dg.AssetCheckResult(
                        asset_key=table.key,
                        check_name=DUPLICATES_CHECK,
                        passed=False,
                        severity=dg.AssetCheckSeverity.ERROR,
                        description=f"{table.relation} does not exist",
                    )
                else:
                    duplicates = fetch_duplicate_keys(client, table.relation, table.replacing_key)
                    yield dg.AssetCheckResult(
                        asset_key=table.key,
                        check_name=DUPLICATES_CHECK,
                        passed=duplicates == 0,
                        severity=dg.AssetCheckSeverity.ERROR,
                        metadata={
                            "duplicate_rows": duplicates,
                            "key": ", ".join(table.replacing_key),
                        },
                    )

    return [clickhouse_table_checks]


def _exists(client: Any, relation: Relation) -> bool:
    return int(client.command(f"exists table {relation.sql}")) == 1
