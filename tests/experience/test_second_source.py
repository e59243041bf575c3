"""A team adds its first own source beside the example: the project's own tests stay green.

In a temporary copy of the project: `elt schema new` drafts a second source's YAML from a sample,
`elt schema scaffold-dbt` writes its staging model and dbt sources, `elt schema validate`
accepts it, and the tests that look at the schemas, the generated dbt sources and the code
location's definitions pass there unchanged.
"""

from __future__ import annotations

import pytest

from .project_copy import copy_project, runner

pytestmark = [pytest.mark.integration, pytest.mark.example]  # uses the shipped Jaffle Shop example

# the tests that read ingestion/schemas/ and dbt_project/ as a whole
SUITE = [
    "tests/ingestion/test_ing_schema.py",
    "tests/ingestion/test_ing_landing_dbt.py",
    "tests/dbt/test_dbt_sources.py",
    "tests/orchestration/test_orch_definitions.py",
]
SAMPLE = """widget_id,region,updated_at
1,north,2024-01-01T08:00:00
2,south,2024-01-01T09:00:00
3,north,2024-01-02T10:00:00
"""


@pytest.fixture(scope="module")
def with_second_source(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("second-source")
    copy = copy_project(base / "project")
    run, elt = runner(copy, base / "home")

    sample = base / "widgets.csv"
    sample.write_text(SAMPLE)
    for step in (
        elt("schema", "new", "acme", "widgets", "--from", str(sample)),
        elt("schema", "scaffold-dbt", "acme", "widgets"),
    ):
        assert step.returncode == 0, step.stdout + step.stderr
    return copy, run, elt


def test_the_second_source_is_drafted_scaffolded_and_valid(with_second_source) -> None:
    copy, _, elt = with_second_source
    assert (copy / "ingestion/schemas/acme/widgets.yml").exists()
    staging = copy / "dbt_project/models/staging/acme"
    assert sorted(p.name for p in staging.iterdir()) == [
        "_acme__sources.yml",
        "stg_acme__widgets.sql",
        "stg_acme__widgets.yml",
    ]
    validate = elt("schema", "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "in 2 source(s)" in validate.stdout


def test_the_projects_schema_dbt_and_definitions_tests_pass_with_it(with_second_source) -> None:
    _, run, _ = with_second_source
    # the landing-publishing tests of test_ing_landing_dbt do not read the schemas: left out
    args = ["-q", "-x", "-p", "no:cacheprovider", "-k", "not publish", "--durations=5"]
    result = run("-m", "pytest", *args, *SUITE)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
