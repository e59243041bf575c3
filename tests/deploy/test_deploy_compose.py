"""docker-compose.yml and docker-compose.cluster.yml: Compose-spec valid, loopback ports, health
checks and health-gated start order, no literal secret, every variable listed in .env.example."""

from __future__ import annotations

import json
import os
import re
import subprocess
from importlib.resources import files
from typing import Any

import jsonschema
import pytest
import yaml
from deploy_helpers import DEPLOY, REPO, interpolate, variables

BASE = "docker-compose.yml"
CLUSTER = "docker-compose.cluster.yml"
DAGSTER_SERVICES = ("code-server", "webserver", "daemon")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY")
# only the required secrets: with these set, both files interpolate with their defaults
REQUIRED = {
    "DAGSTER_PG_PASSWORD": "x",
    "CLICKHOUSE_ADMIN_PASSWORD": "x",
    "CLICKHOUSE_LOADER_PASSWORD": "x",
    "CLICKHOUSE_TRANSFORMER_PASSWORD": "x",
    "CLICKHOUSE_ANALYST_PASSWORD": "x",
    "CLICKHOUSE_INTERSERVER_SECRET": "x",
}


def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, as vendored by check-jsonschema (PyPI)."""
    vendor = files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def merged(compose: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`docker compose -f base -f cluster config` for the keys this project uses: mappings merge,
    environment merges by key, volumes by container path, depends_on by service."""
    out = json.loads(json.dumps(compose[BASE]))
    for name, override in compose[CLUSTER]["services"].items():
        service = out["services"].setdefault(name, {})
        for key, value in override.items():
            if key == "environment":
                service.setdefault(key, {}).update(value)
            elif key == "volumes":
                by_target = {v.split(":")[1]: v for v in service.get(key, [])}
                by_target.update({v.split(":")[1]: v for v in value})
                service[key] = list(by_target.values())
            elif key == "depends_on":
                service.setdefault(key, {}).update(value)
            else:
                service[key] = value
    out["volumes"] = {**out.get("volumes", {}), **compose[CLUSTER].get("volumes", {})}
    return out


