"""deploy/clickhouse/bootstrap.sql + bootstrap.sh: rendering (no secret, salted hashes, validated
identifiers), execution against the local endpoint, the parser's verdict on every statement, and
the privilege model enforced by the embedded engine.

What chDB (the local endpoint's engine) can and cannot do here, measured by these tests:
- databases: created for real by the bootstrap (CREATE DATABASE ... runs on the endpoint);
- CREATE ROLE / CREATE USER: refused (Code 497 ACCESS_DENIED): the endpoint's `default` user has no
  access management and clickhouse-local has no writable access storage (with access management
  switched on it answers Code 514 ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND); dependent GRANTs and
  ALTER USER then fail with Code 511 UNKNOWN_ROLE. So their syntax is checked with EXPLAIN AST;
- privileges: enforced. chDB checks grants of its `default` user, so each role's GRANT statements
  (taken from the rendered bootstrap) become that user's XML <grants> in a separate chDB process,
  and the probes below must be allowed or denied (Code 497) exactly as intended.
- not testable here: password authentication, ON CLUSTER execution, Replicated databases.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import DEPLOY

pytestmark = pytest.mark.example  # uses the shipped Jaffle Shop example

SCRIPT = DEPLOY / "clickhouse" / "bootstrap.sh"
PASSWORDS = {
    "CLICKHOUSE_LOADER_PASSWORD": "l0ader-'quote\"-$HOME",
    "CLICKHOUSE_TRANSFORMER_PASSWORD": "tr4nsformer pass",
    "CLICKHOUSE_ANALYST_PASSWORD": "an4lyst;DROP DATABASE marts",
}
ACCESS_CONTROL = re.compile(r"^(CREATE (ROLE|USER)|GRANT|ALTER USER)\b")
ACCESS_DENIED, UNKNOWN_ROLE = 497, 511


def render(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLICKHOUSE_")}
    return subprocess.run(
        ["bash", str(SCRIPT), "--render"],
        env={**clean, **PASSWORDS, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def statements(sql: str) -> list[str]:
    return [" ".join(s.split()) for s in sql.split(";") if s.strip()]


@pytest.fixture(scope="module")
def rendered() -> list[str]:
    done = render()
    assert done.returncode == 0, done.stderr
    return statements(done.stdout)


@pytest.fixture(scope="module")
def rendered_cluster() -> list[str]:
    done = render(CLICKHOUSE_CLUSTER="elt")
    assert done.returncode == 0, done.stderr
    return statements(done.stdout)


@pytest.mark.integration
def test_render_has_no_secret_and_salted_hashes(rendered: list[str]) -> None:
    text = "\n".join(rendered)
    assert "${" not in text
    for password in PASSWORDS.values():
        assert password not in text
    users = {
        m[1]: (m[2], m[3])
        for m in re.finditer(
            r"CREATE USER IF NOT EXISTS (\w+) IDENTIFIED WITH sha256_hash "
            r"BY '([0-9a-f]{64})' SALT '([0-9a-f]{32})'",
            text,
        )
    }
    assert set(users) == {"elt_loader", "elt_transformer", "elt_analyst"}
    for user, key in (
        ("elt_loader", "LOADER"),
        ("elt_transformer", "TRANSFORMER"),
        ("elt_analyst", "ANALYST"),
    ):
        digest, salt = users[user]
        password = PASSWORDS[f"CLICKHOUSE_{key}_PASSWORD"]
        assert digest == hashlib.sha256((password + salt).encode()).hexdigest()
    assert len({salt for _, salt in users.values()}) == 3
    # the layout of the contracts: raw + the dbt databases, least-privilege roles
    databases = [
        m[1] for s in rendered if (m := re.match(r"CREATE DATABASE IF NOT EXISTS (\w+)", s))
    ]
    assert databases == ["raw", "analytics", "staging", "intermediate", "marts"]
    assert "GRANT SHOW, SELECT ON marts.* TO analyst" in rendered
    assert not [s for s in rendered if "TO analyst" in s and "marts.*" not in s]
    loader = [s for s in rendered if s.endswith("TO elt_loader_role") and " ON " in s]
    assert loader and all(" ON raw.* " in s for s in loader)


@pytest.mark.integration
def test_render_settings_and_cluster_variant(rendered_cluster: list[str]) -> None:
    custom = render(CLICKHOUSE_RAW_DATABASE="landing", CLICKHOUSE_LOADER_USER="dlt")
    assert custom.returncode == 0, custom.stderr
    assert "CREATE DATABASE IF NOT EXISTS landing" in statements(custom.stdout)
    assert "GRANT elt_loader_role TO dlt" in statements(custom.stdout)
    # cluster: every statement ON CLUSTER; raw is a Replicated database, the dbt ones are Atomic
    assert all(" ON CLUSTER elt" in s for s in rendered_cluster)
    raw = next(s for s in rendered_cluster if s.startswith("CREATE DATABASE IF NOT EXISTS raw"))
    assert raw.endswith(
        "ENGINE = Replicated('/clickhouse/databases/{uuid}', '{shard}', '{replica}')"
    )
    marts = next(s for s in rendered_cluster if s.startswith("CREATE DATABASE IF NOT EXISTS marts"))
    assert "ENGINE" not in marts


@pytest.mark.integration
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLICKHOUSE_ANALYST_PASSWORD": ""}, "CLICKHOUSE_ANALYST_PASSWORD is not set"),
        ({"CLICKHOUSE_LOADER_USER": "x; DROP USER y"}, "is not a valid identifier"),
        ({"CLICKHOUSE_RAW_DATABASE": "raw`"}, "is not a valid identifier"),
        ({"CLICKHOUSE_CLUSTER": "elt' OR 1"}, "is not a valid identifier"),
        ({"CLICKHOUSE_ANALYST_USER": "analyst"}, "must not be a role name"),
    ],
)
def test_render_refuses_bad_input(env: dict[str, str], message: str) -> None:
    done = render(**env)
    assert done.returncode != 0
    assert message in done.stderr
    assert done.stdout == ""


@pytest.mark.integration
def test_bootstrap_on_the_local_endpoint(warehouse, rendered, rendered_cluster) -> None:
    """Run every statement on the endpoint: the databases are created; access control is refused
    by the embedded engine (recorded), and every statement of both variants parses."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    from core.clickhouse import clickhouse_client

    client = clickhouse_client()
    outcomes: dict[str, int] = {}
    for statement in rendered:
        try:
            client.command(statement)
            outcomes[statement] = 0
        except DatabaseError as exc:
            outcomes[statement] = int(re.search(r"Code: (\d+)", str(exc))[1])
    for statement, code in outcomes.items():
        if ACCESS_CONTROL.match(statement):
            assert code in (ACCESS_DENIED, UNKNOWN_ROLE), (statement, code)
        else:
            assert code == 0, (statement, code)
    assert [s for s, c in outcomes.items() if c == ACCESS_DENIED and "CREATE" in s]
    names = set(client.query("SELECT name FROM system.databases").result_columns[0])
    assert {"raw", "analytics", "staging", "intermediate", "marts"} <= names
    # idempotent: the database part runs again without error
    for statement in rendered:
        if statement.startswith("CREATE DATABASE"):
            client.command(statement)
    # syntax of everything the engine did not execute (both variants) via its own parser
    for statement in [*rendered, *rendered_cluster]:
        ast = str(client.command(f"EXPLAIN AST {statement}"))
        assert ast.split()[0].endswith("Query"), (statement, ast[:80])
    # and the parser does reject broken access-control SQL
    with pytest.raises(DatabaseError, match="Code: 62"):
        client.command("EXPLAIN AST GRANT SELECT ON marts.* TOO analyst")


