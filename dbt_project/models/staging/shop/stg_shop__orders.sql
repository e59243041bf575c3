with

source as (

    select * from {{ source('shop', 'orders') }} {{ final() }}

),

renamed as (

    select
        -- ids
        id,

        -- text
        customer_name,
        ref,

        -- numerics
        amount,

        -- booleans
        paid,

        -- dates
        day,

        -- timestamps
        created_at,
        _ingested_at as loaded_at

    from source

),

final as (

    select * from renamed

)

select * from final
