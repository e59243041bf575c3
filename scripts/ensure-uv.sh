#!/usr/bin/env sh
# Print the path of a usable `uv`, installing it into .local/bootstrap with pip if missing.
set -eu
if command -v uv >/dev/null 2>&1; then command -v uv; exit 0; fi
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.local/bootstrap"
if [ ! -x "$venv/bin/uv" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv>=0.13,<0.14" >&2
fi
echo "$venv/bin/uv"
