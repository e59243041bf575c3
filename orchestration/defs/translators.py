"""The translators: dbt and dlt nodes become asset specs under one key/group policy (naming.py).

dbt sources resolve to the raw-table keys of the dlt assets (meta.dagster.asset_key, or the same
policy when the meta is missing), so the graph runs unbroken from raw tables to marts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

from core.settings import settings
from ingestion.schema import TableSpec
from orchestration.defs import naming
from orchestration.defs.clickhouse import raw_relation
from orchestration.defs.quality.freshness import model_policy, table_policy
from orchestration.defs.transform.project import TABLE_MATERIALIZATIONS

KIND_DLT = "dlt"
KIND_DBT = "dbt"
KIND_CLICKHOUSE = "clickhouse"
MART_LAYER = "marts"


def dbt_meta(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """A node's meta (dbt >= 1.10 keeps it under config.meta; older manifests at the top)."""
    return {**(props.get("meta") or {}), **((props.get("config") or {}).get("meta") or {})}


def dbt_description(props: Mapping[str, Any]) -> str:
    """The node's description and its SQL: compiled (the manifest of `dbt compile`) when the
    manifest has it, else the source with its Jinja, labelled as such."""
    text = props.get("description") or f"dbt {props['resource_type']} {props['name']}"
    compiled = (props.get("compiled_code") or "").strip()
    if compiled:
        return f"{text}\n\n#### Compiled SQL\n```sql\n{compiled}\n```"
    raw = (props.get("raw_code") or "").strip()
    if raw:
        return f"{text}\n\n#### SQL (not compiled: Jinja as written)\n```sql\n{raw}\n```"
    return text


def dbt_docs_url(props: Mapping[str, Any]) -> str:
    """The node's page in the dbt docs (`make dbt-docs`), e.g. .../#!/model/model.p.orders."""
    base = settings().project.dbt_docs_url.rstrip("/")
    return f"{base}/#!/{props['resource_type']}/{props['unique_id']}"


class DbtTranslator(DagsterDbtTranslator):
    """Keys [<layer>, <model>], groups by folder, owners/tags from dbt meta, eager automation,
    freshness from `meta.dagster.freshness` (defaults in quality/freshness.py)."""

    def __init__(self, *, automation: bool = True) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True))
        # one shared condition object: eager() builds a whole tree, too costly per model
        self._condition = dg.AutomationCondition.eager() if automation else None
        self._with_policy: dict[tuple[int, str, int], dg.AssetSpec] = {}
        self._partitions: Mapping[str, dg.PartitionsDefinition] = {}

    def with_partitions(self, partitions: Mapping[str, dg.PartitionsDefinition]) -> DbtTranslator:
        """This translator, giving the models of `partitions` (by unique id) their partitions."""
        other = DbtTranslator(automation=self._condition is not None)
        other._condition = self._condition
        other._partitions = dict(partitions)
        return other

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return naming.dbt_asset_key(dbt_resource_props)

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return dbt_description(dbt_resource_props)

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        return {
            **super().get_metadata(dbt_resource_props),
            "dbt/docs": dg.MetadataValue.url(dbt_docs_url(dbt_resource_props)),
        }

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return naming.dbt_group(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str] | None:
        meta = dbt_meta(dbt_resource_props)
        explicit = (meta.get("dagster") or {}).get("owners")
        return naming.owners(explicit or meta.get("owner")) or None

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = naming.tags(dbt_resource_props.get("tags") or [])
        materialized = (dbt_resource_props.get("config") or {}).get("materialized")
        if materialized:
            tags["dbt/materialized"] = materialized
        return naming.valid_tags(tags)

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        memo = (id(manifest), unique_id, id(project))
        if memo not in self._with_policy:
            spec = self._with_freshness(
                manifest, unique_id, super().get_asset_spec(manifest, unique_id, project)
            )
            if unique_id in self._partitions:
                spec = spec.replace_attributes(partitions_def=self._partitions[unique_id])
            self._with_policy[memo] = spec
        return self._with_policy[memo]

    def _with_freshness(
        self, manifest: Mapping[str, Any], unique_id: str, spec: dg.AssetSpec
    ) -> dg.AssetSpec:
        node = manifest["nodes"].get(unique_id)
        if node is None or node["resource_type"] not in ("model", "seed", "snapshot"):
            return spec  # sources are the dlt assets, tests are checks
        materialized = (node.get("config") or {}).get("materialized")
        policy = model_policy(
            node,
            dbt_meta(node),
            incremental=materialized == "incremental",
            mart_table=naming.dbt_layer(node) == MART_LAYER
            and (materialized in TABLE_MATERIALIZATIONS or node["resource_type"] != "model"),
        )
        return spec if policy is None else spec.replace_attributes(freshness_policy=policy)

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        # keep every model current once its upstream lands; sources are the dlt assets' business
        if dbt_resource_props["resource_type"] == "source":
            return None
        return self._condition


class DltTranslator(DagsterDltTranslator):
    """One spec per dlt resource (= raw table) from its schema YAML: key, group, owners, tags,
    description, kinds and the column schema."""

    def __init__(self, tables: Mapping[tuple[str, str], TableSpec]) -> None:
        self._tables = dict(tables)

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        resource = data.resource
        table = self._tables.get((resource.source_name, resource.name))
        if table is None:  # a resource without a YAML still gets a key under the same policy
            return dg.AssetSpec(
                key=naming.raw_table_key(resource.source_name, resource.name),
                group_name=naming.raw_table_group(resource.source_name),
                kinds={KIND_DLT, KIND_CLICKHOUSE},
            )
        return raw_table_spec(table)


def raw_table_spec(table: TableSpec) -> dg.AssetSpec:
    tags = {**dict.fromkeys(table.tags, ""), "source": table.source}
    if table.daily_partitioned:
        tags["partitioning"] = "daily"
    return dg.AssetSpec(
        key=naming.table_key(table),
        group_name=naming.raw_table_group(table.source),
        description=table.description or f"Raw table {table.name} of source {table.source}.",
        owners=list(naming.owners(list(table.owners))),
        tags=naming.valid_tags(tags),
        kinds={KIND_DLT, KIND_CLICKHOUSE},
        freshness_policy=table_policy(table),
        metadata={
            **TableMetadataSet(
                column_schema=column_schema(table), table_name=str(raw_relation(table))
            ),
            "primary_key": ", ".join(table.primary_key),
        },
    )


def column_schema(table: TableSpec) -> dg.TableSchema:
    """The raw table's columns with their ClickHouse types."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=table.clickhouse_type(c),
                description=c.description or None,
                constraints=dg.TableColumnConstraints(nullable=table.is_nullable(c)),
            )
            for c in table.columns
        ]
    )
