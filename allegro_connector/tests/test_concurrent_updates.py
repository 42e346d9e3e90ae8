"""Two updates of one order at once, each job on its own real transaction.

While one update is being sent it holds its order; another one waits for its
turn. The data is committed here (other transactions must see it) and removed
afterwards.
"""
import threading
import time
import uuid
from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.queue_job.job import Job

from allegro_emulator import AllegroEmulator

from .common import CLIENT_ID, CLIENT_SECRET, JobRunnerMixin, create_committed_shop, delete_records_created_since

# Models whose records the test creates, removed afterwards (children first).
CREATED_MODELS = ["queue.job", "allegro.update", "allegro.import.run", "sale.order", "allegro.order",
                  "allegro.offer", "allegro.delivery.method", "res.users", "res.partner", "product.pricelist",
                  "account.tax", "allegro.shop", "product.product"]


@tagged("post_install", "-at_install")
class TestConcurrentUpdates(JobRunnerMixin, TransactionCase):
    def setUp(self):
        super().setUp()
        self.emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=13)
        self.emulator.start(host="127.0.0.1", port=0)
        self.addCleanup(self.emulator.stop)
        self.form = self.emulator.add_order(status="READY_FOR_PROCESSING")
        with self.registry.cursor() as cr:
            env = self.env(cr=cr, su=True, context={"active_test": False})
            self.max_ids = {model: env[model].search([], order="id desc", limit=1).id or 0
                            for model in CREATED_MODELS}
            placeholder_id = env["product.product"].create({"name": "Allegro item", "type": "consu"}).id
        self.addCleanup(self._delete_created_records)
        shop_id = create_committed_shop(
            self.registry, self.env, self.emulator, name="Concurrent updates shop", confirm_policy="never",
            unmanaged_policy="placeholder", placeholder_product_id=placeholder_id,
            import_start_date=fields.Datetime.now() - timedelta(days=30),
        )
        with self.registry.cursor() as cr:
            shop = self.env(cr=cr)["allegro.shop"].browse(shop_id)
            self.assertEqual(shop.env["allegro.importer"]._run_import(shop)["state"], "done")
            self.order_id = self.env(cr=cr)["allegro.order"].search([("shop_id", "=", shop_id)]).id

    def _delete_created_records(self):
        delete_records_created_since(self.registry, self.env, CREATED_MODELS, self.max_ids)

    def _queue(self, method, *args):
        """Queue an update on a transaction of its own; returns its job's uuid."""
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            order = env["allegro.order"].browse(self.order_id)
            return getattr(env["allegro.update"], method)(order, *args).job_id.uuid

    def _attempt(self, job_uuid):
        """One attempt of a job, due now, as the runner makes it: the job marked
        started and committed, then performed on a transaction of its own."""
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            env["queue.job"].sudo().search([("uuid", "=", job_uuid)]).eta = False
            job = Job.load(env, job_uuid)
            job.set_started()
            job.store()
        with self.registry.cursor() as cr:
            self._perform_job(Job.load(self.env(cr=cr), job_uuid))

    def _in_background(self, job_uuid):
        """The job sent by another worker; returns its thread."""
        errors = []

        def run():
            try:
                self._attempt(job_uuid)
            except Exception as error:  # noqa: BLE001 - reported by the test through the update's state
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        self.addCleanup(thread.join, 60)
        return thread

    def _wait_request_reached_allegro(self):
        """The delayed request is at Allegro: its worker holds the order until it commits."""
        deadline = time.monotonic() + 30
        while self.emulator.faults.pending()["delays"]:
            self.assertLess(time.monotonic(), deadline, "the other update never reached Allegro")
            time.sleep(0.05)

    def _read(self, job_uuid):
        with self.registry.cursor() as cr:
            job = self.env(cr=cr, su=True)["queue.job"].search([("uuid", "=", job_uuid)])
            update = job.records
            return {"state": update.state, "error": update.last_error, "job_state": job.state, "retry": job.retry}

    def _updates(self):
        with self.registry.cursor() as cr:
            updates = self.env(cr=cr, su=True)["allegro.update"].search([("order_id", "=", self.order_id)], order="id")
            return [(p.kind, p.fulfillment_status, p.state, p.last_error, p.job_id.uuid) for p in updates]

    def test_an_update_waiting_its_turn_for_long_keeps_its_attempts(self):
        shipments = "/order/checkout-forms/%s/shipments" % self.form["id"]
        shipment = self._queue("_queue_shipment", "SLOW-1", "INPOST")
        status = self._queue("_queue_status", "PROCESSING")
        # Allegro takes its time over the tracking number: its job holds the order meanwhile.
        self.emulator.faults.delay(15, count=1, path_prefix=shipments, method="POST")
        other = self._in_background(shipment)
        self._wait_request_reached_allegro()
        # More turns than the update has attempts (12), as when the other job waits for minutes.
        for _turn in range(15):
            self._attempt(status)
        waiting = self._read(status)
        self.assertEqual((waiting["state"], waiting["job_state"], waiting["retry"]), ("pending", "pending", 0),
                         waiting["error"])
        self.assertTrue(other.is_alive(), "every turn came while the other update was being sent")
        other.join(60)
        self.assertEqual(self._read(shipment)["state"], "done")
        self._attempt(status)
        self.assertEqual(self._read(status)["state"], "done")
        self.assertEqual(self.emulator.get_order(self.form["id"])["fulfillment"]["status"], "PROCESSING")
        self.assertEqual([s["waybill"] for s in self.emulator.shipments(self.form["id"])], ["SLOW-1"])

    def test_a_status_replaced_while_its_job_sends_it_is_followed_by_the_new_one(self):
        fulfillment = "/order/checkout-forms/%s/fulfillment" % self.form["id"]
        processing = self._queue("_queue_status", "PROCESSING")
        with self.registry.cursor() as cr:
            seller_id = new_test_user(self.env(cr=cr), "seller-%s" % uuid.uuid4().hex[:8],
                                      groups="allegro_connector.group_allegro_user").id
        self.emulator.faults.delay(10, count=1, path_prefix=fulfillment, method="PUT")
        sending = self._in_background(processing)
        self._wait_request_reached_allegro()
        # Meanwhile the seller hands the parcel over: the status sent is being replaced.
        with self.registry.cursor() as cr:
            order = self.env(cr=cr, user=seller_id)["allegro.order"].browse(self.order_id)
            order.action_handed_over()
        sending.join(60)
        replacement = next(p for p in self._updates() if p[1] == "SENT")
        self._attempt(replacement[4])
        updates = self._updates()
        self.assertEqual([p[:4] for p in updates],
                         [("status", "PROCESSING", "done", False), ("status", "SENT", "done", False)],
                         "the first one finished, the new one sent with the revision the first one gave the order")
        self.assertEqual(self.emulator.get_order(self.form["id"])["fulfillment"]["status"], "SENT")
