#!/usr/bin/env bash
# make install: PostgreSQL, a virtualenv with Odoo 19.0 and this project's requirements.
# Odoo comes from the source tree named by ODOO_SRC, else from Odoo's official
# 19.0 source archive. Safe to run again: what is there already is kept.
source "$(dirname "$0")/common.sh"

ODOO_ARCHIVE_URL="${ODOO_ARCHIVE_URL:-https://nightly.odoo.com/19.0/nightly/src/odoo_19.0.latest.tar.gz}"

ensure_postgres

if [ -n "${PYTHON:-}" ]; then
    # An interpreter named by the user (e.g. the server's python3): no virtualenv.
    PY="$PYTHON"
else
    if [ ! -x "$VENV/bin/python" ]; then
        say "Creating virtualenv $VENV"
        # System site-packages: an Odoo already installed on the machine is reused.
        python3 -m venv --system-site-packages "$VENV"
    fi
    PY="$VENV/bin/python"
fi

if ! "$PY" -c 'import odoo.release as r; assert r.serie == "19.0"' 2>/dev/null; then
    src="${ODOO_SRC:-}"
    if [ -z "$src" ]; then
        src="$ROOT/.odoo-src"
        if [ ! -f "$src/setup.py" ]; then
            say "Downloading Odoo 19.0 from $ODOO_ARCHIVE_URL"
            mkdir -p "$src"
            curl -fsSL --retry 2 "$ODOO_ARCHIVE_URL" | tar -xz -C "$src" --strip-components=1 || {
                rm -rf "$src"
                die "could not download Odoo 19.0 from $ODOO_ARCHIVE_URL. Set ODOO_SRC to an Odoo 19.0 source tree (the directory holding odoo-bin and setup.py), e.g. make install ODOO_SRC=~/src/odoo"
            }
        fi
    fi
    [ -f "$src/setup.py" ] && [ -d "$src/odoo" ] || die "ODOO_SRC=$src is not an Odoo source tree (no setup.py and odoo/ there)."
    ensure_build_deps
    say "Installing Odoo 19.0 from $src"
    "$PY" -m pip install -q -r "$src/requirements.txt"
    # compat mode: a plain path entry, so Odoo's addons path holds only real directories.
    "$PY" -m pip install -q --no-deps -e "$src" --config-settings editable_mode=compat
fi

# Odoo prints invoices (sent to Allegro as PDF) with wkhtmltopdf.
# Optional: without it the rest works, so its absence is only reported.
if ! command -v wkhtmltopdf >/dev/null; then
    can_install_packages && say "Installing wkhtmltopdf (for invoice PDFs)" && apt_install wkhtmltopdf \
        || echo "warning: wkhtmltopdf is missing (Debian/Ubuntu package wkhtmltopdf): invoice PDFs will not be printed." >&2
fi

# The browser tests of make test.
ensure_chromium optional

say "Installing the project's requirements"
"$PY" -m pip install -q -r "$ROOT/requirements.txt"
"$PY" -c 'import odoo.release as r; print("Odoo", r.version, "ready in", r.__file__.rsplit("/odoo/", 1)[0])'
