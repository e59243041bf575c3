-- Business rule: what a customer pays is the pre-tax subtotal plus the tax. Returns violations.
select
    order_id,
    subtotal,
    tax_paid,
    order_total
from {{ ref('orders') }}
where order_total != subtotal + tax_paid
