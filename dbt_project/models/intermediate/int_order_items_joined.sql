with

order_items as (

    select * from {{ ref('stg_jaffle_shop__items') }}

),

products as (

    select * from {{ ref('int_products_with_supply_costs') }}

),

joined as (

    select
        -- ids
        order_items.order_item_id,
        order_items.order_id,
        order_items.product_id,

        -- text
        products.product_name,
        products.product_type,

        -- numerics
        products.product_price_cents,
        products.supply_cost_cents,

        -- booleans
        products.is_food_item,
        products.is_drink_item,

        -- timestamps
        order_items.ordered_at

    from order_items
    left join products
        on order_items.product_id = products.product_id

)

select * from joined
