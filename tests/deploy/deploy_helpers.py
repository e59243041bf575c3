"""Helpers of the deployment tests: compose-style interpolation, .env.example, Dagster env."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose-style interpolation of every string in `value` (`$$` stays a literal `$`)."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, op, arg = match["name"], match["op"], match["arg"] or ""
            current = env.get(name)
            missing = not current if op in (":-", ":?") else current is None
            if not missing:
                return current or ""
            if op and op.endswith("?"):
                raise KeyError(f"required variable {name}: {arg}")
            return arg if op else ""

        parts = value.split("$$")
        return "$".join(_VAR.sub(sub, part) for part in parts)
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    return value


def variables(text: str) -> set[str]:
    """Names of the variables a compose file interpolates (comment lines left out)."""
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return {m["name"] for m in _VAR.finditer(code.replace("$$", ""))}


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        line = line.strip()
        if line.startswith("#") and "=" in line and line[1:].strip().split("=")[0].isupper():
            line = line[1:].strip()  # commented-out optional settings count as listed
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def dagster_env(postgres_url: str, storage: Path, max_runs: int = 4) -> dict[str, str]:
    """The DAGSTER_* variables of deploy/dagster.yaml, pointed at a test Postgres database."""
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    return {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        # the test server trusts local connections; any value satisfies the required field
        "DAGSTER_PG_PASSWORD": url.password or "unused",
        "DAGSTER_PG_DB": url.database or "",
        "DAGSTER_MAX_CONCURRENT_RUNS": str(max_runs),
        "DAGSTER_COMPUTE_LOGS_DIR": str(storage / "compute_logs"),
        "DAGSTER_STORAGE_DIR": str(storage / "artifacts"),
    }
