{{
    config(
        engine=engine('ReplacingMergeTree(loaded_at)'),
        order_by='(supply_id, product_id)',
        unique_key='supply_uuid',
    )
}}

with

supplies as (

    select * from {{ ref('stg_jaffle_shop__supplies') }}

),

final as (

    select
        -- ids
        supply_uuid,
        supply_id,
        product_id,

        -- text
        supply_name,

        -- numerics
        supply_cost,

        -- booleans
        is_perishable_supply,

        -- timestamps
        loaded_at

    from supplies

)

select * from final
