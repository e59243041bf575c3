"""The schema-YAML tables as a component: one dlt asset per table of `ingestion/schemas/`, their
ClickHouse checks, the ingestion jobs, schedules and landing-file sensors."""

from __future__ import annotations

import dagster as dg

from orchestration.factory import table_defs
from orchestration.inputs import location_inputs


class SchemaTablesComponent(dg.Component, dg.Model, dg.Resolvable):
    """Built from the schemas folder of the settings (ELT_SCHEMAS_DIR, default
    ingestion/schemas): adding a YAML there adds its table."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        inputs = location_inputs()
        return table_defs(inputs.tables, inputs.statuses)
