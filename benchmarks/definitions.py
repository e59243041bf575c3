"""Benchmark: loading the code location's Definitions for a large dbt project.

    uv run python -m benchmarks.definitions [--models 1000] [--yamls 100] [--repeat 3]

Generates, in a temp dir, a synthetic dbt project of N models (staging / intermediate / marts,
some incremental, with unique + not_null tests) whose sources are 100 schema YAMLs (10 sources x
10 tables, 2 daily-partitioned per source), parses it once with dbt, then measures in fresh
subprocesses (imports excluded from the time, included in the memory):

- bare:    a plain `@dbt_assets` over the same manifest, in a `Definitions`;
- project: `orchestration.factory.build_definitions(...)` (dlt assets from the YAMLs, the dbt
           multi-asset, freshness and ClickHouse checks, jobs, schedules, sensors).

Both are resolved (`get_repository_def()`), as a code server does. The last line printed is JSON
{"load_overhead_ratio", "load_s_1000", "rss_mb_1000", ...}; also written to
benchmarks/results/definitions.json. Goal: load_overhead_ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "definitions.json"
SOURCES = 10
LAYERS = (("staging", 0.1), ("intermediate", 0.4), ("marts", 0.5))

PROFILES = """\
clickhouse_elt:
  target: local
  outputs:
    local:
      type: clickhouse
      driver: http
      host: 127.0.0.1
      port: 8123
      user: default
      password: ""
      schema: analytics
"""

PROJECT = """\
name: bench
version: "1.0.0"
config-version: 2
profile: clickhouse_elt
model-paths: ["models"]
flags:
  send_anonymous_usage_stats: false
  partial_parse: false
models:
  bench:
    +meta:
      owner: "team:analytics"
    staging: {+schema: staging, +materialized: view}
    intermediate: {+schema: intermediate, +materialized: view}
    marts: {+schema: marts, +materialized: table}
