"""The jobs, schedules and sensors that span the tables and the models (`automation_defs`)."""

import dagster as dg

from orchestration.factory import automation_defs
from orchestration.inputs import location_inputs


@dg.definitions
def defs() -> dg.Definitions:
    return automation_defs(location_inputs())
