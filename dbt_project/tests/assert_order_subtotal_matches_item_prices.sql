-- Business rule: an order's subtotal is the sum of the list prices of its items.
select
    order_id,
    subtotal,
    order_items_subtotal
from {{ ref('orders') }}
where subtotal != order_items_subtotal
