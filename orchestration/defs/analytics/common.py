"""What the Python assets share with the dbt marts: freshness, automation, owners, group."""

import dagster as dg

from orchestration.defs.quality.freshness import DEFAULT_MART_MAX_AGE

GROUP = "analytics"
DATABASE = "analytics"
OWNERS = ["team:analytics"]
KINDS = {"python", "pandas", "clickhouse"}

# the marts must have been rebuilt within DEFAULT_MART_MAX_AGE; these follow them, eagerly
FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=DEFAULT_MART_MAX_AGE)
AUTOMATION = dg.AutomationCondition.eager()
# a ranged run of everything (`dagster asset materialize --partition-range`) includes them
BACKFILL = dg.BackfillPolicy.single_run()


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([DATABASE, name])
