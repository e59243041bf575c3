"""Orchestration benchmark: the same work by hand and through Dagster, as users run it.

    uv run python -m benchmarks.orchestration [--repo PATH] [--mart customers] [--repeat N]

One process tree, one run, two fresh local endpoints on free ports (one per side, each with its
own dlt state), the same Jaffle Shop landing files (jafgen 1 simulated year, cached):

- cold: every day but the last is published; (a) by hand: the generated dlt source
  (`elt schema load jaffle_shop`) then `dbt build`; (b) through Dagster: `elt demo --until <day>`
  (ingestion, dbt and every check, as runs in the Dagster instance).
- day: the last day is published; (a) the same two commands; (b) `elt demo`.
- ui_mart: `dg dev` (webserver, daemon, code server) on side (b); one unpartitioned mart launched
  the way the Materialize button does (GraphQL `launchRun` of the asset job with the asset
  selected), timed from the launch until the run succeeded; (a) `dbt build --select <mart>`.

Every command runs as a subprocess of `--repo` (default: this checkout) with its `.venv`, so a
checkout of an older commit can be measured with the same benchmark (before/after); the bare
side keeps its dbt artifacts in a target directory of its own. The Dagster side starts with no
dbt target (as a fresh checkout): its first command prepares the manifest; the bare side's
first `dbt build` parses too. Ratios are Dagster time / bare time; with `--repeat N` the whole
measurement runs N times from scratch and the ratios are the medians (the machines are noisy).
Prints a final JSON line and writes benchmarks/results/orchestration.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from elt.dagster_ui import free_port, graphql, serving

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "orchestration.json"
SOURCE = "jaffle_shop"

LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
RUN_STATUS = """
query RunStatus($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }
"""


class Side:
    """One side of the comparison: its endpoint, dlt state and Dagster home."""

    def __init__(self, name: str, repo: Path, scratch: Path, landing: Path, cache: Path) -> None:
        self.name, self.repo = name, repo
        home = scratch / name
        self.env = {
            **os.environ,
            "ELT_HOME": str(home),
            "ELT_LANDING_DIR": str(landing),
            "ELT_JAFGEN_CACHE": str(cache),
            "ELT_WAREHOUSE_DIR": str(home / "warehouse"),
            "ELT_DLT_DIR": str(home / "dlt"),
            "DAGSTER_HOME": str(home / "dagster"),
            "ELT_DAGSTER_AUTOSTART": "0",
            "CLICKHOUSE_HOST": "127.0.0.1",
            "CLICKHOUSE_HTTP_PORT": str(free_port()),
            "CLICKHOUSE_TCP_PORT": str(free_port()),
            "PATH": f"{repo / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.log = (scratch / f"{name}.log").open("a")

    def run(self, *command: str, env: dict[str, str] | None = None) -> float:
        """Run a command of the repo's environment; its wall time in seconds."""
        started = time.perf_counter()
        self.log.write(f"\n$ {' '.join(command)}\n")
        self.log.flush()
        done = subprocess.run(
            [str(self.repo / ".venv" / "bin" / command[0]), *command[1:]],
            cwd=self.repo,
            env={**self.env, **(env or {})},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            check=False,
        )
        took = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(command)} failed; see {self.log.name}")
        return took

    def dbt(self, *args: str) -> float:
        return self.run("dbt", *args, "--project-dir", "dbt_project", "--profiles-dir", ".")


def bare_load_and_build(side: Side) -> dict[str, float]:
    load = side.run("elt", "schema", "load", SOURCE)
    build = side.dbt("build")
    return {"dlt_load": load, "dbt_build": build, "total": load + build}


