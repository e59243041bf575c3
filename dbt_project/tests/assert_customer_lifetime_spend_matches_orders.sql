-- Lifetime spend of all customers equals the revenue of all orders (no order lost or doubled).
-- customers is a ReplacingMergeTree: read with FINAL.
-- A windowed (partition) run rebuilds orders but not customers, which catch up in the next
-- unpartitioned run: there a mismatch only warns; in a full build it fails.
{{ config(severity='warn' if (var('start_date', none) or var('min_date', none)) else 'error') }}

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
