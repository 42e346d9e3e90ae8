"""A real multi-process Odoo with queue_job's runner sends the updates; one
worker is killed (SIGKILL) in the middle of sending.

The Odoo server runs as a separate process on this test's database, so the
data it works on is committed here and removed afterwards.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL, config

from allegro_emulator import AllegroEmulator

from .common import CLIENT_ID, CLIENT_SECRET, create_committed_shop, delete_records_created_since

ORDERS = 6
# Models whose records the test creates, removed afterwards (children first).
CREATED_MODELS = ["queue.job", "allegro.update", "allegro.import.run", "sale.order", "allegro.order",
                  "allegro.offer", "allegro.delivery.method", "res.partner", "product.pricelist", "account.tax",
                  "allegro.shop", "product.product"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_odoo(db, log_path, workers=2, channels="root:4"):
    """Odoo with prefork workers and queue_job's runner, as in production."""
    port = free_port()
    env = dict(os.environ, ODOO_QUEUE_JOB_CHANNELS=channels, ODOO_QUEUE_JOB_PORT=str(port),
               ODOO_QUEUE_JOB_HOST="127.0.0.1")
    command = [
        sys.executable, "-m", "odoo", "server", "-d", db, "--db-filter", "^%s$" % db,
        "--addons-path", os.environ.get("ALLEGRO_ADDONS_PATH") or ",".join(config["addons_path"]),
        "--http-interface", "127.0.0.1",
        "--http-port", str(port), "--gevent-port", str(free_port()), "--workers", str(workers),
        "--max-cron-threads", "0", "--load", "base,web,queue_job",
        "--logfile", log_path, "--log-level", "info", "--limit-time-real", "120",
    ]
    # What does not go to the log file (a helper process failing to start)
    # goes beside it rather than into the test's output.
    with open(log_path + ".out", "w") as out:
        return subprocess.Popen(command, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)


@tagged("post_install", "-at_install")
class TestJobRunner(TransactionCase):
    def setUp(self):
        super().setUp()
        self.emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=5)
        self.emulator.start(host="127.0.0.1", port=0)
        self.addCleanup(self.emulator.stop)
        self.forms = [self.emulator.add_order(status="READY_FOR_PROCESSING") for _ in range(ORDERS)]
        with self.registry.cursor() as cr:
            env = self.env(cr=cr, su=True, context={"active_test": False})
            self.max_ids = {model: env[model].search([], order="id desc", limit=1).id or 0
                            for model in CREATED_MODELS}
            placeholder_id = env["product.product"].create({"name": "Allegro item", "type": "consu"}).id
        self.addCleanup(self._delete_created_records)
        self.shop_id = create_committed_shop(
            self.registry, self.env, self.emulator, name="Job runner shop", confirm_policy="never",
            unmanaged_policy="placeholder", placeholder_product_id=placeholder_id,
            import_start_date=fields.Datetime.now() - timedelta(days=30),
        )

    def _delete_created_records(self):
        delete_records_created_since(self.registry, self.env, CREATED_MODELS, self.max_ids)

    def _queue_updates(self):
        """Import the orders, then queue a status and a tracking number for each."""
        with self.registry.cursor() as cr:
            shop = self.env(cr=cr)["allegro.shop"].browse(self.shop_id)
            self.assertEqual(shop.env["allegro.importer"]._run_import(shop)["state"], "done")
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            orders = env["allegro.order"].search([("shop_id", "=", self.shop_id)])
            self.assertEqual(len(orders), ORDERS)
            Update = env["allegro.update"]
            Update._queue_status(orders, "PROCESSING")
            for order in orders:
                Update._queue_shipment(order, "KILL-%s" % order.allegro_ref[:8], "INPOST")
            return orders.ids

    def _jobs(self, cr):
        return self.env(cr=cr, su=True)["queue.job"].search([("id", ">", self.max_ids["queue.job"])])

    def test_worker_killed_mid_send_each_update_reaches_allegro_once(self):
        order_ids = self._queue_updates()
        victim = self.forms[0]["id"]
        # Allegro takes 15 s over this shipment (room for a busy machine): the worker is killed meanwhile,
        # after the request left it and before its transaction committed.
        self.emulator.faults.delay(15, count=1, path_prefix="/order/checkout-forms/%s/shipments" % victim,
                                   method="POST")
        log = tempfile.NamedTemporaryFile(prefix="odoo-runner-", suffix=".log", delete=False)
        for path in (log.name, log.name + ".out"):
            self.addCleanup(lambda path=path: os.path.exists(path) and os.unlink(path))
        server = start_odoo(self.env.cr.dbname, log.name)
        self.addCleanup(self._stop, server)
        try:
            killed = self._kill_worker_sending(victim, server)
            done = self._wait_all_done(order_ids)
        except AssertionError:
            with open(log.name) as handle:
                print(handle.read()[-5000:])
            raise
        self.assertTrue(done)
        with self.registry.cursor() as cr:
            job = self._jobs(cr).filtered(lambda j: j.uuid == killed)
            self.assertEqual(job.state, "done")
            self.assertGreaterEqual(job.retry, 1, "requeued after its worker died, then run again")
        for form in self.forms:
            shipments = self.emulator.shipments(form["id"])
            self.assertEqual([s["waybill"] for s in shipments], ["KILL-%s" % form["id"][:8]], "once each")
            self.assertEqual(self.emulator.get_order(form["id"])["fulfillment"]["status"], "PROCESSING")
        self.assertEqual(self.emulator.duplicates(), {"shipments": 0, "invoices": 0})
        posts = [r for r in self.emulator.requests
                 if r.method == "POST" and r.path == "/order/checkout-forms/%s/shipments" % victim]
        self.assertEqual(len(posts), 1, "after the kill, Allegro was read, not written again")

    def _kill_worker_sending(self, form_id, server):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.assertIsNone(server.poll(), "Odoo stopped")
            # The delay rule is used up once the request reached the emulator.
            if not self.emulator.faults.pending()["delays"]:
                with self.registry.cursor() as cr:
                    started = self._jobs(cr).filtered(
                        lambda j: j.state == "started" and j.worker_pid
                        and j.records.kind == "shipment" and j.records.order_id.allegro_ref == form_id)
                    if started:
                        os.kill(started.worker_pid, signal.SIGKILL)
                        return started.uuid
            time.sleep(0.1)
        self.fail("the shipment job never started")

    def _wait_all_done(self, order_ids):
        deadline = time.monotonic() + 100
        nudged = time.monotonic()
        while time.monotonic() < deadline:
            with self.registry.cursor() as cr:
                updates = self.env(cr=cr, su=True)["allegro.update"].search([("order_id", "in", order_ids)])
                if updates and all(p.state == "done" for p in updates):
                    return True
                failed = updates.filtered(lambda p: p.state == "failed")
                self.assertFalse(failed, failed.mapped("last_error"))
                if time.monotonic() - nudged > 5:
                    # queue_job requeues a job whose worker died once it is
                    # 10 s old; wake the runner instead of waiting its 60 s.
                    cr.execute(SQL("NOTIFY queue_job, %s", cr.dbname))
                    nudged = time.monotonic()
            time.sleep(0.5)
        self.fail("not every update was sent within 100 s")

    def _stop(self, server):
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
