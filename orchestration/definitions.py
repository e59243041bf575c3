"""The Dagster code location: `dagster dev -m orchestration.definitions`.

Everything is built from the schema YAMLs (ingestion/schemas) and the dbt project (dbt_project/)
by `orchestration.factory.build_definitions`; the pieces live under `orchestration/defs/`:

    defs/ingestion/   dlt assets (one per raw table), landing-file sensors
    defs/transform/   dbt assets (daily-partitioned incremental models, the rest)
    defs/quality/     freshness checks, ClickHouse checks (dbt tests come with the dbt assets)
    defs/automation/  jobs, schedules, run-failure sensor
    defs/analytics/   Python assets on the marts and their ClickHouse IO manager
    defs/maintenance/ the ClickHouse maintenance job (ops) and its schedule
    defs/alerts/      failed runs and failed checks to a webhook
    defs/translators.py + naming.py   the one asset-key / group policy for dlt and dbt
"""

from __future__ import annotations

from orchestration.factory import build_definitions

defs = build_definitions()
