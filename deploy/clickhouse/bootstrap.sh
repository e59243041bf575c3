#!/usr/bin/env bash
# Render deploy/clickhouse/bootstrap.sql from the environment and apply it with clickhouse-client.
#
#   bootstrap.sh            render, then pipe into clickhouse-client (needs an admin login)
#   bootstrap.sh --render   only print the rendered SQL (no secret in it: passwords become salted
#                           SHA-256 hashes)
#
# In docker-compose this file is mounted as /docker-entrypoint-initdb.d/10-bootstrap.sh, so the
# official clickhouse-server image runs it once, on the first start with an empty data volume
# (the image's CLICKHOUSE_USER / CLICKHOUSE_PASSWORD are then the admin login). Against any other
# server: export the variables below and run it from a machine with clickhouse-client.
#
# Environment:
#   CLICKHOUSE_LOADER_PASSWORD, CLICKHOUSE_TRANSFORMER_PASSWORD, CLICKHOUSE_ANALYST_PASSWORD  required
#   CLICKHOUSE_LOADER_USER (elt_loader), CLICKHOUSE_TRANSFORMER_USER (elt_transformer),
#   CLICKHOUSE_ANALYST_USER (elt_analyst), CLICKHOUSE_RAW_DATABASE (raw)
#   CLICKHOUSE_CLUSTER       empty: one server; a cluster name: ON CLUSTER + Replicated raw database
#   CLICKHOUSE_BOOTSTRAP_SQL path of the template (default: bootstrap.sql next to this script)
#   admin login for applying: CLICKHOUSE_ADMIN_USER / CLICKHOUSE_ADMIN_PASSWORD, falling back to
#   CLICKHOUSE_USER / CLICKHOUSE_PASSWORD; CLICKHOUSE_ADMIN_HOST (127.0.0.1), CLICKHOUSE_TCP_PORT (9000)
set -euo pipefail

die() {
  echo "bootstrap.sh: $*" >&2
  exit 1
}

identifier() { # identifier NAME VALUE: refuse anything that is not a plain SQL identifier
  [[ "$2" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "$1='$2' is not a valid identifier"
}

sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

main() {
  local mode="apply"
  case "${1:-}" in
    --render) mode="render" ;;
    "") ;;
    *) die "usage: bootstrap.sh [--render]" ;;
  esac

  local here template
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  template="${CLICKHOUSE_BOOTSTRAP_SQL:-$here/bootstrap.sql}"
  [ -r "$template" ] || die "cannot read the SQL template $template"

  declare -A values=(
    [CLICKHOUSE_RAW_DATABASE]="${CLICKHOUSE_RAW_DATABASE:-raw}"
    [CLICKHOUSE_LOADER_USER]="${CLICKHOUSE_LOADER_USER:-elt_loader}"
    [CLICKHOUSE_TRANSFORMER_USER]="${CLICKHOUSE_TRANSFORMER_USER:-elt_transformer}"
    [CLICKHOUSE_ANALYST_USER]="${CLICKHOUSE_ANALYST_USER:-elt_analyst}"
  )
  local name
  for name in "${!values[@]}"; do identifier "$name" "${values[$name]}"; done
  for name in CLICKHOUSE_LOADER_USER CLICKHOUSE_TRANSFORMER_USER CLICKHOUSE_ANALYST_USER; do
    case "${values[$name]}" in # users and roles share one namespace in ClickHouse
      elt_loader_role | elt_transformer_role | analyst) die "$name must not be a role name" ;;
    esac
  done

  local role password salt
  for role in LOADER TRANSFORMER ANALYST; do
    name="CLICKHOUSE_${role}_PASSWORD"
    password="${!name:-}"
    [ -n "$password" ] || die "$name is not set (see .env.example)"
    salt="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    values["${name}_SALT"]="$salt"
    values["${name}_SHA256"]="$(sha256_hex "$password$salt")"
  done

  local cluster="${CLICKHOUSE_CLUSTER:-}"
  if [ -n "$cluster" ]; then
    identifier CLICKHOUSE_CLUSTER "$cluster"
    values[ON_CLUSTER]="ON CLUSTER $cluster"
    values[RAW_DATABASE_ENGINE]="ENGINE = Replicated('/clickhouse/databases/{uuid}', '{shard}', '{replica}')"
  else
    values[ON_CLUSTER]=""
    values[RAW_DATABASE_ENGINE]=""
  fi

  local sql # the template without its full-line comments (they quote the placeholders)
  sql="$(grep -v '^[[:space:]]*--' "$template")"
  for name in "${!values[@]}"; do
    sql="${sql//"\${$name}"/${values[$name]}}"
  done
  if [[ "$sql" == *'${'* ]]; then
    die "unrendered placeholder left in $template: $(grep -o '\${[A-Za-z_]*}' <<<"$sql" | sort -u | tr '\n' ' ')"
  fi

  if [ "$mode" = "render" ]; then
    printf '%s\n' "$sql"
    return
  fi

  local admin_user="${CLICKHOUSE_ADMIN_USER:-${CLICKHOUSE_USER:-default}}"
  local admin_password="${CLICKHOUSE_ADMIN_PASSWORD:-${CLICKHOUSE_PASSWORD:-}}"
  echo "bootstrap.sh: applying $template as '$admin_user' (cluster: ${cluster:-none})" >&2
  local ddl_mode=()
  # on a cluster, queue the ON CLUSTER statements without waiting for replicas that are still
  # starting: every replica executes the queue in order when it comes up
  [ -z "$cluster" ] || ddl_mode=(--distributed_ddl_output_mode=none)
  printf '%s\n' "$sql" | clickhouse-client --multiquery "${ddl_mode[@]}" \
    --host "${CLICKHOUSE_ADMIN_HOST:-127.0.0.1}" --port "${CLICKHOUSE_TCP_PORT:-9000}" \
    --user "$admin_user" --password "$admin_password"
}

main "$@"
