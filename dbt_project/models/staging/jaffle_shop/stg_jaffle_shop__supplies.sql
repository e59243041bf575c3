with

source as (

    select * from {{ source('jaffle_shop', 'supplies') }} {{ final() }}

),

renamed as (

    select
        -- ids (a supply is listed once per product that uses it:
        -- the key is (supply_id, product_id))
        cast(id as String) as supply_id,
        cast(sku as String) as product_id,

        -- text
        trimBoth(cast(name as String)) as supply_name,

        -- numerics
        cast(cost as Int64) as supply_cost_cents,

        -- booleans
        cast(perishable as Bool) as is_perishable_supply,

        -- timestamps
        _ingested_at as loaded_at

    from source

),

final as (

    select
        {{ surrogate_key(['supply_id', 'product_id']) }} as supply_uuid,
        *,
        {{ cents_to_dollars('supply_cost_cents') }} as supply_cost

    from renamed

)

select * from final
