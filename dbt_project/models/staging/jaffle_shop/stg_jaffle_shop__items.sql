with

source as (

    select * from {{ source('jaffle_shop', 'items') }} {{ final() }}

),

renamed as (

    select
        -- ids
        cast(id as String) as order_item_id,
        cast(order_id as String) as order_id,
        cast(sku as String) as product_id,

        -- timestamps (the ordered_at of the item's order, so items can be windowed by day)
        cast(ordered_at as DateTime64(6, 'UTC')) as ordered_at,
        _ingested_at as loaded_at

    from source

)

select * from renamed
