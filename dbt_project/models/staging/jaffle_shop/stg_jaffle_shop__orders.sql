with

source as (

    select * from {{ source('jaffle_shop', 'orders') }} {{ final() }}

),

renamed as (

    select
        -- ids
        cast(id as String) as order_id,
        cast(customer as String) as customer_id,
        cast(store_id as String) as location_id,

        -- numerics (integer cents, as delivered)
        cast(subtotal as Int64) as subtotal_cents,
        cast(tax_paid as Int64) as tax_paid_cents,
        cast(order_total as Int64) as order_total_cents,

        -- timestamps
        cast(ordered_at as DateTime64(6, 'UTC')) as ordered_at,
        _ingested_at as loaded_at

    from source

),

-- dollars in a second step: in ClickHouse an alias shadows the column of the same name
final as (

    select
        *,
        toDate(ordered_at) as ordered_date,
        {{ cents_to_dollars('subtotal_cents') }} as subtotal,
        {{ cents_to_dollars('tax_paid_cents') }} as tax_paid,
        {{ cents_to_dollars('order_total_cents') }} as order_total

    from renamed

)

select * from final
