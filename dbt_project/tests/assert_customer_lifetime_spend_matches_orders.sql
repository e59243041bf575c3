-- Lifetime spend of all customers equals the revenue of all orders (no order lost or doubled).
-- customers is a ReplacingMergeTree: read with FINAL.
with

customers as (

    select sum(lifetime_spend) as lifetime_spend
    from {{ ref('customers') }} {{ final() }}

),

orders as (

    select sum(order_total) as revenue
    from {{ ref('orders') }}

)

select
    customers.lifetime_spend,
    orders.revenue

from customers
cross join orders
where customers.lifetime_spend != orders.revenue
