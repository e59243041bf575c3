{{
    config(
        engine=engine('ReplacingMergeTree(loaded_at)'),
        order_by='product_id',
        unique_key='product_id',
    )
}}

with

products as (

    select * from {{ ref('int_products_with_supply_costs') }}

),

final as (

    select
        -- ids
        product_id,

        -- text
        product_name,
        cast(product_type as LowCardinality(String)) as product_type,
        product_description,

        -- numerics
        product_price,
        {{ cents_to_dollars('supply_cost_cents') }} as supply_cost,
        toUInt64(count_supplies) as count_supplies,
        toUInt64(count_perishable_supplies) as count_perishable_supplies,

        -- booleans
        is_food_item,
        is_drink_item,

        -- timestamps
        loaded_at

    from products

)

select * from final
