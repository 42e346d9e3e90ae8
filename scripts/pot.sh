#!/usr/bin/env bash
# make pot: the addon's translation template exported by Odoo itself from a
# fresh database with the addon, then merged into each i18n/*.po (new strings
# added untranslated, vanished ones dropped); prints what is left to translate.
source "$(dirname "$0")/common.sh"

PY="$(pick_python)"
require_odoo
ensure_postgres
ADDONS="$(addons_path)"
DB="${I18N_DB:-allegro_connector_i18n}"
I18N="$ROOT/allegro_connector/i18n"
LOG="$ROOT/.test-logs/pot.log"
mkdir -p "$I18N" "$(dirname "$LOG")"

say "Fresh database $DB with allegro_connector"
odoo_cli db init --country PL --force "$DB" >"$LOG" 2>&1 \
    && odoo_cli module install -d "$DB" l10n_pl allegro_connector >>"$LOG" 2>&1 \
    || { tail -n 30 "$LOG"; die "creating $DB failed (log: $LOG)"; }

say "Exporting i18n/allegro_connector.pot"
odoo_cli i18n export -d "$DB" -o "$I18N/allegro_connector.pot" allegro_connector >>"$LOG" 2>&1 \
    || { tail -n 30 "$LOG"; die "export failed (log: $LOG)"; }

"$PY" - "$I18N" <<'PY'
import pathlib, sys
import polib

i18n = pathlib.Path(sys.argv[1])
pot = polib.pofile(str(i18n / "allegro_connector.pot"))
for path in sorted(i18n.glob("*.po")):
    po = polib.pofile(str(path), wrapwidth=78)
    po.merge(pot)
    for entry in po.obsolete_entries():
        po.remove(entry)
    po.save()
    todo = [e.msgid for e in po if not e.translated()]
    print("%s: %d strings, %d to translate" % (path.name, len(po), len(todo)))
    for msgid in todo:
        print("    " + msgid.replace("\n", " ")[:100])
PY
