{#
    The rows an incremental model (re)builds, as a SQL predicate on `column` (a UTC DateTime).

    1. A window: from Dagster, the environment ELT_WINDOW_START / ELT_WINDOW_END (a daily
       partition or a range of them), read only when the model runs: dbt records no env var
       at parse time, so a new window re-parses nothing (partial parsing holds); by hand,
       --vars '{"start_date": "2018-09-01", "end_date": "2018-09-02"}' (aliases min_date/max_date).
       Half-open [start, end): a partition rebuilds exactly its days, whether the model is
       incremental or built for the first time.
    2. No window, incremental run: everything from `lookback_days` (default 3) before the newest
       row already in the model, so rows that arrive late for recent days are re-read.
    3. No window, first or --full-refresh build: every row.

    Models pair it with the delete+insert strategy on their unique key: the keys in the window are
    deleted and inserted again, so re-running a window is idempotent.
#}
{% macro incremental_window(column, this_column=none) -%}
    {%- set start_date = var('start_date', none) or var('min_date', none)
        or (env_var('ELT_WINDOW_START', '') if execute else '') -%}
    {%- set end_date = var('end_date', none) or var('max_date', none)
        or (env_var('ELT_WINDOW_END', '') if execute else '') -%}
    {%- if start_date or end_date -%}
        {%- if start_date -%}
            {{ column }} >= toDateTime64('{{ validate_window_date(start_date) }}', 6, 'UTC')
        {%- else -%}
            1 = 1
        {%- endif %}
        and {% if end_date -%}
            {{ column }} < toDateTime64('{{ validate_window_date(end_date) }}', 6, 'UTC')
        {%- else -%}
            1 = 1
        {%- endif -%}
    {%- elif is_incremental() -%}
        {{ column }} >= (
            select max({{ this_column or column }}) - toIntervalDay({{ var('lookback_days', 3) | int }})
            from {{ this }}
        )
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}


{# Accept only YYYY-MM-DD or an ISO timestamp; anything else is a configuration error. #}
{% macro validate_window_date(value) -%}
    {%- set text = value | string | trim -%}
    {%- if modules is defined and not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9:.]+)?$', text) -%}
        {{ exceptions.raise_compiler_error(
            "window vars must look like YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS', got: " ~ text
        ) }}
    {%- endif -%}
    {{ text | replace('T', ' ') }}
{%- endmacro %}
