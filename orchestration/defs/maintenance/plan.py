"""What the maintenance job will do, decided from the warehouse's state (pure functions):

- OPTIMIZE TABLE … FINAL only for ReplacingMergeTree tables with more active parts than the
  threshold, never on the biggest tables (by bytes on disk) unless named in `optimize_biggest`;
- an alert for every table with more partitions than the bound;
- retention: drop the whole partitions whose newest row is older than the table's declared
  retention (`clickhouse.retention` in its schema YAML).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg
from pydantic import Field, field_validator

from orchestration.defs.clickhouse import Relation, _human_bytes
from orchestration.defs.maintenance.state import PartitionState, TableState


class MaintenanceConfig(dg.Config):
    dry_run: bool = Field(True, description="Only report; set false to OPTIMIZE and drop.")
    parts_threshold: int = Field(
        10, ge=1, description="OPTIMIZE … FINAL a ReplacingMergeTree above this many parts."
    )
    protect_biggest: int = Field(
        3, ge=0, description="The N biggest tables (bytes on disk) are never optimized..."
    )
    optimize_biggest: list[str] = Field(
        default_factory=list, description="...unless named here (database.table)."
    )
    max_partitions: int = Field(
        100, ge=1, description="Alert when a table has more partitions than this."
    )
    now: str | None = Field(
        None, description="Reference time of the retention (ISO 8601, UTC); default: now."
    )

    @field_validator("now")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dt.datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"now: {value!r} is not an ISO 8601 time") from None
        return value


@dataclass(frozen=True)
class Drop:
    relation: Relation
    partition_id: str
    partition: str
    newest: dt.datetime
    rows: int


@dataclass
class MaintenancePlan:
    dry_run: bool
    tables: list[TableState]
    optimize: list[Relation] = field(default_factory=list)
    protected: list[Relation] = field(default_factory=list)  # would qualify, but biggest
    alerts: list[str] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_maintenance(
    tables: Sequence[TableState],
    partitions: Iterable[PartitionState],
    retention: Mapping[Relation, dt.timedelta],
    config: MaintenanceConfig,
    now: dt.datetime,
) -> MaintenancePlan:
    plan = MaintenancePlan(dry_run=config.dry_run, tables=list(tables))
    by_size = sorted(tables, key=lambda t: (-t.bytes_on_disk, str(t.relation)))
    biggest = {t.relation for t in by_size[: config.protect_biggest]}
    asked = set(config.optimize_biggest)
    for table in tables:
        if table.replacing and table.active_parts > config.parts_threshold:
            if table.relation in biggest and str(table.relation) not in asked:
                plan.protected.append(table.relation)
            else:
                plan.optimize.append(table.relation)
        if table.partitions > config.max_partitions:
            plan.alerts.append(
                f"{table.relation} has {table.partitions} partitions"
                f" (bound {config.max_partitions})"
            )
    for part in partitions:
        keep = retention.get(part.relation)
        if keep is None:
            continue
        if part.newest is None:
            plan.notes.append(f"{part.relation}: partition {part.partition} has no date to age")
        elif part.newest < now - keep:
            plan.drops.append(
                Drop(part.relation, part.partition_id, part.partition, part.newest, part.rows)
            )
    return plan


def report_markdown(plan: MaintenancePlan) -> str:
    """One row per table: what it holds and what the job does (or would do) to it."""
    optimize, protected = set(plan.optimize), set(plan.protected)
    drops: dict[Relation, list[Drop]] = {}
    for drop in plan.drops:
        drops.setdefault(drop.relation, []).append(drop)
    verb = "would " if plan.dry_run else ""
    lines = [
        "| table | engine | active parts | partitions | rows | size | merges | action |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for t in plan.tables:
        actions = []
        if t.relation in optimize:
            actions.append(f"{verb}OPTIMIZE FINAL")
        if t.relation in protected:
            actions.append("over parts threshold, biggest table: not optimized")
        if t.relation in drops:
            actions.append(f"{verb}drop {len(drops[t.relation])} expired partitions")
        lines.append(
            f"| {t.relation} | {t.engine} | {t.active_parts} | {t.partitions} | {t.rows} |"
            f" {_human_bytes(t.bytes_on_disk)} | {t.merges_running} | {'; '.join(actions) or '-'} |"
        )
    for title, items in (
        ("Partition alerts", plan.alerts),
        (
            "Expired partitions",
            [
                f"{d.relation} {d.partition} (newest {d.newest:%Y-%m-%d}, {d.rows} rows)"
                for d in plan.drops
            ],
        ),
        ("Notes", plan.notes),
    ):
        if items:
            lines += ["", f"**{title}**", "", *(f"- {item}" for item in items)]
    mode = "dry run: nothing changed" if plan.dry_run else "acting"
    return f"ClickHouse maintenance ({mode})\n\n" + "\n".join(lines)
