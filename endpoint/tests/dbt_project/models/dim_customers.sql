{{
    config(
        materialized='table',
        engine='ReplacingMergeTree(updated_at)',
        order_by='(customer_id)',
        partition_by='toYYYYMM(signed_up_at)',
    )
}}

select
    toUInt32(id) as customer_id,
    name,
    toDateTime(signed_up_at) as signed_up_at,
    country,
    now() as updated_at
from {{ ref('customers') }}
