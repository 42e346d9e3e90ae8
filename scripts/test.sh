#!/usr/bin/env bash
# make test: the whole suite on a fresh database of a Polish company.
# Plain pytest for the HTTP client and the emulator, pytest-odoo for the addon.
# Extra arguments go to pytest (e.g. make test ARGS="-k token").
source "$(dirname "$0")/common.sh"

PY="$(pick_python)"
require_odoo
ensure_postgres
ensure_chromium
ADDONS="$(addons_path)"
# The contract tests check the emulator and the client against Allegro's spec: never run without it.
export ALLEGRO_OPENAPI="${ALLEGRO_OPENAPI:-$(cd "$ROOT/.." && pwd)/shared/allegro/allegro-openapi.yaml}"
[ -f "$ALLEGRO_OPENAPI" ] || die "Allegro's OpenAPI specification is not at $ALLEGRO_OPENAPI: set ALLEGRO_OPENAPI to its path."
export TEST_DB="${TEST_DB:-allegro_connector_test}"
DB="$TEST_DB"
LOGS="$ROOT/.test-logs"
mkdir -p "$LOGS"

say "Fresh database $DB: a Polish company (l10n_pl, PLN, OSS taxes) with allegro_connector and mrp (kit offers)"
odoo_cli db init --country PL --force "$DB" >"$LOGS/install.log" 2>&1 \
    && odoo_cli module install -d "$DB" l10n_pl l10n_eu_oss mrp allegro_connector >>"$LOGS/install.log" 2>&1 \
    || { tail -n 40 "$LOGS/install.log"; die "creating the test database failed (log: $LOGS/install.log)"; }
# The OSS fiscal positions and taxes, as Settings > OSS Tax mapping makes them.
echo 'env["res.company"]._map_all_eu_companies_taxes(); env.cr.commit()' \
    | odoo_cli shell -d "$DB" --no-http >>"$LOGS/install.log" 2>&1 \
    || { tail -n 40 "$LOGS/install.log"; die "mapping the OSS taxes failed (log: $LOGS/install.log)"; }

say "Running the tests"
export ALLEGRO_ADDONS_PATH="$ADDONS"
cd "$ROOT"
# --odoo-http: Odoo serves HTTP on a free port inside the test process, for the browser tours.
exec "$PY" -m pytest --odoo-database="$DB" --odoo-addons-path="$ADDONS" --odoo-http "$@"
