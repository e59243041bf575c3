{{ config(materialized='view') }}

select
    c.customer_id,
    c.name,
    count(o.order_id) as orders,
    sum(o.amount_cents) as revenue_cents
from {{ ref('dim_customers') }} as c final
left join {{ ref('fct_orders') }} as o on o.customer_id = c.customer_id
group by c.customer_id, c.name
