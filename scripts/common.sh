# Shared by the make targets: locate Python and Odoo, make sure PostgreSQL runs.
# Sourced, not executed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "need root for: $* (run it yourself, or install sudo)"; fi
}

# The project's virtualenv when there is one, otherwise the machine's python3.
pick_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"
    elif [ -x "$VENV/bin/python" ]; then echo "$VENV/bin/python"
    else command -v python3 || die "python3 not found"; fi
}

require_odoo() {
    "$PY" -c 'import odoo.release as r; assert r.serie == "19.0", r.serie' 2>/dev/null || die \
        "Odoo 19.0 is not importable by $PY. Run 'make install ODOO_SRC=/path/to/odoo-19.0-source' first."
}

# Odoo's own addons directory (next to the odoo package in a source tree),
# followed by this project.
addons_path() {
    "$PY" - "$ROOT" <<'PY'
import os, sys, odoo
paths = []
for pkg in odoo.__path__:
    for candidate in (os.path.join(os.path.dirname(pkg), "addons"), os.path.join(pkg, "addons")):
        if os.path.isdir(os.path.join(candidate, "sale")) and candidate not in paths:
            paths.append(candidate)
if not paths:
    sys.exit("Odoo's standard addons (sale, stock, account...) were not found next to the odoo package.")
print(",".join(paths + [sys.argv[1]]))
PY
}

# PostgreSQL: install it when missing (Debian/Ubuntu), start it, and make sure
# the current user may create databases.
ensure_postgres() {
    if ! command -v pg_isready >/dev/null && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
        install_packages "PostgreSQL, the database server" postgresql
    fi
    if ! pg_isready -q 2>/dev/null; then
        say "Starting PostgreSQL"
        if command -v pg_lsclusters >/dev/null; then
            pg_lsclusters -h | while read -r ver name _; do as_root pg_ctlcluster "$ver" "$name" start || true; done
        else
            as_root service postgresql start
        fi
        for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
        pg_isready -q || die "PostgreSQL did not start."
    fi
    local me; me="$(id -un)"
    if ! psql -d postgres -Atc 'select 1' >/dev/null 2>&1; then
        say "Creating PostgreSQL role $me"
        as_root su postgres -c "createuser --superuser '$me'" 2>/dev/null || true
        psql -d postgres -Atc 'select 1' >/dev/null 2>&1 || die "cannot connect to PostgreSQL as $me"
    fi
}

# What pip needs to build Odoo's requirements that ship no wheel (psycopg2,
# python-ldap): each header or tool checked on its own, and the Debian package
# that provides it installed when it is missing.
ensure_build_deps() {
    local inc; inc="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    local missing=() why=() item file pkg
    for item in "$inc/Python.h:python3-dev" /usr/include/postgresql/libpq-fe.h:libpq-dev \
                /usr/include/lber.h:libldap2-dev /usr/include/ldap.h:libldap2-dev \
                /usr/include/sasl/sasl.h:libsasl2-dev; do
        file="${item%%:*}"; pkg="${item##*:}"
        [ -e "$file" ] && continue
        why+=("${file##*/}")
        [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
    done
    command -v cc >/dev/null || { missing+=(build-essential); why+=("a C compiler"); }
    if ! command -v pg_config >/dev/null; then
        why+=(pg_config)
        [[ " ${missing[*]} " == *" libpq-dev "* ]] || missing+=(libpq-dev)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    install_packages "building Odoo's requirements: ${why[*]} missing" "${missing[@]}"
}

# Debian packages this machine lacks: installed, saying which and why, when
# apt-get can run as root (directly or through sudo); otherwise named, so the
# user installs them and runs the command again.
install_packages() {
    local why="$1"; shift
    if ! can_install_packages; then
        die "missing packages for $why. Install them (Debian/Ubuntu names: $*), e.g. as root: apt-get install $*; then run this again."
    fi
    say "Installing $* (for $why)"
    apt_install "$@" || die "could not install $*; install them yourself (apt-get install $*), then run this again"
}

can_install_packages() {
    command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null; }
}

# Debian packages, the package lists refreshed once per run.
APT_UPDATED=""
apt_install() {
    command -v apt-get >/dev/null || return 1
    if [ -z "$APT_UPDATED" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq && APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Browser tests (Odoo's tours) drive a headless Chromium; Debian's package when
# no Chrome or Chromium is installed (ODOO_BROWSER_BIN names another one).
# "optional": only warn when it cannot be installed.
ensure_chromium() {
    [ -n "${ODOO_BROWSER_BIN:-}" ] && [ -x "$ODOO_BROWSER_BIN" ] && return 0
    [ "$(uname)" = Darwin ] && return 0  # Odoo finds Chrome in /Applications itself
    local bin
    for bin in google-chrome chromium chromium-browser google-chrome-stable; do
        command -v "$bin" >/dev/null && return 0
    done
    if [ "${1:-}" = optional ] && ! can_install_packages; then
        echo "warning: no Chromium (Debian/Ubuntu package chromium): make test cannot run the browser tests." >&2
        return 0
    fi
    install_packages "the browser tests (headless Chromium)" chromium
}

# odoo CLI with the project's addons path and quiet HTTP.
odoo_cli() {
    "$PY" "$ROOT/scripts/odoo_server.py" --addons-path="$ADDONS" "$@"
}

# A benchmark on a fresh database of its own, dropped afterwards:
#   run_benchmark NAME "COUNTRY" "MODULES" "TITLE" [args for scripts/benchmark_NAME.py...]
# (COUNTRY may be empty; BENCH_DB names the database, else allegro_bench_NAME).
run_benchmark() {
    local name="$1" country="$2" modules="$3" title="$4"
    shift 4
    PY="$(pick_python)"
    require_odoo
    ensure_postgres
    ADDONS="$(addons_path)"
    DB="${BENCH_DB:-allegro_bench_$name}"
    local logs="$ROOT/.test-logs"
    local log="$logs/bench-$name-install.log"
    mkdir -p "$logs"
    say "Fresh database $DB${country:+ (a company of $country)} with $modules"
    # shellcheck disable=SC2086 # MODULES is a list of module names
    odoo_cli db init ${country:+--country "$country"} --force "$DB" >"$log" 2>&1 \
        && odoo_cli module install -d "$DB" $modules >>"$log" 2>&1 \
        || { tail -n 40 "$log"; die "creating the database failed (log: $log)"; }
    trap 'odoo_cli db drop "$DB" >/dev/null 2>&1 || true' EXIT
    say "Running the $title benchmark"
    "$PY" "$ROOT/scripts/benchmark_$name.py" --addons-path "$ADDONS" --db "$DB" "$@"
}
