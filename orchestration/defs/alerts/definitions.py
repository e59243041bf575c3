"""Alert sensors: failed runs and failed checks to the webhook of ELT_ALERT_WEBHOOK_URL."""

import dagster as dg

from orchestration.defs.alerts.sensors import alert_failed_checks, alert_run_failures


def build_alert_defs() -> dg.Definitions:
    return dg.Definitions(sensors=[alert_run_failures, alert_failed_checks])


@dg.definitions
def defs() -> dg.Definitions:
    return build_alert_defs()