# --- privilege enforcement in chDB ------------------------------------------------------------

USERS_XML = """<clickhouse>
  <profiles><default/><login>{settings}</login></profiles>
  <quotas><default/></quotas>
  <users><default>
    <password></password><networks><ip>::/0</ip></networks>
    <profile>login</profile><quota>default</quota>
    {access}
  </default></users>
</clickhouse>"""


def role_grants(rendered: list[str]) -> dict[str, dict[str, object]]:
    """user -> the privileges of its role (GRANT ... ON ... without `TO role`) + its settings."""
    privileges: dict[str, list[str]] = {}
    for s in rendered:
        if m := re.fullmatch(r"GRANT (.+ ON \S+) TO (\w+)", s):
            privileges.setdefault(m[2], []).append(f"GRANT {m[1]}")
    logins: dict[str, dict[str, object]] = {}
    for s in rendered:
        if m := re.fullmatch(r"GRANT (\w+) TO (\w+)", s):
            logins[m[2]] = {"grants": privileges[m[1]], "settings": {}}
    for s in rendered:
        if m := re.match(r"CREATE USER IF NOT EXISTS (\w+) .* SETTINGS (\w+) = (\w+)$", s):
            logins[m[1]]["settings"] = {m[2]: m[3]}
    return logins


def probe(data_dir: Path, name: str, grants: list[str] | None, settings: dict, queries: list[str]):
    work = data_dir.parent / name
    work.mkdir(exist_ok=True)
    if grants is None:  # the setup login: full access
        access = "<access_management>1</access_management>"
    else:
        access = "<grants>" + "".join(f"<query>{g}</query>" for g in grants) + "</grants>"
    profile = "".join(f"<{k}>{v}</{k}>" for k, v in settings.items())
    (work / "users.xml").write_text(USERS_XML.format(settings=profile, access=access))
    (work / "config.xml").write_text(
        f"<clickhouse><users_config>{work / 'users.xml'}</users_config></clickhouse>"
    )
    (work / "queries.json").write_text(json.dumps(queries))
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("chdb_probe.py")),
            str(data_dir),
            str(work / "config.xml"),
            str(work / "queries.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "TZ": "UTC"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {r["query"]: r["code"] for r in json.loads(done.stdout.strip().splitlines()[-1])}


@pytest.mark.integration
def test_privileges_are_enforced_by_the_engine(tmp_path: Path, rendered: list[str]) -> None:
    data_dir = tmp_path / "data"
    setup = [s for s in rendered if s.startswith("CREATE DATABASE")] + [
        "CREATE TABLE raw.jaffle_shop___orders (id String, v UInt8) ENGINE = MergeTree ORDER BY id",
        "INSERT INTO raw.jaffle_shop___orders VALUES ('a', 1)",
        "CREATE TABLE marts.orders (id String) ENGINE = MergeTree ORDER BY id",
        "INSERT INTO marts.orders VALUES ('a')",
    ]
    assert set(probe(data_dir, "admin", None, {}, setup).values()) == {0}
    logins = role_grants(rendered)
    assert set(logins) == {"elt_loader", "elt_transformer", "elt_analyst"}

    allowed, denied = 0, ACCESS_DENIED
    expectations = {
        "elt_loader": {
            "INSERT INTO raw.jaffle_shop___orders VALUES ('b', 2)": allowed,
            "CREATE TABLE raw.jaffle_shop___items AS raw.jaffle_shop___orders": allowed,
            "ALTER TABLE raw.jaffle_shop___items ADD COLUMN x UInt8": allowed,
            "TRUNCATE TABLE raw.jaffle_shop___items": allowed,
            "DROP TABLE raw.jaffle_shop___items": allowed,
            "SELECT count() FROM raw.jaffle_shop___orders": allowed,
            "SELECT count() FROM marts.orders": denied,
            "INSERT INTO marts.orders VALUES ('x')": denied,
            "CREATE TABLE staging.t (id String) ENGINE = MergeTree ORDER BY id": denied,
            "DROP DATABASE raw": denied,
        },
        "elt_transformer": {
            "SELECT count() FROM raw.jaffle_shop___orders": allowed,
            "INSERT INTO raw.jaffle_shop___orders VALUES ('c', 3)": denied,
            "DROP TABLE raw.jaffle_shop___orders": denied,
            "CREATE VIEW staging.stg_orders AS SELECT id FROM raw.jaffle_shop___orders": allowed,
            "CREATE TABLE marts.orders__dbt_tmp AS marts.orders": allowed,
            "INSERT INTO marts.orders__dbt_tmp SELECT id FROM staging.stg_orders": allowed,
            "EXCHANGE TABLES marts.orders__dbt_tmp AND marts.orders": allowed,
            "DELETE FROM marts.orders WHERE id = 'zz'": allowed,
            "DROP TABLE marts.orders__dbt_tmp": allowed,
            "CREATE TEMPORARY TABLE tmp_rows (id String)": allowed,
            "CREATE TABLE analytics.seed (id String) ENGINE = MergeTree ORDER BY id": allowed,
            "CREATE TABLE intermediate.t (id String) ENGINE = MergeTree ORDER BY id": allowed,
        },
        "elt_analyst": {
            "SELECT count() FROM marts.orders": allowed,
            "SET max_threads = 1": allowed,
            "SELECT count() FROM raw.jaffle_shop___orders": denied,
            "SELECT count() FROM staging.stg_orders": denied,
            "INSERT INTO marts.orders VALUES ('x')": denied,
            "CREATE TABLE marts.mine (id String) ENGINE = Memory": denied,
            "DROP TABLE marts.orders": denied,
        },
    }
    for user, expected in expectations.items():
        login = logins[user]
        got = probe(data_dir, user, login["grants"], login["settings"], list(expected))
        assert got == expected, user
