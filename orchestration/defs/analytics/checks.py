"""Asset checks of the Python assets: a query counting offending rows, 0 to pass."""
# no `from __future__ import annotations`: Dagster reads the resource annotations

import dagster as dg
from dagster_clickhouse import ClickhouseResource

from orchestration.defs.clickhouse import query_rows


def bad_rows_check(
    asset: dg.AssetKey, name: str, sql: str, description: str
) -> dg.AssetChecksDefinition:
    """A blocking check that passes when `sql` (one count) returns 0."""

    @dg.asset_check(asset=asset, name=name, description=description, blocking=True)
    def _check(clickhouse: ClickhouseResource) -> dg.AssetCheckResult:
        bad = int(query_rows(clickhouse, sql)[0][0])
        return dg.AssetCheckResult(
            passed=bad == 0,
            metadata={
                "offending_rows": dg.MetadataValue.int(bad),
                "query": dg.MetadataValue.text(sql),
            },
        )

    return _check
