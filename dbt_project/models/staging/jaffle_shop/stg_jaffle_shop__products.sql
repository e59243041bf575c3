with

source as (

    select * from {{ source('jaffle_shop', 'products') }} {{ final() }}

),

renamed as (

    select
        -- ids
        cast(sku as String) as product_id,

        -- text
        trimBoth(cast(name as String)) as product_name,
        cast(type as String) as product_type,
        trimBoth(cast(description as String)) as product_description,

        -- numerics
        cast(price as Int64) as product_price_cents,

        -- timestamps
        _ingested_at as loaded_at

    from source

),

final as (

    select
        *,
        {{ cents_to_dollars('product_price_cents') }} as product_price,

        -- booleans
        toBool(product_type = 'jaffle') as is_food_item,
        toBool(product_type = 'beverage') as is_drink_item

    from renamed

)

select * from final
