"""The Python assets on the marts as a component: added only when the dbt project has the marts
they read (a project without the example's marts gets none)."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.analytics.definitions import analytics_defs
from orchestration.inputs import location_inputs


class AnalyticsComponent(dg.Component, dg.Model, dg.Resolvable):
    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return analytics_defs(set(location_inputs().models.keys.values()))
