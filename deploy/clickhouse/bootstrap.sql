-- ClickHouse bootstrap: databases, roles and users of the ELT platform (least privilege).
--
-- A template, never applied as is: deploy/clickhouse/bootstrap.sh renders the ${...} placeholders
-- from the environment and pipes the result into clickhouse-client (the compose init script does
-- the same on first start). Passwords never appear here or in the rendered SQL: the script passes
-- a salted SHA-256 of each one (IDENTIFIED WITH sha256_hash ... SALT ...).
--
-- Placeholders (all validated by bootstrap.sh; identifiers must match [A-Za-z_][A-Za-z0-9_]*):
--   ${CLICKHOUSE_RAW_DATABASE}                          the database dlt loads (default raw)
--   ${CLICKHOUSE_LOADER_USER}       + _SHA256, _SALT    writes only the raw database (dlt)
--   ${CLICKHOUSE_TRANSFORMER_USER}  + _SHA256, _SALT    reads raw, owns the analytics databases (dbt, Dagster)
--   ${CLICKHOUSE_ANALYST_USER}      + _SHA256, _SALT    a login with the read-only analyst role (BI)
--   ${ON_CLUSTER}                    empty, or ON CLUSTER "<CLICKHOUSE_CLUSTER>" on a cluster
--   ${RAW_DATABASE_ENGINE}           empty (Atomic), or ENGINE = Replicated(...) on a cluster
-- Idempotent: safe to re-run (IF NOT EXISTS everywhere; grants are additive).

-- ---------------------------------------------------------------------------------------------
-- databases
-- raw: dlt lands here. On a cluster it is a Replicated database because dlt issues plain DDL
-- (no ON CLUSTER): the database replicates the DDL, ReplicatedMergeTree replicates the data.
CREATE DATABASE IF NOT EXISTS ${CLICKHOUSE_RAW_DATABASE} ${ON_CLUSTER} ${RAW_DATABASE_ENGINE};
-- dbt: target schema (seeds, snapshots) and one database per model layer. dbt's `cluster`
-- target runs its DDL ON CLUSTER itself, so these stay Atomic everywhere.
CREATE DATABASE IF NOT EXISTS analytics ${ON_CLUSTER};
CREATE DATABASE IF NOT EXISTS staging ${ON_CLUSTER};
CREATE DATABASE IF NOT EXISTS intermediate ${ON_CLUSTER};
CREATE DATABASE IF NOT EXISTS marts ${ON_CLUSTER};

-- ---------------------------------------------------------------------------------------------
-- roles: privileges live on roles, users only receive roles
CREATE ROLE IF NOT EXISTS elt_loader_role ${ON_CLUSTER};
CREATE ROLE IF NOT EXISTS elt_transformer_role ${ON_CLUSTER};
CREATE ROLE IF NOT EXISTS analyst ${ON_CLUSTER};

-- loader (dlt): create, load, alter, replace and drop its own tables in raw; nothing else.
-- dlt's merge/replace use staging tables inside raw (`<dataset>_staging___<table>`) and
-- EXCHANGE TABLES / TRUNCATE on them.
GRANT ${ON_CLUSTER} SHOW, SELECT, INSERT, ALTER, CREATE TABLE, DROP TABLE, TRUNCATE, OPTIMIZE
    ON ${CLICKHOUSE_RAW_DATABASE}.* TO elt_loader_role;

-- transformer (dbt, Dagster checks): read raw; own the analytics databases (tables, views,
-- EXCHANGE, lightweight deletes, OPTIMIZE, dropping its own relations); session temporary tables.
GRANT ${ON_CLUSTER} SHOW, SELECT ON ${CLICKHOUSE_RAW_DATABASE}.* TO elt_transformer_role;
GRANT ${ON_CLUSTER} ALL ON analytics.* TO elt_transformer_role;
GRANT ${ON_CLUSTER} ALL ON staging.* TO elt_transformer_role;
GRANT ${ON_CLUSTER} ALL ON intermediate.* TO elt_transformer_role;
GRANT ${ON_CLUSTER} ALL ON marts.* TO elt_transformer_role;
GRANT ${ON_CLUSTER} CREATE TEMPORARY TABLE ON *.* TO elt_transformer_role;

-- analyst: read the marts, nothing else (no raw, no staging, no writes, no DDL).
GRANT ${ON_CLUSTER} SHOW, SELECT ON marts.* TO analyst;

-- ---------------------------------------------------------------------------------------------
-- users (passwords: salted SHA-256 rendered by bootstrap.sh from the environment)
CREATE USER IF NOT EXISTS ${CLICKHOUSE_LOADER_USER} ${ON_CLUSTER}
    IDENTIFIED WITH sha256_hash BY '${CLICKHOUSE_LOADER_PASSWORD_SHA256}'
    SALT '${CLICKHOUSE_LOADER_PASSWORD_SALT}'
    DEFAULT DATABASE ${CLICKHOUSE_RAW_DATABASE};
CREATE USER IF NOT EXISTS ${CLICKHOUSE_TRANSFORMER_USER} ${ON_CLUSTER}
    IDENTIFIED WITH sha256_hash BY '${CLICKHOUSE_TRANSFORMER_PASSWORD_SHA256}'
    SALT '${CLICKHOUSE_TRANSFORMER_PASSWORD_SALT}'
    DEFAULT DATABASE analytics;
-- readonly = 2: queries may change their own settings (BI tools do) but never write.
CREATE USER IF NOT EXISTS ${CLICKHOUSE_ANALYST_USER} ${ON_CLUSTER}
    IDENTIFIED WITH sha256_hash BY '${CLICKHOUSE_ANALYST_PASSWORD_SHA256}'
    SALT '${CLICKHOUSE_ANALYST_PASSWORD_SALT}'
    DEFAULT DATABASE marts
    SETTINGS readonly = 2;

GRANT ${ON_CLUSTER} elt_loader_role TO ${CLICKHOUSE_LOADER_USER};
GRANT ${ON_CLUSTER} elt_transformer_role TO ${CLICKHOUSE_TRANSFORMER_USER};
GRANT ${ON_CLUSTER} analyst TO ${CLICKHOUSE_ANALYST_USER};
ALTER USER ${CLICKHOUSE_LOADER_USER} ${ON_CLUSTER} DEFAULT ROLE elt_loader_role;
ALTER USER ${CLICKHOUSE_TRANSFORMER_USER} ${ON_CLUSTER} DEFAULT ROLE elt_transformer_role;
ALTER USER ${CLICKHOUSE_ANALYST_USER} ${ON_CLUSTER} DEFAULT ROLE analyst;
