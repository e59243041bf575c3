{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['metric_date', 'location_id'],
        engine=engine('SummingMergeTree'),
        partition_by='toYYYYMM(metric_date)',
        order_by='(metric_date, location_id)',
        on_schema_change='fail',
    )
}}

with

orders as (

    select * from {{ ref('orders') }}
    where {{ incremental_window('ordered_at', this_column='metric_date') }}

),

locations as (

    -- a ReplacingMergeTree dimension: FINAL so a re-delivered row is never counted twice
    select * from {{ ref('locations') }} {{ final() }}

),

daily as (

    select
        ordered_date as metric_date,
        location_id,

        count() as count_orders,
        sum(count_order_items) as count_order_items,
        sum(count_food_items) as count_food_items,
        sum(count_drink_items) as count_drink_items,
        sum(subtotal) as subtotal,
        sum(tax_paid) as tax_paid,
        sum(order_total) as revenue,
        sum(order_cost) as supply_cost

    from orders
    group by ordered_date, location_id

),

final as (

    select
        -- keys
        daily.metric_date,
        daily.location_id,

        -- text
        locations.location_name,

        -- numerics (summed by SummingMergeTree when parts merge)
        toUInt64(daily.count_orders) as count_orders,
        toUInt64(daily.count_order_items) as count_order_items,
        toUInt64(daily.count_food_items) as count_food_items,
        toUInt64(daily.count_drink_items) as count_drink_items,
        toDecimal64(daily.subtotal, 2) as subtotal,
        toDecimal64(daily.tax_paid, 2) as tax_paid,
        toDecimal64(daily.revenue, 2) as revenue,
        toDecimal64(daily.supply_cost, 2) as supply_cost,
        toDecimal64(daily.subtotal - daily.supply_cost, 2) as gross_profit

    from daily
    left join locations
        on daily.location_id = locations.location_id

)

select * from final
