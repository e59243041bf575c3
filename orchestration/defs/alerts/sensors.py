"""Sensors that alert: a failed run (with the assets it did not materialize and its failed
checks), and a successful run whose asset checks failed (non-blocking checks do not fail it)."""
# no `from __future__ import annotations`: Dagster reads the context annotations

import dagster as dg

from orchestration.defs.alerts.webhook import Alert, run_url, send
from orchestration.defs.automation.failures import failed_assets, step_errors


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckKey]:
    keys = set()
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        event = record.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if evaluation is not None and not evaluation.passed:
            keys.add(evaluation.asset_check_key)
    return sorted(keys, key=str)


def _check_names(keys: list[dg.AssetCheckKey]) -> list[str]:
    return [f"{k.asset_key.to_user_string()}:{k.name}" for k in keys]


def run_failure_alert(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Alert:
    checks = failed_checks(instance, run.run_id)
    errors = step_errors(instance, run.run_id)
    return Alert(
        kind="run_failure",
        title="Dagster run failed",
        run_id=run.run_id,
        job=run.job_name,
        run_url=run_url(run.run_id),
        assets=[k.to_user_string() for k in failed_assets(instance, run.run_id)],
        checks=_check_names(checks),
        details=[f"{step}: {message}" for step, message in sorted(errors.items())],
    )


@dg.run_failure_sensor(
    name="alert_run_failures",
    description="Posts each failed run (assets, failed checks, run link) to the alert webhook.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def alert_run_failures(context: dg.RunFailureSensorContext) -> None:
    send(run_failure_alert(context.instance, context.dagster_run), context.log)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="alert_failed_checks",
    description="Posts the failed asset checks of each successful run to the alert webhook.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def alert_failed_checks(context: dg.RunStatusSensorContext) -> None:
    run = context.dagster_run
    checks = failed_checks(context.instance, run.run_id)
    if not checks:
        return
    alert = Alert(
        kind="check_failure",
        title="Asset checks failed",
        run_id=run.run_id,
        job=run.job_name,
        run_url=run_url(run.run_id),
        assets=sorted({k.asset_key.to_user_string() for k in checks}),
        checks=_check_names(checks),
    )
    send(alert, context.log)
