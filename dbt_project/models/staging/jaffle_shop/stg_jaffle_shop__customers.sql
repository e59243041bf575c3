with

source as (

    select * from {{ source('jaffle_shop', 'customers') }} {{ final() }}

),

renamed as (

    select
        -- ids
        cast(id as String) as customer_id,

        -- text
        trimBoth(cast(name as String)) as customer_name,

        -- timestamps
        _ingested_at as loaded_at

    from source

)

select * from renamed
