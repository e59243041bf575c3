{{
    config(
        materialized='incremental',
        engine='MergeTree()',
        order_by='(order_id)',
        unique_key='order_id',
        incremental_strategy='delete+insert',
    )
}}

select
    toUInt32(id) as order_id,
    toUInt32(customer_id) as customer_id,
    toDateTime(ordered_at) as ordered_at,
    toInt64(amount_cents) as amount_cents
from {{ ref('orders') }}
{% if is_incremental() %}
where toDateTime(ordered_at) >= (select max(ordered_at) from {{ this }}) - interval 40 day
{% endif %}
