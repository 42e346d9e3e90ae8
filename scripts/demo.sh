#!/usr/bin/env bash
# make demo: a demo database with a shop connected to the project's Allegro
# emulator (sample orders from allegro.pl and allegro.cz), Odoo served on
# http://localhost:8069 (admin / admin). Safe to run again.
source "$(dirname "$0")/common.sh"

PY="$(pick_python)"
require_odoo
ensure_postgres
ADDONS="$(addons_path)"
DB="${DEMO_DB:-allegro_demo}"
HTTP_PORT="${HTTP_PORT:-8069}"
EMULATOR_PORT="${EMULATOR_PORT:-8070}"
STATE="$ROOT/.demo"
mkdir -p "$STATE"

if psql -d postgres -Atc "select 1 from pg_database where datname = '$DB'" | grep -q 1; then
    say "Updating allegro_connector in database $DB"
    odoo_cli module upgrade -d "$DB" allegro_connector >"$STATE/odoo-install.log" 2>&1 \
        || { tail -n 30 "$STATE/odoo-install.log"; die "module upgrade failed"; }
else
    say "Creating database $DB (Polish company, login admin / admin)"
    odoo_cli db init --country PL "$DB" >"$STATE/odoo-install.log" 2>&1 \
        && odoo_cli module install -d "$DB" l10n_pl l10n_eu_oss allegro_connector >>"$STATE/odoo-install.log" 2>&1 \
        || { tail -n 30 "$STATE/odoo-install.log"; die "database creation failed"; }
    # The OSS fiscal positions and taxes, as Settings > OSS Tax mapping makes them.
    echo 'env["res.company"]._map_all_eu_companies_taxes(); env.cr.commit()' \
        | odoo_cli shell -d "$DB" --no-http >>"$STATE/odoo-install.log" 2>&1 \
        || { tail -n 30 "$STATE/odoo-install.log"; die "mapping the OSS taxes failed"; }
fi

# The sellers are Polish: the demo speaks Polish (the admin's language is set by demo_setup.py).
if ! psql -d "$DB" -Atc "select 1 from res_lang where code = 'pl_PL' and active" | grep -q 1; then
    say "Installing Polish (pl_PL)"
    odoo_cli i18n loadlang -d "$DB" -l pl_PL >>"$STATE/odoo-install.log" 2>&1 \
        || { tail -n 30 "$STATE/odoo-install.log"; die "loading Polish failed"; }
fi

# One emulator at a time: stop the one a previous run left behind.
if [ -f "$STATE/emulator.pid" ]; then kill "$(cat "$STATE/emulator.pid")" 2>/dev/null || true; fi
say "Starting the Allegro emulator on http://127.0.0.1:$EMULATOR_PORT"
PYTHONPATH="$ROOT/tests" "$PY" -m allegro_emulator --host 127.0.0.1 --port "$EMULATOR_PORT" \
    --client-id demo-client --client-secret demo-secret --seed-demo --auto-approve --random-seed 1 \
    >"$STATE/emulator.log" 2>&1 &
echo $! >"$STATE/emulator.pid"
trap 'kill "$(cat "$STATE/emulator.pid")" 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$EMULATOR_PORT/_emulator/stats" >/dev/null && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$EMULATOR_PORT/_emulator/stats" >/dev/null || { cat "$STATE/emulator.log"; die "the emulator did not start"; }

say "Connecting the demo shop"
EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT" odoo_cli shell -d "$DB" --no-http \
    <"$ROOT/scripts/demo_setup.py" 2>"$STATE/demo-setup.log" \
    || { tail -n 30 "$STATE/demo-setup.log"; die "connecting the demo shop failed"; }

say "Odoo on http://localhost:$HTTP_PORT (admin / admin); Ctrl-C stops Odoo and the emulator"
# Workers and queue_job among the server-wide modules: the job runner sends
# the updates to Allegro here exactly as on a production server.
ODOO_QUEUE_JOB_CHANNELS="${ODOO_QUEUE_JOB_CHANNELS:-root:4,root.allegro.import:2,root.allegro.invoice:1}" \
    odoo_cli -d "$DB" --db-filter="^$DB\$" --http-interface=127.0.0.1 --http-port="$HTTP_PORT" \
    --gevent-port="${GEVENT_PORT:-8072}" --workers="${WORKERS:-2}" --load=base,web,queue_job
