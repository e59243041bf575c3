{#
    Integer cents -> Decimal(18, 2) dollars, exactly (no floating point on money).
#}
{% macro cents_to_dollars(column_name) -%}
    toDecimal64({{ column_name }}, 2) / 100
{%- endmacro %}
