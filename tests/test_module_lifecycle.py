"""The addon installs and uninstalls on a fresh database, with a clean log.

Runs Odoo's own command line on a throw-away database, as an admin would
from the Apps menu or a deployment script.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
# Named after the test database, so that two suites can run side by side.
DB = os.environ.get("TEST_DB", "allegro_connector_test") + "_lifecycle"
# An Odoo log line of level WARNING or worse.
BAD_LOG_LINE = re.compile(r"^\S+ \S+ \d+ (WARNING|ERROR|CRITICAL) ", re.MULTILINE)


def odoo(*args):
    addons = os.environ.get("ALLEGRO_ADDONS_PATH")
    if not addons:
        pytest.fail("ALLEGRO_ADDONS_PATH is not set: run the suite with the README's test command")
    result = subprocess.run(
        [sys.executable, "-m", "odoo", "--addons-path=" + addons, *args],
        capture_output=True, text=True, timeout=1200, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def query(sql):
    with psycopg2.connect(dbname=DB) as cnx, cnx.cursor() as cr:
        cr.execute(sql)
        return cr.fetchall()


@pytest.fixture
def fresh_db():
    odoo("db", "init", "--force", DB)
    yield DB
    odoo("db", "drop", DB)


def test_install_then_uninstall_with_a_clean_log(fresh_db):
    log = odoo("module", "install", "-d", fresh_db, "allegro_connector")
    assert not BAD_LOG_LINE.findall(log), "\n".join(
        line for line in log.splitlines() if BAD_LOG_LINE.match(line + "\n")
    )
    assert query("SELECT state FROM ir_module_module WHERE name = 'allegro_connector'") == [("installed",)]
    menus = {name for (name,) in query(
        "SELECT m.name->>'en_US' FROM ir_ui_menu m JOIN ir_model_data d"
        " ON d.res_id = m.id AND d.model = 'ir.ui.menu' AND d.module = 'allegro_connector'"
    )}
    assert {"Allegro", "Orders", "Shops"} <= menus

    log = odoo("module", "uninstall", "-d", fresh_db, "allegro_connector")
    assert not BAD_LOG_LINE.findall(log), log[-4000:]
    assert query("SELECT state FROM ir_module_module WHERE name = 'allegro_connector'") == [("uninstalled",)]
    assert query("SELECT to_regclass('allegro_shop'), to_regclass('allegro_shop_token')") == [(None, None)]
    assert query("SELECT count(*) FROM ir_ui_menu m JOIN ir_model_data d ON d.res_id = m.id"
                 " AND d.model = 'ir.ui.menu' AND d.module = 'allegro_connector'") == [(0,)]
