"""End to end in a real headless browser: `dg dev` (webserver + daemon on a free loopback
port, its own DAGSTER_HOME, the test endpoint), the asset graph, the Materialize button of one
unpartitioned mart, and that run succeeding.

Debian's chromium (/usr/bin/chromium, installed by .ci/run) driven by Playwright through its
`executable_path`: no browser download."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from orch_support import dg_dev, query
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from elt.dagster_ui import graphql
from ingestion.pipeline import run_source
from orchestration.instance import ensure_dagster_home

pytestmark = [pytest.mark.integration, pytest.mark.example]  # uses the shipped Jaffle Shop example

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
MART = ["marts", "locations"]  # unpartitioned; reads only the stores
RUNS = "{ runsOrError { ... on Runs { results { runId status assetSelection { path } } } } }"


def _mart_runs(url: str) -> list[dict[str, Any]]:
    runs = graphql(url, RUNS)["runsOrError"]["results"]
    return [r for r in runs if {"path": MART} in (r["assetSelection"] or [])]


def _skip_welcome(page: Page) -> None:
    """A first visit opens Dagster's welcome dialog over the page: skip it."""
    skip = page.get_by_role("dialog").get_by_role("button", name="Skip")
    with contextlib.suppress(PlaywrightTimeout):
        skip.click(timeout=10_000)


@pytest.fixture(scope="module")
def ui(warehouse: Any, landing: Path, orch_env: dict[str, str], tmp_path_factory) -> Iterator[str]:
    """The mart's upstream loaded (raw stores, dbt's staging view), then `dg dev`."""
    run_source("jaffle_shop", tables=["stores"], landing_dir=landing)
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [
            str(bin_dir / "dbt"),
            "run",
            "--project-dir",
            orch_env["ELT_DBT_PROJECT_DIR"],
            "--profiles-dir",
            str(ROOT),
            "--select",
            "+stg_jaffle_shop__stores",
        ],
        check=True,
        capture_output=True,
    )
    tmp = tmp_path_factory.mktemp("browser")
    with dg_dev(ensure_dagster_home(tmp / "dagster_home"), tmp / "dg_dev.log") as url:
        yield url


def test_materialize_one_mart_from_the_asset_graph(ui: str, run_dir: Path) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install -y chromium"
    shots = Path(os.environ.get("ELT_BROWSER_SHOTS", run_dir / "browser"))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{ui}/asset-groups", timeout=120_000)
            _skip_welcome(page)
            # the global graph draws one node per asset group, the mart's among them
            group = page.get_by_role("button", name=re.compile(rf"asset_group {MART[0]}\b")).first
            expect(group).to_be_visible(timeout=120_000)
            page.screenshot(path=str(shots / "graph.png"))

            page.goto(f"{ui}/assets/{'/'.join(MART)}", timeout=120_000)
            button = page.get_by_role("button", name=re.compile(r"(^|\s)Materialize$")).first
            expect(button).to_be_enabled(timeout=120_000)
            _skip_welcome(page)
            page.screenshot(path=str(shots / "asset.png"))
            button.click()
            # the upstream view was built by dbt outside this instance, so Dagster asks to
            # confirm launching with "upstream not materialized yet"
            confirm = page.get_by_role("dialog").get_by_role("button", name="Confirm")
            confirm.click(timeout=30_000)
            page.screenshot(path=str(shots / "clicked.png"))

            deadline = time.monotonic() + 300
            status = None
            while time.monotonic() < deadline:
                mine = _mart_runs(ui)
                status = mine[0]["status"] if mine else None
                if status in ("SUCCESS", "FAILURE", "CANCELED"):
                    break
                time.sleep(2)
            page.screenshot(path=str(shots / "after.png"))
            assert status == "SUCCESS", graphql(ui, RUNS)
        finally:
            browser.close()
    # one row per store, as many as the staging view the mart reads
    stores = int(query("select count() from staging.stg_jaffle_shop__stores")[0][0])
    assert stores > 0
    assert int(query("select count() from marts.locations final")[0][0]) == stores
