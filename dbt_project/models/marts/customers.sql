{{
    config(
        engine=engine('ReplacingMergeTree(loaded_at)'),
        order_by='customer_id',
        unique_key='customer_id',
    )
}}

with

customers as (

    select * from {{ ref('stg_jaffle_shop__customers') }}

),

orders as (

    select * from {{ ref('orders') }}

),

customer_orders_summary as (

    select
        customer_id,

        count() as count_lifetime_orders,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at,
        sum(subtotal) as lifetime_spend_pretax,
        sum(tax_paid) as lifetime_tax_paid,
        sum(order_total) as lifetime_spend

    from orders
    group by customer_id

),

joined as (

    select
        -- ids
        customers.customer_id,

        -- text
        customers.customer_name,
        if(customer_orders_summary.count_lifetime_orders > 1, 'returning', 'new')
            as customer_type,

        -- numerics (a customer without orders gets 0: ClickHouse joins fill defaults)
        customer_orders_summary.count_lifetime_orders,
        customer_orders_summary.lifetime_spend_pretax,
        customer_orders_summary.lifetime_tax_paid,
        customer_orders_summary.lifetime_spend,

        -- timestamps (null when the customer has no orders)
        if(
            customer_orders_summary.count_lifetime_orders > 0,
            customer_orders_summary.first_ordered_at,
            null
        ) as first_ordered_at,
        if(
            customer_orders_summary.count_lifetime_orders > 0,
            customer_orders_summary.last_ordered_at,
            null
        ) as last_ordered_at,
        customers.loaded_at

    from customers
    left join customer_orders_summary
        on customers.customer_id = customer_orders_summary.customer_id

),

final as (

    select
        customer_id,
        customer_name,
        cast(customer_type as LowCardinality(String)) as customer_type,
        toUInt64(count_lifetime_orders) as count_lifetime_orders,
        toDecimal64(lifetime_spend_pretax, 2) as lifetime_spend_pretax,
        toDecimal64(lifetime_tax_paid, 2) as lifetime_tax_paid,
        toDecimal64(lifetime_spend, 2) as lifetime_spend,
        cast(first_ordered_at as Nullable(DateTime64(6, 'UTC'))) as first_ordered_at,
        cast(last_ordered_at as Nullable(DateTime64(6, 'UTC'))) as last_ordered_at,
        loaded_at

    from joined

)

select * from final
