{{
    config(
        engine=engine('ReplacingMergeTree(loaded_at)'),
        order_by='location_id',
        unique_key='location_id',
    )
}}

with

locations as (

    select * from {{ ref('stg_jaffle_shop__stores') }}

),

final as (

    select
        -- ids
        location_id,

        -- text
        location_name,

        -- numerics
        tax_rate,

        -- timestamps
        opened_at,
        opened_date,
        loaded_at

    from locations

)

select * from final