def ui_materialize(side: Side, mart: str, partitions_end: dt.date) -> dict[str, float]:
    """`dg dev` on side (b); the Materialize button's launch of one mart, timed."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**side.env, "ELT_PARTITIONS_END_DATE": partitions_end.isoformat()}
    command = [str(side.repo / ".venv" / "bin" / "dg"), "dev", "--host", "127.0.0.1"]
    started = time.perf_counter()
    log = Path(side.log.name)
    side.log.flush()
    with serving(
        [*command, "--port", str(port)], url, cwd=side.repo, env=env, log_path=log
    ) as nodes:
        up = time.perf_counter() - started
        repo = nodes[0]
        params = {
            "selector": {
                "repositoryLocationName": repo["location"]["name"],
                "repositoryName": repo["name"],
                "jobName": "__ASSET_JOB",
                "assetSelection": [{"path": ["marts", mart]}],
            },
            "mode": "default",
            "executionMetadata": {"tags": [{"key": "elt/benchmark", "value": "ui"}]},
        }
        started = time.perf_counter()
        launched = graphql(url, LAUNCH_RUN, {"executionParams": params})["launchRun"]
        if launched["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launchRun: {launched}")
        run_id = launched["run"]["runId"]
        while True:
            status = graphql(url, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(0.25)
        took = time.perf_counter() - started
    if status != "SUCCESS":
        raise RuntimeError(f"the UI run {run_id} ended {status}; see {side.log.name}")
    return {"webserver_up": up, "launch_to_success": took}


def measure_once(repo: Path, mart: str, scratch: Path) -> dict[str, Any]:
    """One repetition: fresh endpoints, state and dbt target on both sides; times and ratios."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    landing, cache = scratch / "landing", ROOT / ".local" / "cache" / "jafgen"
    bare = Side("bare", repo, scratch, landing, cache)
    # the bare side's dbt artifacts apart: sharing dbt_project/target with the other side (another
    # warehouse port) would void each other's partial parse on every invocation
    bare.env["DBT_TARGET_PATH"] = str(scratch / "bare" / "dbt-target")
    dagster = Side("dagster", repo, scratch, landing, cache)
    # cold as on a fresh checkout: no prepared manifest, no partial parse left by an earlier run
    shutil.rmtree(repo / "dbt_project" / "target", ignore_errors=True)
    probe = scratch / "probe"  # every day published once, to find the last one
    bare.run("elt", "landing", "jaffle", "--years", "1", "--landing-dir", str(probe))
    last_day = max(dt.date.fromisoformat(p.stem) for p in probe.glob(f"{SOURCE}/orders/*.csv"))
    shutil.rmtree(probe)
    cold_until = last_day - dt.timedelta(days=1)
    out: dict[str, Any] = {"last_day": str(last_day)}
    try:
        for side in (bare, dagster):
            side.run("elt", "warehouse", "start")
        # the landing files of the cold case, published before either side is timed
        bare.run("elt", "landing", "jaffle", "--years", "1", "--until", str(cold_until))
        cold_dagster = dagster.run("elt", "demo", "--years", "1", "--until", str(cold_until))
        out["cold"] = {"bare": bare_load_and_build(bare), "dagster": cold_dagster}
        bare.run("elt", "landing", "jaffle", "--years", "1")  # one more day
        day_dagster = dagster.run("elt", "demo", "--years", "1")
        out["day"] = {"bare": bare_load_and_build(bare), "dagster": day_dagster}
        bare_mart = bare.dbt("build", "--select", mart)
        ui = ui_materialize(dagster, mart, last_day + dt.timedelta(days=1))
        out["ui_mart"] = {"bare": bare_mart, "dagster": ui}
    finally:
        for side in (bare, dagster):
            subprocess.run(
                [str(repo / ".venv" / "bin" / "elt"), "warehouse", "stop"],
                cwd=repo,
                env=side.env,
                stdout=side.log,
                stderr=subprocess.STDOUT,
                check=False,
            )
    return out | {
        "cold_ratio": round(out["cold"]["dagster"] / out["cold"]["bare"]["total"], 2),
        "day_ratio": round(out["day"]["dagster"] / out["day"]["bare"]["total"], 2),
        "ui_mart_ratio": round(out["ui_mart"]["dagster"]["launch_to_success"] / bare_mart, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument("--mart", default="customers", help="unpartitioned mart for ui_mart")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions (ratios: medians)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    repo = args.repo.resolve()
    scratch = ROOT / "benchmarks" / ".scratch" / "orchestration"
    runs = [measure_once(repo, args.mart, scratch) for _ in range(max(1, args.repeat))]
    names = ("cold_ratio", "day_ratio", "ui_mart_ratio")
    ratios = {name: round(statistics.median(run[name] for run in runs), 2) for name in names}
    out = {"repo": str(repo), "mart": args.mart, "repeat": len(runs), "runs": runs, **ratios}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    print(json.dumps(ratios))


if __name__ == "__main__":
    main()
