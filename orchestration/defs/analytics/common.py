"""What the Python assets share: the marts' freshness, automation, owners and group, and the
asset decorator reading a mart through the ClickHouse IO manager."""

from collections.abc import Callable

import dagster as dg

from orchestration.defs.analytics.io_manager import IO_MANAGER_KEY
from orchestration.defs.analytics.tables import INPUT_SELECT_KEY, DeclaredTable
from orchestration.defs.clickhouse import Relation
from orchestration.defs.quality.freshness import MART_MAX_AGE

GROUP = "analytics"
DATABASE = "analytics"
OWNERS = ["team:analytics"]
KINDS = {"python", "pandas", "clickhouse"}

# the marts' maximum age; these follow the marts, eagerly
FRESHNESS = MART_MAX_AGE
AUTOMATION = dg.AutomationCondition.eager()
# a ranged run of everything (`dagster asset materialize --partition-range`) includes them
BACKFILL = dg.BackfillPolicy.single_run()


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([DATABASE, name])


def mart_asset(
    *,
    key: dg.AssetKey,
    mart: dg.AssetKey,
    input_name: str,
    select: str,
    table: DeclaredTable,
    descriptions: dict[str, str],
    description: str | None,
) -> Callable[..., dg.AssetsDefinition]:
    """`@dg.asset` of a Python asset reading `mart` (as `input_name`, the `select` aggregate) and
    writing `table`, with the marts' group, owners, freshness and automation."""
    return dg.asset(
        key=key,
        ins={
            input_name: dg.AssetIn(
                key=mart, input_manager_key=IO_MANAGER_KEY, metadata={INPUT_SELECT_KEY: select}
            )
        },
        io_manager_key=IO_MANAGER_KEY,
        metadata=table.metadata(descriptions),
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS,
        freshness_policy=FRESHNESS,
        automation_condition=AUTOMATION,
        backfill_policy=BACKFILL,
        description=description,
    )


def sql_table(key: dg.AssetKey) -> str:
    """The asset's table, quoted for SQL (keys are [database, table] identifiers)."""
    return Relation(key.path[0], key.path[1]).sql
