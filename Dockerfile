# syntax=docker/dockerfile:1
# The project image: one image for the Dagster code server, webserver, daemon and (in the cluster
# profile) every run container. Built from uv.lock with the same uv and the same `uv sync --locked`
# that CI runs (scripts/ensure-uv.sh, `make setup`); tests/deploy/test_dockerfile.py checks that.
#
#   docker build -t clickhouse-elt:latest .        (docker compose build does the same)

ARG PYTHON_VERSION=3.11

# --- build: resolve nothing, install exactly the lock file -----------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build

# the uv release line CI uses (scripts/ensure-uv.sh)
RUN pip install --no-cache-dir "uv>=0.13,<0.14"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# dependencies first: this layer is rebuilt only when the lock file (or the endpoint package, a
# workspace member that uv installs with the dependencies) changes
COPY pyproject.toml uv.lock README.md ./
COPY endpoint ./endpoint
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project

# then the project itself
COPY core ./core
COPY elt ./elt
COPY ingestion ./ingestion
COPY orchestration ./orchestration
COPY dbt_project ./dbt_project
COPY profiles.yml ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev

# dbt manifest at build time (dbt_project/target/manifest.json), dagster-dbt's prepare-and-package
# flow (`dbt deps` + `dbt parse` of the DbtProject in project.py): the code server and every run
# process only read it. Parsing needs no warehouse; the `prod` target only needs CLICKHOUSE_HOST.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN PATH=/app/.venv/bin:$PATH CLICKHOUSE_HOST=build DBT_TARGET=prod \
        dagster-dbt project prepare-and-package --file orchestration/defs/transform/project.py \
 && test -s dbt_project/target/manifest.json

# --- runtime: the same Python, the built /app, a non-root user --------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime

RUN groupadd --system --gid 10001 elt \
 && useradd --system --uid 10001 --gid elt --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin elt \
 && mkdir -p /opt/dagster/dagster_home /opt/dagster/storage /data/landing /data/dlt \
 && chown -R elt:elt /opt/dagster /data

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TZ=UTC \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    DBT_PROJECT_DIR=/app/dbt_project \
    DBT_PROFILES_DIR=/app \
    DBT_TARGET=prod \
    ELT_HOME=/data \
    ELT_LANDING_DIR=/data/landing \
    ELT_DLT_DIR=/data/dlt

COPY --from=build --chown=elt:elt /app /app
# the shared instance and workspace files (docker-compose mounts the same files over these)
COPY --chown=elt:elt deploy/dagster.yaml deploy/workspace.yaml /opt/dagster/dagster_home/

USER 10001:10001
WORKDIR /app
EXPOSE 3000 4000

# the code server; the webserver and the daemon override the command (docker-compose.yml)
CMD ["dagster", "api", "grpc", "-m", "orchestration.definitions", "-h", "0.0.0.0", "-p", "4000"]
