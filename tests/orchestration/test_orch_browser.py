"""End to end in a real headless browser: the Dagster UI (webserver + daemon on free loopback
ports, a test instance and endpoint), the asset graph, the Materialize button on one
unpartitioned mart, and that run succeeding.

Debian's chromium (/usr/bin/chromium, installed by .ci/run) driven by Playwright through its
`executable_path`: no browser download."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
MART = "locations"  # unpartitioned; reads only the stores


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, document: str) -> dict[str, Any]:
    body = json.dumps({"query": document}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]


RUNS = (
    "{ runsOrError(limit: 5) { ... on Runs { results { runId status assetSelection { path } } } } }"
)


@pytest.fixture(scope="module")
def ui(
    orch_env: dict[str, str], landing: Path, warehouse: Any, dagster_home: Path, run_dir: Path
) -> Iterator[str]:
    """The mart's upstream in place (the stores loaded, dbt's staging view), then
    `dagster-webserver` and `dagster-daemon` of the code location on free ports."""
    from ingestion.pipeline import run_source

    run_source("jaffle_shop", tables=["stores"], landing_dir=landing)
    bin_dir = Path(sys.executable).parent
    dbt = [str(bin_dir / "dbt"), "run", "--project-dir", orch_env["ELT_DBT_PROJECT_DIR"]]
    subprocess.run(
        [*dbt, "--profiles-dir", str(ROOT), "--select", f"+{MART}"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    shutil.copy(ROOT / "orchestration" / "dagster.yaml", dagster_home / "dagster.yaml")
    port = free_port()
    log = (run_dir / "browser-ui.log").open("w")
    code = ["-m", "orchestration.definitions"]
    webserver = subprocess.Popen(
        [str(bin_dir / "dagster-webserver"), *code, "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    daemon = subprocess.Popen(
        [str(bin_dir / "dagster-daemon"), "run", *code],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert webserver.poll() is None, (run_dir / "browser-ui.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the webserver did not come up"
                time.sleep(1)
        yield url
    finally:
        for process in (daemon, webserver):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (daemon, webserver):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.mark.timeout(900)
def test_materialize_one_mart_from_the_asset_graph(ui: str, run_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            shots = run_dir / "browser"
            shots.mkdir(exist_ok=True)
            page.goto(f"{ui}/asset-groups", timeout=180_000)
            # the global asset graph renders (its nodes are drawn in an svg)
            try:
                expect(page.get_by_text(re.compile("asset lineage", re.I)).first).to_be_visible(
                    timeout=120_000
                )
            finally:
                page.screenshot(path=str(shots / "graph.png"))
                (shots / "graph.txt").write_text(page.locator("body").aria_snapshot())
            page.goto(f"{ui}/assets/marts/{MART}", timeout=180_000)
            # the accessible name carries the icon's ligature text ("... Materialize")
            button = page.get_by_role("button", name=re.compile(r"(^|\s)Materialize$")).first
            expect(button).to_be_enabled(timeout=180_000)
            page.screenshot(path=str(shots / "asset.png"))
            button.click()
            deadline = time.monotonic() + 600
            status = None
            while time.monotonic() < deadline:
                runs = graphql(ui, RUNS)["runsOrError"]["results"]
                mine = [r for r in runs if {"path": ["marts", MART]} in (r["assetSelection"] or [])]
                status = mine[0]["status"] if mine else None
                if status in ("SUCCESS", "FAILURE", "CANCELED"):
                    break
                time.sleep(2)
            assert status == "SUCCESS", runs
            # the UI shows it too
            page.reload()
            expect(page.get_by_text("Materialized").first).to_be_visible(timeout=60_000)
        finally:
            browser.close()
