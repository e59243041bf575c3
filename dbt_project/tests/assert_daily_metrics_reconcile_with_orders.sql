-- The daily rollup holds exactly the orders and revenue of the orders mart, day by day.
-- Aggregated with sum() as any SummingMergeTree reader must.
with

metrics as (

    select
        metric_date,
        sum(count_orders) as count_orders,
        sum(revenue) as revenue

    from {{ ref('daily_location_metrics') }}
    group by metric_date

),

orders as (

    select
        ordered_date,
        count() as count_orders,
        sum(order_total) as revenue

    from {{ ref('orders') }}
    group by ordered_date

)

select
    orders.ordered_date,
    orders.count_orders,
    metrics.count_orders as metric_count_orders,
    orders.revenue,
    metrics.revenue as metric_revenue

from orders
full outer join metrics
    on orders.ordered_date = metrics.metric_date
where
    orders.count_orders != metrics.count_orders
    or orders.revenue != metrics.revenue
