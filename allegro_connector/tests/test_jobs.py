from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from odoo.addons.queue_job.job import Job

from .common import AllegroEmulatorCase
from .test_invoice import COMPANY, COMPANY_INVOICE
from .test_order_import import PAID, items


@tagged("post_install", "-at_install")
class TestUpdateJobs(AllegroEmulatorCase):
    """Updates to Allegro as queue_job jobs: each alone, each once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_stocked_catalogue(50)

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop()

    def prepare(self, picking, tracking):
        picking.carrier_tracking_ref = tracking
        picking.carrier_id = self.carrier
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True

    def validate(self, picking, tracking):
        self.prepare(picking, tracking)
        picking.with_context(cancel_backorder=False)._action_done()

    def status_on_allegro(self, order):
        return self.emulator.get_order(order.allegro_ref)["fulfillment"]["status"]

    def waybills_on_allegro(self, order):
        return [s["waybill"] for s in self.emulator.shipments(order.allegro_ref)]

    # ------------------------------------------------------------------

    def test_one_job_per_update_on_its_channel_never_queued_twice(self):
        order = self.imported(**PAID, lineItems=items((0, 1)))
        update = order.update_ids
        self.assertEqual(update.job_id.channel, "root.allegro.update")
        self.assertEqual(update.job_id.identity_key, "allegro.update:%d" % update.id)
        self.assertEqual(update.job_state, "pending")
        update._enqueue()  # e.g. a second confirmation of the same change
        self.env["allegro.update"]._queue_status(order, "PROCESSING")
        jobs = self.env["queue.job"].sudo().search([("identity_key", "=", "allegro.update:%d" % update.id)])
        self.assertEqual(len(jobs), 1)
        self.assertEqual(len(order.update_ids), 1)
        self.send_updates()
        self.assertEqual((update.state, update.job_state), ("done", "done"))
        self.assertEqual(len([r for r in self.emulator.requests if r.path.endswith("/fulfillment")]), 1)

    def test_a_bad_tracking_number_fails_alone(self):
        good = self.imported(**PAID, lineItems=items((0, 1)))
        bad = self.imported(**PAID, lineItems=items((1, 1)))
        # Queued by hand past every check: the client refuses it with a
        # ValueError, which once rolled back every other update of the run.
        broken = self.env["allegro.update"]._queue_shipment(bad, "X" * 70, "INPOST")
        fine = self.env["allegro.update"]._queue_shipment(good, "GOOD-1", "INPOST")
        self.send_updates()
        self.assertEqual(broken.state, "failed")
        self.assertEqual(broken.job_state, "failed")
        self.assertIn("64", broken.last_error)
        self.assertTrue(bad.needs_attention)
        self.assertIn("X" * 70, bad.attention_reason)
        self.assertEqual(fine.state, "done")
        self.assertEqual(self.waybills_on_allegro(good), ["GOOD-1"])
        self.assertEqual((good | bad).update_ids.filtered(lambda p: p.kind == "status").mapped("state"),
                         ["done", "done"], "the other updates all went")
        self.assertFalse(good.needs_attention)

    def test_a_deleted_invoice_fails_its_update_alone(self):
        self.shop.write({"invoice_policy": "paid", "invoice_post": True})
        order = self.imported(**PAID, lineItems=items((2, 1)), buyer={"companyName": COMPANY},
                              invoice=COMPANY_INVOICE)
        update = order.update_ids.filtered(lambda p: p.kind == "invoice")
        self.shop.invoice_policy = "never"  # else re-reading the order makes a new invoice
        invoice = update.move_id
        invoice.button_draft()
        invoice.with_context(force_delete=True).unlink()
        self.send_updates()
        self.assertEqual(update.state, "failed")
        self.assertIn("deleted", update.last_error)
        self.assertTrue(order.needs_attention)
        self.assertEqual(order.update_ids.filtered(lambda p: p.kind == "status").state, "done")
        self.assertFalse(self.emulator.invoices(order.allegro_ref))

    def test_two_parcels_are_two_shipments(self):
        order = self.imported(**PAID, lineItems=items((0, 2)))
        self.validate(order.sale_order_id.picking_ids, " PARCEL-1 , PARCEL-2")
        shipments = order.update_ids.filtered(lambda p: p.kind == "shipment")
        self.assertEqual(shipments.mapped("waybill"), ["PARCEL-2", "PARCEL-1"])
        self.send_updates()
        self.assertEqual(sorted(self.waybills_on_allegro(order)), ["PARCEL-1", "PARCEL-2"])
        self.assertEqual(set(shipments.mapped("allegro_ref")) & {False}, set(), "Allegro's ids are kept")
        self.assertEqual(self.status_on_allegro(order), "SENT")

    def test_unusable_tracking_numbers_are_refused_on_the_picking(self):
        order = self.imported(**PAID, lineItems=items((3, 1)))
        picking = order.sale_order_id.picking_ids
        for tracking, reason in (("A1,,B2", "empty"), ("Z" * 65, "65 characters"), ("AB 12", "spaces")):
            self.prepare(picking, tracking)
            with self.assertRaisesRegex(UserError, reason):
                picking.with_context(cancel_backorder=False)._action_done()
            self.assertNotEqual(picking.state, "done")
        self.assertFalse(order.update_ids.filtered(lambda p: p.kind == "shipment"))
        self.validate(picking, "OK-1")
        self.assertEqual(picking.state, "done")

    def test_timeout_after_allegro_made_the_shipment_sends_no_second_one(self):
        order = self.imported(**PAID, lineItems=items((4, 1)))
        self.send_updates()
        path = "/order/checkout-forms/%s/shipments" % order.allegro_ref
        self.emulator.faults.lose_answer(count=1, path_prefix=path, method="POST")
        self.emulator.faults.lose_answer(count=1, path_prefix=path, method="POST", status=500)
        self.env["allegro.update"]._queue_shipment(order, "LOST-1", "INPOST")
        self.env["allegro.update"]._queue_shipment(order, "LOST-2", "INPOST")
        self.send_updates()
        updates = order.update_ids.filtered(lambda p: p.kind == "shipment")
        self.assertEqual(updates.mapped("state"), ["pending", "pending"], "outcome unknown: checked later")
        self.assertEqual(sorted(self.waybills_on_allegro(order)), ["LOST-1", "LOST-2"])
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(updates.mapped("state"), ["done", "done"])
        self.assertEqual(sorted(self.waybills_on_allegro(order)), ["LOST-1", "LOST-2"], "each once")
        self.assertEqual(self.emulator.duplicates()["shipments"], 0)
        posts = [r for r in self.emulator.requests if r.path == path and r.method == "POST"]
        self.assertEqual(len(posts), 2, "read, not sent again")

    def test_first_attempts_send_without_reading_first(self):
        self.shop.write({"invoice_policy": "paid", "invoice_post": True})
        order = self.imported(**PAID, lineItems=items((1, 1)), buyer={"companyName": COMPANY},
                              invoice=COMPANY_INVOICE)
        self.env["allegro.update"]._queue_shipment(order, "FIRST-1", "INPOST")
        self.emulator.reset_requests()
        self.send_updates()
        self.assertEqual(sorted(order.update_ids.mapped("kind")), ["invoice", "shipment", "status"])
        self.assertEqual(set(order.update_ids.mapped("state")), {"done"}, order.update_ids.mapped("last_error"))
        reads = [r.path for r in self.emulator.requests if r.method == "GET"]
        self.assertEqual(reads, [], "status, tracking number and invoice: one request each, the file one more")
        self.assertEqual(len(self.emulator.requests), 4)

    def test_invoice_entry_made_but_its_answer_lost(self):
        self.shop.write({"invoice_policy": "paid", "invoice_post": True})
        self.emulator.faults.lose_answer(count=1, path_prefix="/order/checkout-forms/", method="POST", status=504)
        order = self.imported(**PAID, lineItems=items((5, 1)), buyer={"companyName": COMPANY},
                              invoice=COMPANY_INVOICE)
        invoice = order._invoices()
        update = order.update_ids.filtered(lambda p: p.kind == "invoice")
        self.assertEqual(update.job_id.channel, "root.allegro.invoice")
        self.send_updates()
        self.assertEqual(update.state, "pending")
        self.assertEqual(len(self.emulator.invoices(order.allegro_ref)), 1, "Allegro made the entry")
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(update.state, "done", update.last_error)
        entries = self.emulator.invoices(order.allegro_ref)
        self.assertEqual(len(entries), 1, "no second entry")
        self.assertEqual(invoice.allegro_invoice_ref, entries[0]["id"])
        self.assertTrue(self.emulator.invoice_file(entries[0]["id"]), "the file went too")
        self.assertEqual(invoice.allegro_upload_state, "done")

    def test_status_already_set_by_an_attempt_whose_worker_died(self):
        order = self.imported(**PAID, lineItems=items((6, 1)))
        update = order.update_ids
        # The PUT went through, the worker died before committing: Allegro
        # has the status and a new revision Odoo never saw.
        self.emulator.set_fulfillment(order.allegro_ref, "PROCESSING")
        self.send_updates()
        self.assertEqual(update.state, "done", update.last_error)
        self.assertFalse(order.needs_attention)
        self.assertEqual(order.revision, self.emulator.get_order(order.allegro_ref)["revision"])

    def test_a_status_replaced_while_its_worker_died_is_not_sent_after_the_new_one(self):
        order = self.imported(**PAID, lineItems=items((12, 1)))
        processing = order.update_ids
        # Its worker took the job, then died before sending: the order is free again.
        job = Job.load(self.env, processing.job_id.uuid)
        job.set_started()
        job.store()
        seller = new_test_user(self.env, "seller", groups="allegro_connector.group_allegro_user")
        order.with_user(seller).action_handed_over()
        self.assertEqual(self.status_on_allegro(order), "SENT")
        # The runner queues the dead worker's job again.
        job.set_pending(reset_retry=False)
        job.store()
        self.send_updates()
        self.assertEqual(processing.state, "cancelled")
        self.assertEqual(self.status_on_allegro(order), "SENT", "never moved back")

    def test_429_waits_as_allegro_asks_and_refusal_is_final(self):
        order = self.imported(**PAID, lineItems=items((7, 1)))
        self.emulator.faults.add(status=429, count=None, path_prefix="/order/checkout-forms/", retry_after=120)
        self.send_updates()
        update = order.update_ids
        self.assertEqual(update.state, "pending")
        self.assertGreater(update.next_attempt_at, fields.Datetime.now() + timedelta(seconds=100))
        self.emulator.faults.clear()
        self.emulator.faults.add(status=422, count=1, path_prefix="/order/checkout-forms/", method="PUT")
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual((update.state, update.job_state), ("failed", "failed"))
        self.assertIn("422", update.last_error)
        self.assertTrue(order.needs_attention)
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(update.state, "failed", "a refusal is not retried by itself")
        update.action_retry()
        self.assertEqual(update.state, "done")

    def test_seller_sees_the_job_on_the_update_and_retries_it(self):
        order = self.imported(**PAID, lineItems=items((11, 1)))
        self.emulator.faults.add(status=503, count=None, path_prefix="/order/checkout-forms/", retry_after=0)
        self.send_updates()
        seller = new_test_user(self.env, "seller", groups="allegro_connector.group_allegro_user")
        update = order.update_ids.with_user(seller)
        values = update.read(["state", "job_state", "job_message", "attempts", "next_attempt_at"])[0]
        self.assertEqual((values["state"], values["job_state"], values["attempts"]), ("pending", "pending", 1))
        self.assertIn("503", values["job_message"])
        self.emulator.faults.clear()
        update.action_retry()
        self.assertEqual(update.state, "done")
        self.assertEqual(update.job_state, "done", "the job is not run a second time")
        self.assertEqual(self.status_on_allegro(order), "PROCESSING")

    def test_warehouse_user_gets_the_shipment_to_allegro(self):
        order = self.imported(**PAID, lineItems=items((8, 1)))
        self.send_updates()
        keeper = new_test_user(self.env, "keeper", groups="stock.group_stock_user")
        picking = order.sale_order_id.picking_ids.with_user(keeper)
        self.validate(picking, "WH-1")
        update = order.update_ids.filtered(lambda p: p.kind == "shipment")
        self.assertEqual(update.job_id.user_id, keeper, "the job runs as the person who shipped")
        self.send_updates()
        self.assertEqual(update.state, "done", update.last_error)
        self.assertEqual(self.waybills_on_allegro(order), ["WH-1"])
        self.assertEqual(self.status_on_allegro(order), "SENT")

    def test_cancel_refused_by_allegro_leaves_odoo_as_it_was(self):
        order = self.imported(**PAID, lineItems=items((9, 1)))
        self.send_updates()
        sale = order.sale_order_id
        fulfillment = "/order/checkout-forms/%s/fulfillment" % order.allegro_ref
        self.emulator.faults.add(status=422, count=1, path_prefix=fulfillment)
        result = order.action_cancel_allegro_order()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertIn("422", result["params"]["message"])
        self.assertEqual(sale.state, "sale")
        self.assertNotEqual(sale.picking_ids.state, "cancel")
        self.assertEqual(self.status_on_allegro(order), "PROCESSING")
        # Cancelled from the sale order: Allegro is asked first there too.
        self.emulator.faults.add(status=422, count=1, path_prefix=fulfillment)
        with self.assertRaisesRegex(UserError, "stays open in Odoo"):
            sale._action_cancel()
        self.assertEqual(sale.state, "sale")
        # Allegro down: nothing cancelled either, nothing left to send later.
        self.emulator.faults.add(status=503, count=None, path_prefix=fulfillment, retry_after=0)
        result = order.action_cancel_allegro_order()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertEqual(sale.state, "sale")
        self.assertFalse(order.update_ids.filtered(lambda p: p.state == "pending"))
        self.emulator.faults.clear()
        sale._action_cancel()
        self.assertEqual(sale.state, "cancel")
        self.assertEqual(self.status_on_allegro(order), "CANCELLED")

    def test_oauth_503_during_keepalive_keeps_the_shop_connected(self):
        self.token_of(self.shop).expires_at = fields.Datetime.now() + timedelta(hours=5)
        shop = self.create_connected_shop(name="Expiring", expires_in=1800)
        old = self.token_of(shop).refresh_token
        self.emulator.faults.add(status=503, count=None, path_prefix="/auth/oauth/token", retry_after=0)
        self.env["allegro.shop"]._cron_refresh_tokens()
        self.assertEqual(shop.state, "connected")
        self.assertEqual(self.token_of(shop).refresh_token, old, "kept for the next run")
        self.emulator.faults.clear()
        self.emulator.faults.add(status=429, count=None, path_prefix="/auth/oauth/token", retry_after=0)
        self.env["allegro.shop"]._cron_refresh_tokens()
        self.assertEqual(shop.state, "connected")
        self.emulator.faults.clear()
        self.env["allegro.shop"]._cron_refresh_tokens()
        self.assertEqual(self.refreshes(), 1)
        self.assertNotEqual(self.token_of(shop).refresh_token, old)
        self.assertEqual(shop.state, "connected")
        # Only a refused refresh token disconnects.
        self.emulator.revoke_refresh_tokens()
        self.token_of(shop).expires_at = fields.Datetime.now() + timedelta(minutes=10)
        self.env["allegro.shop"]._cron_refresh_tokens()
        self.assertEqual(shop.state, "error")
        self.assertIn("Connect", shop.last_error)

    def test_oauth_outage_during_a_send_is_retried(self):
        order = self.imported(**PAID, lineItems=items((10, 1)))
        self.token_of(self.shop).expires_at = fields.Datetime.now()  # a refresh is due first
        self.emulator.faults.add(status=503, count=None, path_prefix="/auth/oauth/token", retry_after=0)
        self.send_updates()
        update = order.update_ids
        self.assertEqual(update.state, "pending")
        self.assertEqual(self.shop.state, "connected")
        self.emulator.faults.clear()
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(update.state, "done", update.last_error)

    def test_import_cron_queues_one_job_per_shop(self):
        other = self.create_connected_shop(name="Second shop")
        self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        Shop = self.env["allegro.shop"]
        Shop._cron_fetch_orders()
        Shop._cron_fetch_orders()  # the first jobs have not run yet
        jobs = self.due_jobs("root.allegro.import")
        self.assertEqual(sorted(jobs.mapped("identity_key")),
                         sorted("allegro.import:fetch:%d" % s.id for s in self.shop | other))
        self.run_jobs("root.allegro.import")
        self.assertEqual(set(jobs.mapped("state")), {"done"})
        for shop in self.shop | other:
            self.assertEqual(self.env["allegro.order"].search_count([("shop_id", "=", shop.id)]), 1)
