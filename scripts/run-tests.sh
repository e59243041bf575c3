#!/usr/bin/env bash
# Run pytest in the locked environment; "no tests collected" (exit 5) counts as failure.
set -u
cd "$(dirname "$0")/.."
uv=$(./scripts/ensure-uv.sh)
"$uv" run --locked pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run-tests: pytest collected no tests; treating as failure" >&2
  exit 1
fi
exit "$rc"
