with

products as (

    select * from {{ ref('stg_jaffle_shop__products') }}

),

product_supplies as (

    select * from {{ ref('int_supplies_aggregated_to_products') }}

),

joined as (

    select
        products.*,
        product_supplies.supply_cost_cents,
        product_supplies.count_supplies,
        product_supplies.count_perishable_supplies

    from products
    left join product_supplies
        on products.product_id = product_supplies.product_id

)

select * from joined
