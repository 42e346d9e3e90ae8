#!/usr/bin/env bash
# make bench-budget: the request budget shared by 8 workers (see the top of
# scripts/benchmark_budget.py) on a fresh database, dropped afterwards.
# Extra arguments go to benchmark_budget.py (e.g. make bench-budget ARGS="--seconds 20").
source "$(dirname "$0")/common.sh"

PY="$(pick_python)"
require_odoo
ensure_postgres
ADDONS="$(addons_path)"
DB="${BENCH_DB:-allegro_bench_budget}"
LOGS="$ROOT/.test-logs"
mkdir -p "$LOGS"

say "Fresh database $DB with allegro_connector"
odoo_cli db init --force "$DB" >"$LOGS/bench-budget-install.log" 2>&1 \
    && odoo_cli module install -d "$DB" allegro_connector >>"$LOGS/bench-budget-install.log" 2>&1 \
    || { tail -n 40 "$LOGS/bench-budget-install.log"; die "creating the database failed (log: $LOGS/bench-budget-install.log)"; }
trap 'odoo_cli db drop "$DB" >/dev/null 2>&1 || true' EXIT

say "Running the request budget benchmark"
"$PY" "$ROOT/scripts/benchmark_budget.py" --addons-path "$ADDONS" --db "$DB" "$@"