"""

TABLE_YAML = """\
name: {table}
description: Synthetic table {table} of {source}.
owners: [data-platform]
tags: [{source}, synthetic]
files:
  path: {source}/{table}/*.csv
columns:
  - name: id
    type: uuid
    description: Row id.
  - name: amount
    type: int64
  - name: created_at
    type: timestamp(6, UTC)
primary_key: [id]
write_disposition: merge
freshness:
  max_lag: 26h
schedule: "0 6 * * *"
{partitioning}"""

PARTITIONING = """\
incremental:
  cursor: created_at
partitioning:
  daily: true
  column: created_at
  start: 2024-01-01
"""


def generate(root: Path, models: int, yamls: int) -> tuple[Path, Path]:
    """Write the synthetic dbt project and schema YAMLs; return (dbt_project_dir, schemas_dir)."""
    project, schemas = root / "dbt_project", root / "schemas"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(PROJECT)
    (root / "profiles.yml").write_text(PROFILES)

    tables = [(f"src{i % SOURCES:02d}", f"t{i:03d}") for i in range(yamls)]
    for n, (source, table) in enumerate(tables):
        partitioned = PARTITIONING if n // SOURCES < 2 else ""
        path = schemas / source / f"{table}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(TABLE_YAML.format(source=source, table=table, partitioning=partitioned))

    # sources: one file per source with the dagster asset key of the dlt asset
    for source in sorted({s for s, _ in tables}):
        lines = ["version: 2", "sources:", f"  - name: {source}", "    schema: raw", "    tables:"]
        for s, table in tables:
            if s == source:
                lines += [
                    f"      - name: {table}",
                    f"        identifier: {source}___{table}",
                    f"        meta: {{dagster: {{asset_key: [raw, {source}, {table}]}}}}",
                ]
        folder = project / "models" / "staging" / source
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"_{source}__sources.yml").write_text("\n".join(lines) + "\n")

    names: dict[str, list[str]] = {}
    counts = {layer: int(models * share) for layer, share in LAYERS}
    counts["marts"] = models - counts["staging"] - counts["intermediate"]
    tests: list[str] = ["version: 2", "models:"]
    for layer, _ in LAYERS:
        folder = project / "models" / layer
        folder.mkdir(parents=True, exist_ok=True)
        names[layer] = []
        for i in range(counts[layer]):
            if layer == "staging":
                source, table = tables[i % len(tables)]
                name = f"stg_{source}__{table}" + (f"_{i}" if i >= len(tables) else "")
                sql = f"select * from {{{{ source('{source}', '{table}') }}}}"
            else:
                parents = names["staging"] if layer == "intermediate" else names["intermediate"]
                a, b = parents[i % len(parents)], parents[(i * 7 + 3) % len(parents)]
                name = f"{'int' if layer == 'intermediate' else 'fct'}_{i:04d}"
                sql = " union all ".join(f"select * from {{{{ ref('{m}') }}}}" for m in (a, b))
                if layer == "marts" and i % 10 == 0:
                    # an incremental model takes its partitions from a daily-partitioned raw
                    # table it reads: the staging model of one (the first tables are those)
                    daily = names["staging"][(i // 10) % (2 * SOURCES)]
                    sql = (
                        "{{ config(materialized='incremental', unique_key='id') }}\n"
                        f"select * from {{{{ ref('{daily}') }}}} union all select * from "
                        f"{{{{ ref('{a}') }}}}"
                    )
            (folder / f"{name}.sql").write_text(sql + "\n")
            names[layer].append(name)
            if layer == "marts":
                tests += [
                    f"  - name: {name}",
                    "    columns:",
                    "      - name: id",
                    "        data_tests: [unique, not_null]",
                ]
    (project / "models" / "marts" / "_marts__models.yml").write_text("\n".join(tests) + "\n")
    return project, schemas


def parse(project: Path, profiles_dir: Path) -> None:
    subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "parse",
            "--quiet",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(profiles_dir),
        ],
        check=True,
        cwd=project,
    )


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, project, profiles, schemas = sys.argv[1:5]
import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets
if mode == "project":
    from orchestration.factory import build_definitions
    from orchestration.inputs import ProjectPaths
start = time.perf_counter()
if mode == "bare":
    dbt_project = DbtProject(project_dir=project, profiles_dir=profiles)
    @dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project)
    def bare(context, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()
    defs = dg.Definitions(assets=[bare], resources={"dbt": DbtCliResource(project_dir=dbt_project)})
else:
    defs = build_definitions(ProjectPaths(Path(project), Path(profiles), Path(schemas)))
repo = defs.get_repository_def()
assets = len(repo.asset_graph.get_all_asset_keys())
elapsed = time.perf_counter() - start
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": mode, "load_s": elapsed, "rss_mb": rss_mb, "assets": assets}))
"""


def measure(mode: str, project: Path, profiles: Path, schemas: Path, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(project), str(profiles), str(schemas)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"loading the {mode} definitions failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--yamls", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-definitions-"))
    try:
        project, schemas = generate(tmp, args.models, args.yamls)
        parse(project, tmp)
        env = {
            **os.environ,
            "ELT_DLT_DIR": str(tmp / "dlt"),
            "ELT_DAGSTER_AUTOSTART": "0",
            "DAGSTER_HOME": str(tmp / "dagster_home"),
        }
        (tmp / "dagster_home").mkdir()
        runs: dict[str, list[dict]] = {"bare": [], "project": []}
        for _ in range(args.repeat):
            for mode in ("bare", "project"):  # alternate, so load on the machine hits both
                result = measure(mode, project, tmp, schemas, env)
                runs[mode].append(result)
                print(json.dumps(result), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    bare_s = statistics.median(r["load_s"] for r in runs["bare"])
    project_s = statistics.median(r["load_s"] for r in runs["project"])
    summary = {
        "load_overhead_ratio": round(project_s / bare_s, 3),
        "load_s_1000": round(project_s, 3),
        "rss_mb_1000": round(max(r["rss_mb"] for r in runs["project"]), 1),
        "bare_load_s_1000": round(bare_s, 3),
        "bare_rss_mb_1000": round(max(r["rss_mb"] for r in runs["bare"]), 1),
        "models": args.models,
        "schema_yamls": args.yamls,
        "assets": runs["project"][0]["assets"],
        "repeat": args.repeat,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
