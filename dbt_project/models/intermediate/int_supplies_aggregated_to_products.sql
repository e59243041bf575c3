with

supplies as (

    select * from {{ ref('stg_jaffle_shop__supplies') }}

),

aggregated as (

    select
        product_id,

        -- numerics: what the supplies of one unit of the product cost
        sum(supply_cost_cents) as supply_cost_cents,
        count() as count_supplies,
        countIf(is_perishable_supply) as count_perishable_supplies

    from supplies
    group by product_id

)

select * from aggregated
