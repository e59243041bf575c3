"""Checks ClickHouse needs beyond dbt tests:

- `no_duplicate_keys_final`: a ReplacingMergeTree table has one row per key when read with FINAL
  (duplicates survive until a merge, FINAL must hide them);
- `partition_count`: active partitions (system.parts) stay under a bound (too many partitions
  means too many parts and slow merges; keep it under ~100-200).
"""
# no `from __future__ import annotations`: Dagster reads the context and resource annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster_clickhouse import ClickhouseResource

from orchestration.defs.clickhouse import (
    Relation,
    fetch_duplicate_keys,
    fetch_table_stats,
    table_exists,
)

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
    """One check definition per table, so each check runs in its own asset's step and
    partition context (a shared definition mixing partitioned and unpartitioned assets was
    left unevaluated in single-run partition-range materializations)."""
    return [
        _table_checks(table, max_partitions)
        for table in tables
        if table.partitioned or table.replacing_key
    ]


def _table_checks(table: CheckedTable, max_partitions: int) -> dg.AssetChecksDefinition:
    specs = []
    if table.partitioned:
        specs.append(
            dg.AssetCheckSpec(
                PARTITIONS_CHECK,
                asset=table.key,
                description=f"Active partitions of {table.relation} stay at or under "
                f"{max_partitions}.",
            )
        )
    if table.replacing_key:
        specs.append(
            dg.AssetCheckSpec(
                DUPLICATES_CHECK,
                asset=table.key,
                description=(
                    f"{table.relation} read with FINAL has one row per "
                    f"({', '.join(table.replacing_key)})."
                ),
            )
        )

    @dg.multi_asset_check(
        specs=specs, can_subset=True, name=f"clickhouse_checks__{'__'.join(table.key.path)}"
    )
    def table_checks(
        context: dg.AssetCheckExecutionContext, clickhouse: ClickhouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {k.name for k in context.selected_asset_check_keys}
        with clickhouse.get_connection() as client:
            if PARTITIONS_CHECK in selected:
                stats = fetch_table_stats(client, {table.relation})
                partitions = stats[table.relation].partitions if table.relation in stats else 0
                yield dg.AssetCheckResult(
                    asset_key=table.key,
                    check_name=PARTITIONS_CHECK,
                    passed=partitions <= max_partitions,
                    metadata={"partitions": partitions, "max_partitions": max_partitions},
                )
            if DUPLICATES_CHECK in selected:
                yield _duplicates_result(client, table)

    return table_checks


def _duplicates_result(client: Any, table: CheckedTable) -> dg.AssetCheckResult:
    if not table_exists(client, table.relation):
        return dg.AssetCheckResult(
            asset_key=table.key,
            check_name=DUPLICATES_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{table.relation} does not exist",
        )
    duplicates = fetch_duplicate_keys(client, table.relation, table.replacing_key)
    return dg.AssetCheckResult(
        asset_key=table.key,
        check_name=DUPLICATES_CHECK,
        passed=duplicates == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"duplicate_rows": duplicates, "key": ", ".join(table.replacing_key)},
    )
