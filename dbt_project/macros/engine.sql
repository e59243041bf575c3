{#
    The table engine of a model. On the `cluster` target (a replicated deployment) every
    MergeTree-family engine becomes its Replicated* twin; the zookeeper path and replica name come
    from the server's default_replica_path / default_replica_name settings.

    engine('ReplacingMergeTree(loaded_at)') -> ReplacingMergeTree(loaded_at)
                                             -> ReplicatedReplacingMergeTree(loaded_at) on `cluster`
#}
{% macro engine(name) -%}
    {%- if target is defined and target.name == 'cluster' and not name.startswith('Replicated') -%}
        Replicated{{ name }}
    {%- else -%}
        {{ name }}
    {%- endif -%}
{%- endmacro %}
