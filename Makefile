# The few verbs people use. Each one sets up the locked environment first.
UV := $(shell ./scripts/ensure-uv.sh)
RUN := $(UV) run --locked

.PHONY: setup demo dev test test-fast lint fmt bench dbt-build dbt-docs clean

setup:  ## install the locked environment (.venv)
	$(UV) sync --locked --compile-bytecode

demo: setup  ## the main job end to end on the embedded default
	$(RUN) elt demo

dev: setup  ## local endpoint + dagster dev UI on 127.0.0.1
	$(RUN) elt dev

test: setup  ## the whole test suite (unit + integration)
	./scripts/run-tests.sh

test-fast: setup  ## unit tests only
	./scripts/run-tests.sh -m "not integration"

lint: setup  ## ruff + import-linter (layering) + sqlfluff
	$(RUN) ruff check .
	$(RUN) lint-imports
	$(RUN) ruff format --check .
	$(RUN) sqlfluff lint dbt_project/models dbt_project/tests dbt_project/macros

fmt: setup
	$(RUN) ruff format .
	$(RUN) ruff check --fix .
	$(RUN) sqlfluff fix dbt_project/models

dbt-build: setup  ## dbt build against the configured warehouse (local endpoint started if needed)
	$(RUN) elt warehouse start
	$(RUN) dbt build --project-dir dbt_project --profiles-dir . $(ARGS)

dbt-docs: setup  ## dbt docs generate (catalog from the warehouse), served on 127.0.0.1:8080
	$(RUN) elt warehouse start
	$(RUN) dbt docs generate --project-dir dbt_project --profiles-dir .
	$(RUN) dbt docs serve --project-dir dbt_project --profiles-dir . --host 127.0.0.1 --port 8080 --no-browser

bench: setup  ## benchmarks -> benchmarks/results/*.json
	$(RUN) python -m benchmarks.endpoint
	$(RUN) python -m benchmarks.ingestion
	$(RUN) python -m benchmarks.definitions
	$(RUN) python -m benchmarks.orchestration

clean:  ## remove local state (warehouse data, landing files, dagster home)
	-$(RUN) elt warehouse stop
	rm -rf .local/warehouse .local/landing .local/dlt .local/dagster dbt_project/target
