#!/usr/bin/env bash
# make bench: time the Allegro order import against plain Odoo ORM code and
# print the figures (see the top of scripts/benchmark.py).
# Extra arguments go to benchmark.py (e.g. make bench ARGS="--orders 200").
source "$(dirname "$0")/common.sh"

PY="$(pick_python)"
require_odoo
ensure_postgres
ADDONS="$(addons_path)"

exec "$PY" "$ROOT/scripts/benchmark.py" --addons-path "$ADDONS" "$@"
