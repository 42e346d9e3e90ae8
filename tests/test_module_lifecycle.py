"""The addon installs and uninstalls on a fresh database, and upgrades from
its previous version keeping every record, with a clean log.

Runs Odoo's own command line on a throw-away database, as an admin would
from the Apps menu or a deployment script.
"""
import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSION = ast.literal_eval((ROOT / "allegro_connector" / "__manifest__.py").read_text())["version"]
# Named after the test database, so that two suites can run side by side.
DB = os.environ.get("TEST_DB", "allegro_connector_test") + "_lifecycle"
# An Odoo log line of level WARNING or worse.
BAD_LOG_LINE = re.compile(r"^\S+ \S+ \d+ (WARNING|ERROR|CRITICAL) ", re.MULTILINE)


def odoo(*args, input=None, addon_dir=None):
    """Odoo's command line; ``addon_dir``: another copy of the addon, in place of this one."""
    addons = os.environ.get("ALLEGRO_ADDONS_PATH")
    if not addons:
        pytest.fail("ALLEGRO_ADDONS_PATH is not set: run the suite with the README's test command")
    if addon_dir:
        addons = ",".join(addon_dir if Path(p).resolve() == ROOT else p for p in addons.split(","))
        assert addon_dir in addons.split(","), "this tree is not in ALLEGRO_ADDONS_PATH: " + addons
    result = subprocess.run(
        [sys.executable, "-m", "odoo", "--addons-path=" + addons, *args],
        input=input, capture_output=True, text=True, timeout=1200, check=False,
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


# ---------------------------------------------------------------------------
# Upgrade from the previous version
# ---------------------------------------------------------------------------

# 19.0.2.2.0, the last version with the old names (allegro.push, Char fields ending in _id).
PREVIOUS_VERSION = "a427df5"
UPGRADE_DB = os.environ.get("TEST_DB", "allegro_connector_test") + "_upgrade"

# Run by the previous version: one record of everything the upgrade renames,
# under the old names. Prints the ids.
MAKE_OLD_RECORDS = """
import json
company = env.company
shop = env["allegro.shop"].create({
    "name": "Upgrade shop", "seller_id": "seller-1", "last_event_id": "event-9", "client_id": "client-key-1",
})
partner = env["res.partner"].create({"name": "Buyer", "allegro_buyer_id": "buyer-1"})
order = env["allegro.order"].create({
    "shop_id": shop.id, "external_id": "form-1", "payment_id": "payment-1", "buyer_id": "buyer-1",
    "delivery_method_id": "method-1", "pickup_point_id": "POINT01", "no_sale_reason": "allegro_fulfilment",
    "line_ids": [(0, 0, {"line_item_id": "item-1", "offer_id": "offer-1", "offer_external_id": "SKU-1",
                         "offer_name": "Mug", "quantity": 2})],
    "charge_ids": [(0, 0, {"line_item_id": "item-1", "kind": "service", "name": "Gift wrap"})],
})
order.message_post(body="A note on the order")
offer = env["allegro.offer"].create({"shop_id": shop.id, "offer_id": "offer-1", "external_id": "SKU-1",
                                     "name": "Mug"})
method = env["allegro.delivery.method"].create({"method_id": "method-1", "name": "Locker"})
carrier = env["allegro.carrier"].create({"code": "INPOST", "name": "InPost"})
journal = env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "general")], limit=1) \\
    or env["account.journal"].create({"name": "Misc", "code": "UPG", "type": "general"})
move = env["account.move"].create({"move_type": "entry", "journal_id": journal.id})
move.allegro_invoice_id = "invoice-1"
push = env["allegro.push"].create({"order_id": order.id, "kind": "status", "fulfillment_status": "PROCESSING"})
push.remote_id = "remote-1"
push._enqueue()
message = env["mail.message"].create({"model": "allegro.push", "res_id": push.id, "body": "About the update"})
env.cr.commit()
print("IDS " + json.dumps({
    "shop": shop.id, "partner": partner.id, "order": order.id, "line": order.line_ids.id,
    "charge": order.charge_ids.id, "offer": offer.id, "method": method.id, "carrier": carrier.id, "move": move.id,
    "update": push.id,
    "job": push.job_id.uuid, "message": message.id,
}))
"""

# Run by the current version: the same records under the new names.
READ_NEW_RECORDS = """
import json
from odoo.addons.queue_job.job import Job
ids = json.loads(%r)
shop = env["allegro.shop"].browse(ids["shop"])
order = env["allegro.order"].browse(ids["order"])
line = env["allegro.order.line"].browse(ids["line"])
update = env["allegro.update"].browse(ids["update"])
offer = env["allegro.offer"].browse(ids["offer"])
job = Job.load(env, ids["job"])
print("VALUES " + json.dumps({
    "shop": [shop.seller_ref, shop.order_event_cursor, shop.client_key],
    "partner": env["res.partner"].browse(ids["partner"]).allegro_buyer_ref,
    "order": [order.allegro_ref, order.payment_ref, order.buyer_ref, order.delivery_method_ref,
              order.pickup_point_ref, order.no_sale_reason, order.update_ids.ids,
              order.message_ids.mapped("body")],
    "line": [line.allegro_ref, line.offer_ref, line.offer_sku, line.order_id.id],
    "charge": env["allegro.order.charge"].browse(ids["charge"]).line_item_ref,
    "offer": [offer.allegro_ref, offer.sku],
    "method": env["allegro.delivery.method"].browse(ids["method"]).allegro_ref,
    "carrier": env["allegro.carrier"].browse(ids["carrier"]).allegro_ref,
    "move": env["account.move"].browse(ids["move"]).allegro_invoice_ref,
    "update": [update.allegro_ref, update.state, update.order_id.id, update.job_id.uuid],
    "message": env["mail.message"].browse(ids["message"]).read(["model", "res_id"])[0],
    "job": [job.state, job.recordset._name, job.recordset.ids, job.func.__name__, job.channel,
            job.identity_key, job.job_config.job_function_id == env.ref(
                "allegro_connector.job_function_allegro_update_send").id],
    "push_model": env["ir.model"].search_count([("model", "=", "allegro.push")]),
}))
"""


def previous_version_addons(tmp_path):
    """The previous version of the addon, exported from git into a directory of its own."""
    try:
        subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", PREVIOUS_VERSION + "^{commit}"],
                       check=True, capture_output=True)
    except FileNotFoundError:
        pytest.fail("The upgrade test needs git, to export version %s of the addon." % PREVIOUS_VERSION)
    except subprocess.CalledProcessError:
        pytest.fail("Commit %s (the previous version, 19.0.2.2.0) is not in this repository's history: "
                    "the upgrade test needs a clone with it." % PREVIOUS_VERSION)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS_VERSION, "allegro_connector"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    return str(tmp_path)