def published_ports(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    ports = []
    for entry in service.get("ports", []):
        assert isinstance(entry, str), "use the short `host_ip:port:port` syntax"
        parts = entry.split(":")
        assert len(parts) == 3, f"{entry}: publish with an explicit host IP"
        ports.append((parts[0], parts[1], parts[2]))
    return ports


def test_both_files_match_the_compose_specification(compose: dict[str, dict[str, Any]]) -> None:
    for name, document in compose.items():
        assert schema_errors(document) == [], name
    assert schema_errors(merged(compose)) == []


def test_the_schema_check_rejects_an_invalid_file(compose: dict[str, dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(compose[BASE]))
    broken["services"]["postgres"]["healthcheck"]["intervall"] = "5s"
    broken["services"]["webserver"]["depends_on"]["code-server"]["condition"] = "healthy"
    errors = schema_errors(broken)
    assert any("intervall" in e for e in errors)
    assert any("healthy" in e for e in errors)


def test_services_images_and_commands(compose: dict[str, dict[str, Any]], example_env) -> None:
    services = compose[BASE]["services"]
    assert set(services) == {"clickhouse", "postgres", "s3", *DAGSTER_SERVICES}
    assert services["s3"]["profiles"] == ["s3"]
    # the official server image on an LTS line (YY.3 / YY.8), the same default as .env.example
    image = services["clickhouse"]["image"]
    match = re.fullmatch(
        r"clickhouse/clickhouse-server:\$\{CLICKHOUSE_VERSION:-(\d+\.(3|8))\}", image
    )
    assert match, image
    assert example_env["CLICKHOUSE_VERSION"] == match[1]
    keeper = compose[CLUSTER]["services"]["clickhouse-keeper"]["image"]
    assert keeper == f"clickhouse/clickhouse-keeper:${{CLICKHOUSE_VERSION:-{match[1]}}}"
    # one project image for the three Dagster services, built from ./Dockerfile
    images = {services[s]["image"] for s in DAGSTER_SERVICES}
    assert images == {"${ELT_IMAGE:-clickhouse-elt:latest}"}
    assert all(services[s]["build"]["dockerfile"] == "Dockerfile" for s in DAGSTER_SERVICES)
    assert services["code-server"]["command"] == [
        "dagster",
        "api",
        "grpc",
        "-m",
        "orchestration.definitions",
        "-h",
        "0.0.0.0",
        "-p",
        "4000",
    ]
    assert services["webserver"]["command"][0] == "dagster-webserver"
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]


def test_ports_are_published_on_loopback_by_default(compose: dict[str, dict[str, Any]]) -> None:
    resolved = interpolate(merged(compose), REQUIRED)
    seen = {}
    for name, service in resolved["services"].items():
        for host_ip, host_port, container_port in published_ports(service):
            assert host_ip == "127.0.0.1", f"{name} publishes {container_port} on {host_ip}"
            assert host_port not in seen, f"{name} and {seen.get(host_port)} both use {host_port}"
            seen[host_port] = name
    # the webserver port is configurable
    custom = interpolate(compose[BASE], {**REQUIRED, "DAGSTER_WEBSERVER_PORT": "3999"})
    assert published_ports(custom["services"]["webserver"]) == [("127.0.0.1", "3999", "3000")]
    # postgres and the code server are internal only
    assert "ports" not in resolved["services"]["postgres"]
    assert "ports" not in resolved["services"]["code-server"]


def test_every_service_has_a_health_check(compose: dict[str, dict[str, Any]]) -> None:
    services = merged(compose)["services"]
    assert len(services) == 8  # 6 + Keeper + the second replica
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check.get("interval") and check.get("retries"), name


def test_start_order_waits_for_healthy_dependencies(compose: dict[str, dict[str, Any]]) -> None:
    services = merged(compose)["services"]
    expected = {
        "code-server": {"postgres", "clickhouse", "clickhouse-02"},
        "webserver": {"postgres", "code-server"},
        "daemon": {"postgres", "code-server"},
        "clickhouse": {"clickhouse-keeper"},
        "clickhouse-02": {"clickhouse-keeper"},
    }
    for name, dependencies in expected.items():
        depends_on = services[name]["depends_on"]
        assert set(depends_on) == dependencies, name
        assert all(d["condition"] == "service_healthy" for d in depends_on.values()), name
    base = compose[BASE]["services"]
    assert set(base["code-server"]["depends_on"]) == {"postgres", "clickhouse"}


def _environments(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(k, v) for k, v in document.items() if k.startswith("x-") and isinstance(v, dict)]
    found += [(n, s.get("environment", {})) for n, s in document["services"].items()]
    return found


def test_no_literal_secret_in_the_compose_files(compose_text: dict[str, str]) -> None:
    for file_name, text in compose_text.items():
        document = yaml.safe_load(text)
        for owner, env in _environments(document):
            for key, value in env.items():
                if not SECRET_KEY.search(key):
                    continue
                # a whole ${VAR} reference whose default (if any) is empty
                assert isinstance(value, str), f"{file_name} {owner}.{key}"
                ref = re.fullmatch(r"\$\{[A-Z0-9_]+(:\?[^}]*|:-)?\}", value)
                assert ref, f"{file_name} {owner}.{key}={value!r} is not a ${{VAR}} reference"
        # passwords on command lines come from the container's environment ($$ = literal $)
        for match in re.finditer(r"--password\s+(\S+)", text):
            assert match[1].startswith('"$${'), match[0]
        for word in ("password", "secret"):
            for line in text.splitlines():
                value = line.split(":", 1)[1].strip() if ":" in line else ""
                if word in line.lower().split(":")[0] and value and not value.startswith("#"):
                    assert "${" in value, f"{file_name}: {line.strip()}"


def test_no_secret_in_other_deploy_files() -> None:
    for path in [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.xml"), *DEPLOY.rglob("*.sql")]:
        text = path.read_text()
        for line in text.splitlines():
            if re.search(r"password\s*:", line, re.I):
                assert "{env:" in line, f"{path}: {line.strip()}"
        assert not re.search(r"<password>[^<]+</password>", text), path
        assert not re.search(r"<secret>[^<]+</secret>", text), path
        if path.suffix == ".sql":
            # passwords only as hash placeholders rendered by bootstrap.sh
            for match in re.finditer(r"BY '([^']*)'", text):
                assert re.fullmatch(r"\$\{[A-Z_]+_SHA256\}", match[1]), match[0]
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False
    ).returncode
    assert ignored == 0, ".env must be git-ignored"


def test_env_example_lists_every_variable(compose_text: dict[str, str], example_env) -> None:
    used = set().union(*(variables(t) for t in compose_text.values()))
    assert used - set(example_env) == set()
    contract = {
        "CLICKHOUSE_HOST",
        "CLICKHOUSE_HTTP_PORT",
        "CLICKHOUSE_TCP_PORT",
        "CLICKHOUSE_USER",
        "CLICKHOUSE_PASSWORD",
        "CLICKHOUSE_SECURE",
        "CLICKHOUSE_RAW_DATABASE",
        "CLICKHOUSE_CLUSTER",
    }
    roles = {
        f"CLICKHOUSE_{r}_{k}"
        for r in ("LOADER", "TRANSFORMER", "ANALYST")
        for k in ("USER", "PASSWORD")
    }
    assert contract | roles <= set(example_env)
    for key, value in example_env.items():
        if SECRET_KEY.search(key) and key != "S3_ACCESS_KEY_ID":
            assert value == "CHANGE_ME", f".env.example {key} must be a placeholder"
    # with the example values every required variable is satisfied
    interpolate(merged({n: yaml.safe_load(t) for n, t in compose_text.items()}), example_env)


def test_required_secrets_fail_fast(compose: dict[str, dict[str, Any]]) -> None:
    for missing in REQUIRED:
        env = {k: v for k, v in REQUIRED.items() if k != missing}
        with pytest.raises(KeyError, match=missing):
            interpolate(merged(compose), env)


def test_one_shared_instance_config_and_least_privilege(compose: dict[str, dict[str, Any]]) -> None:
    services = compose[BASE]["services"]
    for name in DAGSTER_SERVICES:
        volumes = services[name]["volumes"]
        assert "./deploy/dagster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro" in volumes
        assert "./deploy/workspace.yaml:/opt/dagster/dagster_home/workspace.yaml:ro" in volumes
        assert "dagster_storage:/opt/dagster/storage" in volumes
    env = services["code-server"]["environment"]
    # dbt + Dagster as the transformer, dlt as the loader; the admin login is never handed out
    assert env["CLICKHOUSE_USER"] == "${CLICKHOUSE_TRANSFORMER_USER:-elt_transformer}"
    assert env["CLICKHOUSE_PASSWORD"].startswith("${CLICKHOUSE_TRANSFORMER_PASSWORD:?")
    assert env["CLICKHOUSE_LOADER_USER"] == "${CLICKHOUSE_LOADER_USER:-elt_loader}"
    assert env["DBT_TARGET"] == "prod"
    for name in ("webserver", "daemon"):
        assert not any(k.startswith("CLICKHOUSE_") for k in services[name]["environment"]), name
    for name, service in services.items():
        text = json.dumps(service)
        assert "CLICKHOUSE_ADMIN_PASSWORD" not in text or name == "clickhouse", name
    # the init script and the SQL template reach the server
    volumes = services["clickhouse"]["volumes"]
    assert (
        "./deploy/clickhouse/bootstrap.sh:/docker-entrypoint-initdb.d/10-bootstrap.sh:ro" in volumes
    )
    assert os.access(DEPLOY / "clickhouse" / "bootstrap.sh", os.X_OK), "the image executes it"


def _xml(name: str) -> str:
    return (DEPLOY / "clickhouse" / "cluster" / name).read_text()


def test_cluster_profile_switch(compose: dict[str, dict[str, Any]]) -> None:
    services = merged(compose)["services"]
    code_env = services["code-server"]["environment"]
    assert code_env["CLICKHOUSE_CLUSTER"] == "elt"
    assert code_env["DBT_TARGET"] == "cluster"
    assert code_env["DESTINATION__CLICKHOUSE__TABLE_ENGINE_TYPE"] == "replicated_merge_tree"
    # the cluster name everywhere is the one remote_servers defines
    assert "<elt>" in _xml("remote-servers.xml")
    assert services["clickhouse"]["environment"]["CLICKHOUSE_CLUSTER"] == "elt"
    # replicas: hostnames = remote_servers hosts = macros, distinct per replica
    hosts = re.findall(r"<host>([^<]+)</host>", _xml("remote-servers.xml"))
    assert hosts == ["clickhouse-01", "clickhouse-02"]
    for index, (service, host) in enumerate(
        zip(("clickhouse", "clickhouse-02"), hosts, strict=True)
    ):
        assert services[service]["hostname"] == host
        macros = _xml(f"macros-0{index + 1}.xml")
        assert f"<replica>{host}</replica>" in macros and "<cluster>elt</cluster>" in macros
        mounts = services[service]["volumes"]
        source = f"./deploy/clickhouse/cluster/macros-0{index + 1}.xml"
        assert f"{source}:/etc/clickhouse-server/config.d/macros.xml:ro" in mounts
    assert "<host>clickhouse-keeper</host>" in _xml("use-keeper.xml")
    assert "<hostname>clickhouse-keeper</hostname>" in _xml("keeper.xml")
    # only replica 1 runs the bootstrap (ON CLUSTER reaches replica 2)
    assert not any("initdb" in v for v in services["clickhouse-02"]["volumes"])
    # Dagster: one container per run; the launcher's env_vars exist where it launches (daemon)
    for name in DAGSTER_SERVICES:
        assert (
            "./deploy/dagster.cluster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro"
            in services[name]["volumes"]
        )
    for name in ("daemon", "webserver"):
        assert "/var/run/docker.sock:/var/run/docker.sock" in services[name]["volumes"]
    launcher = yaml.safe_load((DEPLOY / "dagster.cluster.yaml").read_text())["run_launcher"]
    daemon_env = services["daemon"]["environment"]
    assert set(launcher["config"]["env_vars"]) <= set(daemon_env)
    # the fixed volume names the run containers mount exist in the compose file
    volumes = merged(compose)["volumes"]
    names = {v.get("name") for v in volumes.values() if v}
    for mount in launcher["config"]["container_kwargs"]["volumes"]:
        assert mount.split(":")[0] in names, mount
