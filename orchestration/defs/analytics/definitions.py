"""The Python assets on the marts (customer RFM segments, revenue forecast), their checks and
the ClickHouse IO manager that reads the marts and writes their tables."""

import dagster as dg

from orchestration.defs.analytics import forecast, rfm
from orchestration.defs.analytics.io_manager import IO_MANAGER_KEY, analytics_io_manager

ASSETS = [rfm.customer_rfm, forecast.location_revenue_forecast]


def inputs() -> set[dg.AssetKey]:
    """The marts these assets read (a dbt project without them gets no analytics assets)."""
    own = {k for a in ASSETS for k in a.keys}
    return {k for a in ASSETS for k in a.dependency_keys} - own


def build_analytics_defs() -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=[*rfm.CHECKS, *forecast.CHECKS],
        resources={IO_MANAGER_KEY: analytics_io_manager()},
    )


def analytics_defs(asset_keys: set[dg.AssetKey]) -> dg.Definitions:
    """The Python assets read the example's marts: a dbt project without those gets none."""
    return build_analytics_defs() if inputs() <= asset_keys else dg.Definitions()
