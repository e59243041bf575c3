with

source as (

    select * from {{ source('jaffle_shop', 'stores') }} {{ final() }}

),

renamed as (

    select
        -- ids
        cast(id as String) as location_id,

        -- text
        trimBoth(cast(name as String)) as location_name,

        -- numerics
        cast(tax_rate as Float64) as tax_rate,

        -- timestamps
        cast(opened_at as DateTime64(6, 'UTC')) as opened_at,
        _ingested_at as loaded_at

    from source

),

final as (

    select
        *,
        toDate(opened_at) as opened_date

    from renamed

)

select * from final
