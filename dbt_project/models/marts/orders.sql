{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        engine=engine('MergeTree'),
        partition_by='toYYYYMM(ordered_date)',
        order_by='(ordered_date, location_id, order_id)',
        on_schema_change='fail',
    )
}}

with

orders as (

    select * from {{ ref('stg_jaffle_shop__orders') }}
    where {{ incremental_window('ordered_at') }}

),

order_items as (

    select * from {{ ref('int_order_items_joined') }}
    where {{ incremental_window('ordered_at') }}

),

order_items_summary as (

    select
        order_id,

        sum(supply_cost_cents) as order_cost_cents,
        sum(product_price_cents) as order_items_subtotal_cents,
        count() as count_order_items,
        countIf(is_food_item) as count_food_items,
        countIf(is_drink_item) as count_drink_items

    from order_items
    group by order_id

),

joined as (

    select
        -- ids
        orders.order_id,
        orders.customer_id,
        orders.location_id,

        -- numerics (an order without items gets 0: ClickHouse joins fill defaults)
        orders.subtotal_cents,
        orders.tax_paid_cents,
        orders.order_total_cents,
        order_items_summary.order_cost_cents,
        order_items_summary.order_items_subtotal_cents,
        order_items_summary.count_order_items,
        order_items_summary.count_food_items,
        order_items_summary.count_drink_items,

        -- timestamps
        orders.ordered_at,
        orders.ordered_date

    from orders
    left join order_items_summary
        on orders.order_id = order_items_summary.order_id

),

final as (

    select
        -- ids
        order_id,
        customer_id,
        location_id,

        -- numerics
        {{ cents_to_dollars('subtotal_cents') }} as subtotal,
        {{ cents_to_dollars('tax_paid_cents') }} as tax_paid,
        {{ cents_to_dollars('order_total_cents') }} as order_total,
        {{ cents_to_dollars('order_cost_cents') }} as order_cost,
        {{ cents_to_dollars('order_items_subtotal_cents') }} as order_items_subtotal,
        toUInt64(count_order_items) as count_order_items,
        toUInt64(count_food_items) as count_food_items,
        toUInt64(count_drink_items) as count_drink_items,

        -- booleans
        toBool(count_food_items > 0) as is_food_order,
        toBool(count_drink_items > 0) as is_drink_order,

        -- timestamps
        ordered_at,
        ordered_date

    from joined

)

select * from final
