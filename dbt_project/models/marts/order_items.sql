{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_item_id',
        engine=engine('MergeTree'),
        partition_by='toYYYYMM(ordered_date)',
        order_by='(ordered_date, order_id, order_item_id)',
        on_schema_change='fail',
    )
}}

with

order_items as (

    select * from {{ ref('int_order_items_joined') }}
    where {{ incremental_window('ordered_at') }}

),

final as (

    select
        -- ids
        order_item_id,
        order_id,
        product_id,

        -- text
        product_name,
        cast(product_type as LowCardinality(String)) as product_type,

        -- numerics
        {{ cents_to_dollars('product_price_cents') }} as product_price,
        {{ cents_to_dollars('supply_cost_cents') }} as supply_cost,

        -- booleans
        is_food_item,
        is_drink_item,

        -- timestamps
        ordered_at,
        toDate(ordered_at) as ordered_date

    from order_items

)

select * from final
