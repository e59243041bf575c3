-- Every item is food or drink, and the orders mart counts the same items as order_items.
with

item_counts as (

    select
        order_id,
        count() as count_items

    from {{ ref('order_items') }}
    group by order_id

)

select
    orders.order_id,
    orders.count_order_items,
    orders.count_food_items,
    orders.count_drink_items,
    item_counts.count_items

from {{ ref('orders') }} as orders
left join item_counts
    on orders.order_id = item_counts.order_id
where
    orders.count_order_items != orders.count_food_items + orders.count_drink_items
    or orders.count_order_items != item_counts.count_items
