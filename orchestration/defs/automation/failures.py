"""A run-failure sensor that says which assets failed and why, without an external service:
an error log line on the sensor tick, tags on the failed run (visible in the runs list) and an
observation with the error on each failed asset (visible on the asset's page)."""
# no `from __future__ import annotations`: Dagster reads the context and resource annotations

from collections.abc import Iterable

import dagster as dg

FAILED_ASSETS_TAG = "elt/failed_assets"
FAILED_STEPS_TAG = "elt/failed_steps"


def failed_assets(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetKey]:
    """Assets planned in the run that were not materialized."""
    planned: set[dg.AssetKey] = set()
    done: set[dg.AssetKey] = set()
    for record in instance.all_logs(
        run_id,
        of_type={
            dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
            dg.DagsterEventType.ASSET_MATERIALIZATION,
        },
    ):
        event = record.dagster_event
        if event is None or event.asset_key is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            planned.add(event.asset_key)
        else:
            done.add(event.asset_key)
    return sorted(planned - done, key=lambda k: k.to_user_string())


def step_errors(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """step key -> first line of its error."""
    errors = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        error = getattr(event.event_specific_data, "error", None)
        # Dagster wraps the user's exception: report the innermost cause
        while getattr(error, "cause", None) is not None:
            error = error.cause
        message = (getattr(error, "message", "") or "").strip().splitlines()
        errors[event.step_key] = message[0][:300] if message else "failed"
    return errors


def summary(assets: Iterable[dg.AssetKey], errors: dict[str, str]) -> str:
    names = ", ".join(k.to_user_string() for k in assets) or "(no assets)"
    steps = "; ".join(f"{step}: {msg}" for step, msg in sorted(errors.items())) or "(no step)"
    return f"failed assets: {names} | {steps}"


@dg.run_failure_sensor(
    name="report_failed_assets",
    description="Logs and tags every failed run with the assets it did not materialize.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def report_failed_assets(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    instance = context.instance
    assets = failed_assets(instance, run.run_id)
    errors = step_errors(instance, run.run_id)
    text = summary(assets, errors)
    context.log.error(f"run {run.run_id} ({run.job_name}) failed: {text}")
    instance.add_run_tags(
        run.run_id,
        {
            FAILED_ASSETS_TAG: ",".join(k.to_user_string() for k in assets)[:1000] or "-",
            FAILED_STEPS_TAG: ",".join(sorted(errors))[:1000] or "-",
        },
    )
    for key in assets:
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=key,
                description=f"Materialization failed in run {run.run_id}",
                metadata={
                    "failed_run_id": run.run_id,
                    "failed_job": run.job_name,
                    "error": dg.MetadataValue.md(text),
                },
            )
        )
