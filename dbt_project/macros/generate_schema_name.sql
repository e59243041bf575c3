{#
    Custom schemas are used as-is (no `<target>_` prefix): staging models land in the ClickHouse
    database `staging`, intermediate in `intermediate`, marts in `marts`. Anything without a custom
    schema (seeds, snapshots) goes to the target schema (`analytics`).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
