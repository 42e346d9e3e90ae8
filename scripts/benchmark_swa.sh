#!/usr/bin/env bash
# make bench-swa: Ship with Allegro figures (see the top of scripts/benchmark_swa.py)
# on a fresh database of a Polish company, dropped afterwards.
# Extra arguments go to benchmark_swa.py (e.g. make bench-swa ARGS="--orders 50").
source "$(dirname "$0")/common.sh"

PY="$(pick_python)"
require_odoo
ensure_postgres
ADDONS="$(addons_path)"
DB="${BENCH_DB:-allegro_bench_swa}"
LOGS="$ROOT/.test-logs"
mkdir -p "$LOGS"

say "Fresh database $DB: a Polish company (l10n_pl, PLN) with allegro_connector"
odoo_cli db init --country PL --force "$DB" >"$LOGS/bench-swa-install.log" 2>&1 \
    && odoo_cli module install -d "$DB" l10n_pl allegro_connector >>"$LOGS/bench-swa-install.log" 2>&1 \
    || { tail -n 40 "$LOGS/bench-swa-install.log"; die "creating the database failed (log: $LOGS/bench-swa-install.log)"; }
trap 'odoo_cli db drop "$DB" >/dev/null 2>&1 || true' EXIT

say "Running the Ship with Allegro benchmark"
"$PY" "$ROOT/scripts/benchmark_swa.py" --addons-path "$ADDONS" --db "$DB" "$@"