def printed(output, marker):
    line = next((line for line in output.splitlines() if line.startswith(marker + " ")), None)
    assert line, output[-4000:]
    return json.loads(line[len(marker) + 1:])


@pytest.fixture
def upgrade_db():
    odoo("db", "init", "--force", UPGRADE_DB)
    yield UPGRADE_DB
    odoo("db", "drop", UPGRADE_DB)


def test_upgrade_from_the_previous_version_keeps_every_record(upgrade_db, tmp_path):
    old = previous_version_addons(tmp_path)
    odoo("module", "install", "-d", upgrade_db, "allegro_connector", addon_dir=old)
    ids = printed(odoo("shell", "-d", upgrade_db, "--no-http", input=MAKE_OLD_RECORDS, addon_dir=old), "IDS")

    # Odoo's server with -u, as a deployment upgrades: "odoo module upgrade"
    # loads the new code on every model before the migration renames the
    # columns, and its first read of a partner fails.
    log = odoo("-d", upgrade_db, "-u", "allegro_connector", "--stop-after-init", "--no-http")
    assert not BAD_LOG_LINE.findall(log), "\n".join(
        line for line in log.splitlines() if BAD_LOG_LINE.match(line + "\n")
    )
    with psycopg2.connect(dbname=upgrade_db) as cnx, cnx.cursor() as cr:
        cr.execute("SELECT latest_version FROM ir_module_module WHERE name = 'allegro_connector'")
        assert cr.fetchone()[0] == VERSION
        cr.execute("SELECT to_regclass('allegro_push'), to_regclass('allegro_update') IS NOT NULL")
        assert cr.fetchone() == (None, True)

    values = printed(odoo("shell", "-d", upgrade_db, "--no-http", input=READ_NEW_RECORDS % json.dumps(ids)),
                     "VALUES")
    assert values["shop"] == ["seller-1", "event-9", "client-key-1"]
    assert values["partner"] == "buyer-1"
    assert values["order"][:7] == ["form-1", "payment-1", "buyer-1", "method-1", "POINT01", "allegro_fulfillment",
                                   [ids["update"]]]
    assert any("A note on the order" in body for body in values["order"][7])
    assert values["line"] == ["item-1", "offer-1", "SKU-1", ids["order"]]
    assert values["charge"] == "item-1"
    assert values["offer"] == ["offer-1", "SKU-1"]
    assert values["method"] == "method-1"
    assert values["carrier"] == "INPOST"
    assert values["move"] == "invoice-1"
    assert values["update"] == ["remote-1", "pending", ids["order"], ids["job"]]
    assert values["message"] == {"id": ids["message"], "model": "allegro.update", "res_id": ids["update"]}
    # The job waiting to send the update runs on the new model, in the renamed channel.
    assert values["job"] == ["pending", "allegro.update", [ids["update"]], "_send_job", "root.allegro.update",
                             "allegro.update:%d" % ids["update"], True]
    assert values["push_model"] == 0
