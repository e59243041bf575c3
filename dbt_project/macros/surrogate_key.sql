{#
    A deterministic surrogate key from several columns (hex of MD5 over a separator-joined string),
    for tables whose natural key is composite.
#}
{% macro surrogate_key(columns) -%}
    lower(hex(MD5(concatWithSeparator('|', {{ columns | join(', ') }}))))
{%- endmacro %}
