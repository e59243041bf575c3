"""The one asset-key and group policy shared by the dlt and dbt translators.

- raw table T of source S (landed by dlt): key ["raw", S, T], group S
- dbt model M in models/<layer>/...:      key [<layer>, M], group <layer>
- dbt seed / snapshot N:                   key [G, N], group G ("seeds" / "snapshots")

Pure functions only, so the policy unit-tests without dagster-dbt or dlt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from ingestion.schema import TableSpec

RAW_PREFIX = "raw"
KIND_BY_RESOURCE_TYPE = {"seed": "seeds", "snapshot": "snapshots"}


def raw_table_key(source: str, table: str) -> dg.AssetKey:
    """Key of the dlt asset that lands `table` of `source` into the raw database."""
    return dg.AssetKey([RAW_PREFIX, source, table])


def table_key(spec: TableSpec) -> dg.AssetKey:
    """Key of the dlt asset of a schema-YAML table."""
    return raw_table_key(spec.source, spec.name)


def raw_table_group(source: str) -> str:
    return source


def dbt_layer(props: Mapping[str, Any]) -> str:
    """The first folder under the model path (staging/intermediate/marts), or seeds/snapshots."""
    resource_type = props["resource_type"]
    if resource_type in KIND_BY_RESOURCE_TYPE:
        return KIND_BY_RESOURCE_TYPE[resource_type]
    fqn: Sequence[str] = props.get("fqn") or []
    # fqn = [project, <folder>, ..., <name>]; a model directly under models/ has no folder
    return fqn[1] if len(fqn) > 2 else "models"


def dbt_asset_key(props: Mapping[str, Any]) -> dg.AssetKey:
    """Key of a dbt node; sources resolve to the raw table they read (meta.dagster.asset_key)."""
    if props["resource_type"] == "source":
        meta = props.get("meta") or (props.get("config") or {}).get("meta") or {}
        configured = (meta.get("dagster") or {}).get("asset_key")
        if configured:
            return dg.AssetKey(list(configured))
        return raw_table_key(props["source_name"], props["name"])
    return dg.AssetKey([dbt_layer(props), props["name"]])


def dbt_group(props: Mapping[str, Any]) -> str:
    if props["resource_type"] == "source":
        return raw_table_group(props["source_name"])
    return dbt_layer(props)


def owners(value: Any) -> list[str]:
    """Owners as Dagster accepts them: emails or `team:<name>`; a bare name becomes a team."""
    if not value:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [item if ("@" in item or item.startswith("team:")) else f"team:{item}" for item in items]


def tags(value: Any) -> dict[str, str]:
    """Tags as Dagster accepts them: a list becomes {tag: ""}; values are strings."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {str(item): "" for item in value}


_TAG_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")


def valid_tags(value: Mapping[str, str]) -> dict[str, str]:
    """Drop tags Dagster would reject (keys `[prefix/]name`, values up to 63 safe characters)."""
    out = {}
    for key, val in value.items():
        parts = key.split("/")
        key_ok = len(parts) <= 2 and all(_TAG_PATTERN.match(p) for p in parts)
        if key_ok and (val == "" or _TAG_PATTERN.match(val)):
            out[key] = val
    return out
