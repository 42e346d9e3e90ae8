#!/usr/bin/env bash
# make bench-jobs / make soak: updates to Allegro sent by queue_job workers
# (see the top of scripts/bench_jobs.py). Extra arguments go to bench_jobs.py.
source "$(dirname "$0")/common.sh"

PY="$(pick_python)"
require_odoo
ensure_postgres
ADDONS="$(addons_path)"

exec "$PY" "$ROOT/scripts/bench_jobs.py" --addons-path "$ADDONS" "$@"
