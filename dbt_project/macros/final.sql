{#
    The FINAL modifier for reading a ReplacingMergeTree (or any collapsing engine): rows that
    share a sorting key and have not been merged yet are collapsed at read time.
        select * from {{ ref('locations') }} {{ final() }}
    dbt unit tests replace refs/sources with CTE fixtures, which cannot take FINAL: it is left
    out there (the fixtures have no duplicates to collapse).
#}
{% macro final() -%}
    {%- if model is defined and model.resource_type == 'unit_test' -%}
    {%- else -%}
        final
    {%- endif -%}
{%- endmacro %}
