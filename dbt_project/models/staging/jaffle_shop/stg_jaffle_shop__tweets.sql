with

source as (

    select * from {{ source('jaffle_shop', 'tweets') }} {{ final() }}

),

renamed as (

    select
        -- ids
        cast(id as String) as tweet_id,
        cast(user_id as String) as customer_id,

        -- text
        cast(content as String) as tweet_content,

        -- timestamps
        cast(tweeted_at as DateTime64(6, 'UTC')) as tweeted_at,
        _ingested_at as loaded_at

    from source

)

select * from renamed
