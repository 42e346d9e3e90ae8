from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import AllegroEmulatorCase
from .test_order_import import PAID, UNPAID, items


@tagged("post_install", "-at_install")
class TestFulfillment(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_stocked_catalogue(10)
        cls.warehouse = cls.env.ref("stock.warehouse0")
        cls.stock = cls.warehouse.lot_stock_id

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop()

    def free_qty(self, sku):
        product = self.products.filtered(lambda p: p.default_code == sku)
        self.env.invalidate_all()
        return product.with_context(warehouse_id=self.warehouse.id).free_qty

    def on_hand(self, sku):
        product = self.products.filtered(lambda p: p.default_code == sku)
        self.env.invalidate_all()
        return product.with_context(warehouse_id=self.warehouse.id).qty_available

    def on_allegro(self, order):
        return self.emulator.get_order(order.allegro_ref)

    def validate(self, picking, quantities=None, tracking="620000000001"):
        picking.carrier_tracking_ref = tracking
        picking.carrier_id = self.carrier
        for move in picking.move_ids:
            move.quantity = (quantities or {}).get(move.product_id.default_code, move.product_uom_qty)
        picking.move_ids.picked = True
        picking.with_context(cancel_backorder=False)._action_done()
        self.assertEqual(picking.state, "done")

    def test_confirmation_sets_processing_on_allegro(self):
        order = self.imported(**PAID, lineItems=items((0, 2)))
        self.assertEqual(order.sale_order_id.state, "sale")
        self.assertEqual(order.seller_status, "new")
        update = order.update_ids
        self.assertEqual((update.fulfillment_status, update.state), ("PROCESSING", "pending"))
        self.send_updates()
        self.assertEqual(update.state, "done", update.last_error)
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "PROCESSING")
        self.assertEqual(order.seller_status, "in_progress")
        fulfillment_calls = [r for r in self.emulator.requests if r.path.endswith("/fulfillment")]
        self.assertEqual(fulfillment_calls[-1].json, {"status": "PROCESSING"})
        # Not read again after our own change: its new revision comes with
        # the journal, in the next import's listing.
        form_path = "/order/checkout-forms/%s" % order.allegro_ref
        self.assertFalse([r for r in self.emulator.requests if r.method == "GET" and r.path == form_path])
        self.import_orders(self.shop)
        self.assertEqual(order.revision, self.on_allegro(order)["revision"])
        self.assertEqual(order.seller_status, "in_progress")

    def test_second_status_before_the_journal_brought_our_first(self):
        order = self.imported(**PAID, lineItems=items((0, 1)))
        self.send_updates()  # PROCESSING: Allegro's revision moved, ours not yet
        update = self.env["allegro.update"]._queue_status(order, "READY_FOR_SHIPMENT")
        self.send_updates()
        # Refused as outdated, read, recognised as our own change, sent again.
        self.assertEqual(update.state, "done", update.last_error)
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "READY_FOR_SHIPMENT")
        self.assertEqual(order.seller_status, "to_ship")
        self.assertFalse(order.needs_attention)
        puts = [r for r in self.emulator.requests if r.path.endswith("/fulfillment")]
        self.assertEqual([r.status for r in puts], [204, 409, 204])
        self.import_orders(self.shop)
        self.assertEqual(order.revision, self.on_allegro(order)["revision"])
        self.assertFalse(order.needs_attention)

    def test_a_resent_status_whose_answer_is_lost_is_checked_again(self):
        order = self.imported(**PAID, lineItems=items((0, 1)))
        self.send_updates()  # PROCESSING: Allegro's revision moved, ours not yet
        path = "/order/checkout-forms/%s/fulfillment" % order.allegro_ref
        # Refused as outdated, then sent again with the new revision: Allegro
        # makes that change but its answer is lost, and the client repeats it.
        self.emulator.faults.lose_answer(count=1, after=1, path_prefix=path, method="PUT", status=500)
        update = self.env["allegro.update"]._queue_status(order, "READY_FOR_SHIPMENT")
        self.send_updates()
        self.assertEqual(update.state, "done", update.last_error)
        self.assertFalse(order.needs_attention)
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "READY_FOR_SHIPMENT")
        puts = [r.status for r in self.emulator.requests if r.path == path]
        self.assertEqual(puts, [204, 409, 204, 409], "the repeat refused, then recognised as ours")

    def test_a_buyer_change_meanwhile_stops_a_second_status(self):
        order = self.imported(**PAID, lineItems=items((0, 1)))
        self.send_updates()
        self.emulator.edit_delivery_address(order.allegro_ref, street="Nowa 2")
        update = self.env["allegro.update"]._queue_status(order, "READY_FOR_SHIPMENT")
        self.send_updates()
        self.assertEqual(update.state, "failed")
        self.assertIn("newer version", update.last_error)
        self.assertEqual(order.delivery_street, "Nowa 2", "what Allegro holds is shown")
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "PROCESSING")

    def test_validated_delivery_sends_tracking_number_and_sent(self):
        order = self.imported(**PAID, lineItems=items((0, 2), (1, 1)))
        self.send_updates()
        self.assertEqual(self.free_qty("SKU-001"), 8)
        self.validate(order.sale_order_id.picking_ids)
        self.assertEqual(self.on_hand("SKU-001"), 8)
        self.send_updates()
        shipments = self.emulator.shipments(order.allegro_ref)
        self.assertEqual(len(shipments), 1)
        self.assertEqual(shipments[0]["waybill"], "620000000001")
        self.assertEqual(shipments[0]["carrierId"], "INPOST")
        self.assertEqual(sorted(i["id"] for i in shipments[0]["lineItems"]), sorted(order.line_ids.mapped("allegro_ref")))
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "SENT")
        self.assertEqual(order.seller_status, "shipped")
        self.assertFalse(order.update_ids.filtered(lambda p: p.state != "done"))

    def test_partial_delivery_sends_the_lines_shipped(self):
        order = self.imported(**PAID, lineItems=items((0, 1), (1, 1)))
        self.send_updates()
        picking = order.sale_order_id.picking_ids
        self.validate(picking, quantities={"SKU-002": 0}, tracking="PARCEL-1")
        backorder = order.sale_order_id.picking_ids - picking
        self.assertEqual(backorder.move_ids.product_id.default_code, "SKU-002")
        self.send_updates()
        first = self.emulator.shipments(order.allegro_ref)
        sku1_line = order.line_ids.filtered(lambda l: l.offer_sku == "SKU-001")
        self.assertEqual([i["id"] for i in first[0]["lineItems"]], [sku1_line.allegro_ref])
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "PROCESSING",
                         "not sent while goods remain to ship")
        self.validate(backorder, tracking="PARCEL-2")
        self.send_updates()
        second = self.emulator.shipments(order.allegro_ref)[1]
        self.assertEqual(second["waybill"], "PARCEL-2")
        self.assertEqual([i["id"] for i in second["lineItems"]], (order.line_ids - sku1_line).mapped("allegro_ref"))
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "SENT")

    def test_unmapped_carrier_goes_as_other_with_its_name(self):
        order = self.imported(**PAID, lineItems=items((0, 1)))
        self.carrier.allegro_carrier_id = False
        self.validate(order.sale_order_id.picking_ids, tracking="XYZ123")
        self.send_updates()
        shipment = self.emulator.shipments(order.allegro_ref)[0]
        self.assertEqual((shipment["carrierId"], shipment["carrierName"]), ("OTHER", "Kurier InPost"))

    def test_allegro_down_during_validation_then_recovered(self):
        order = self.imported(**PAID, lineItems=items((2, 1)))
        self.send_updates()
        self.emulator.faults.add(status=503, count=None, path_prefix="/order/checkout-forms/", retry_after=0)
        # The warehouse is never blocked by Allegro.
        self.validate(order.sale_order_id.picking_ids, tracking="WB-503")
        self.assertEqual(self.on_hand("SKU-003"), 9)
        self.send_updates()
        pending = order.update_ids.filtered(lambda p: p.state == "pending")
        self.assertEqual(len(pending), 2, "tracking number and SENT wait for Allegro")
        for update in pending:
            self.assertEqual(update.job_state, "pending")
            self.assertEqual(update.attempts, 1)
            self.assertIn("503", update.job_message)
            self.assertGreater(update.next_attempt_at, fields.Datetime.now(), "retried later, not at once")
        self.assertFalse(order.needs_attention, "a temporary failure is not a refusal")
        self.assertFalse(self.emulator.shipments(order.allegro_ref))
        self.emulator.faults.clear()
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(set(pending.mapped("state")), {"done"}, pending.mapped("last_error"))
        self.assertEqual(set(pending.mapped("job_state")), {"done"})
        self.assertEqual(self.emulator.shipments(order.allegro_ref)[0]["waybill"], "WB-503")
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "SENT")

    def test_edited_mapping_takes_effect(self):
        # This shop: confirmation does not touch Allegro; delivery ready does.
        self.env["allegro.status.map"].create([
            {"shop_id": self.shop.id, "direction": "outgoing", "odoo_event": "order_confirmed",
             "allegro_status": "NEW"},
            {"shop_id": self.shop.id, "direction": "outgoing", "odoo_event": "delivery_ready",
             "allegro_status": "READY_FOR_SHIPMENT"},
        ])
        order = self.imported(**PAID, lineItems=items((3, 1)))
        self.send_updates()
        self.assertEqual(order.update_ids.mapped("fulfillment_status"), ["READY_FOR_SHIPMENT"])
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "READY_FOR_SHIPMENT")
        self.assertEqual(order.seller_status, "to_ship")
        # Another shop keeps the global defaults.
        other = self.create_connected_shop(name="Other shop")
        form = self.emulator.add_order(**PAID, lineItems=items((3, 1)))
        self.import_orders(other)
        self.assertEqual(self.allegro_order(other, form["id"]).update_ids.fulfillment_status, "PROCESSING")

    def test_pickup_point_mapping(self):
        self.env.ref("allegro_connector.status_map_delivery_done_pickup").active = True
        order = self.imported(**PAID, lineItems=items((4, 1)), delivery={"pickupPoint": {
            "id": "KRA01M", "name": "Paczkomat KRA01M",
            "address": {"street": "Długa 1", "zipCode": "31-147", "city": "Kraków", "countryCode": "PL"}}})
        self.send_updates()
        self.validate(order.sale_order_id.picking_ids)
        self.send_updates()
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "READY_FOR_PICKUP")

    def test_bulk_change_with_one_order_refused(self):
        self.shop.confirm_policy = "never"
        orders = self.imported(**PAID, lineItems=items((0, 1)))
        orders |= self.imported(**PAID, lineItems=items((1, 1)))
        orders |= self.imported(**PAID, lineItems=items((2, 1)))
        refused = orders[1]
        self.emulator.faults.add(status=422, count=1,
                                 path_prefix="/order/checkout-forms/%s/fulfillment" % refused.allegro_ref)
        wizard = self.env["allegro.status.wizard"].with_context(
            active_model="allegro.order", active_ids=orders.ids).create({"status": "PROCESSING"})
        wizard.action_apply()
        self.env.invalidate_all()
        results = {update.order_id: update for update in wizard.result_ids}
        self.assertEqual(set(results), set(orders))
        for order in orders - refused:
            self.assertEqual(results[order].state, "done")
            self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "PROCESSING")
            self.assertEqual(order.seller_status, "in_progress")
        self.assertEqual(results[refused].state, "failed")
        self.assertTrue(results[refused].last_error)
        self.assertEqual(self.on_allegro(refused)["fulfillment"]["status"], "NEW")
        self.assertTrue(refused.needs_attention)

    def test_bulk_change_from_sale_orders(self):
        self.shop.confirm_policy = "never"
        order = self.imported(**PAID, lineItems=items((0, 1)))
        wizard = self.env["allegro.status.wizard"].with_context(
            active_model="sale.order", active_ids=order.sale_order_id.ids).create({"status": "SUSPENDED"})
        self.assertEqual(wizard.order_ids, order)
        wizard.action_apply()
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "SUSPENDED")

    def test_revision_conflict_reads_the_order_again(self):
        self.shop.confirm_policy = "never"
        order = self.imported(**PAID, lineItems=items((0, 1)))
        old_revision = order.revision
        # Someone changes the order on Allegro; Odoo has not read it yet.
        self.emulator.set_fulfillment(order.allegro_ref, "READY_FOR_SHIPMENT")
        result = order.action_start_processing()
        self.assertEqual(result["params"]["type"], "danger")
        update = order.update_ids
        self.assertEqual(update.state, "failed")
        self.assertIn("newer version", update.last_error)
        self.assertNotEqual(order.revision, old_revision)
        self.assertEqual(order.fulfillment_status, "READY_FOR_SHIPMENT", "not overwritten")
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "READY_FOR_SHIPMENT")
        # Retried deliberately, with the revision now known: it goes through.
        update.action_retry()
        self.assertEqual(update.state, "done")
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "PROCESSING")

    def test_buttons_on_the_sale_order(self):
        self.shop.confirm_policy = "never"
        order = self.imported(**PAID, lineItems=items((5, 1)))
        sale = order.sale_order_id
        sale.action_allegro_start_processing()
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "PROCESSING")
        action = sale.action_allegro_add_tracking_number()
        wizard = self.env[action["res_model"]].with_context(action["context"]).create(
            {"waybill": "DPD-777", "carrier_name": "Kurier lokalny", "mark_sent": True})
        wizard.action_apply()
        shipment = self.emulator.shipments(order.allegro_ref)[0]
        self.assertEqual((shipment["waybill"], shipment["carrierId"], shipment["carrierName"]),
                         ("DPD-777", "OTHER", "Kurier lokalny"))
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "SENT")
        self.assertEqual(sale.allegro_seller_status, "shipped")

    def test_seller_cancels_before_shipping(self):
        order = self.imported(**PAID, lineItems=items((6, 3)))
        self.send_updates()
        self.assertEqual(self.free_qty("SKU-007"), 7)
        result = order.action_cancel_allegro_order()
        self.assertEqual(result["params"]["type"], "success", result["params"]["message"])
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "CANCELLED")
        self.assertEqual(order.sale_order_id.state, "cancel")
        self.assertEqual(order.sale_order_id.picking_ids.state, "cancel")
        self.assertEqual(self.free_qty("SKU-007"), 10, "reserved stock is back")
        self.assertEqual(order.seller_status, "cancelled")
        self.assertEqual(len(order.update_ids), 2, "PROCESSING, then CANCELLED once")

    def test_cancelling_the_sale_order_cancels_on_allegro(self):
        order = self.imported(**PAID, lineItems=items((6, 1)))
        self.send_updates()
        order.sale_order_id._action_cancel()
        self.send_updates()
        self.assertEqual(self.on_allegro(order)["fulfillment"]["status"], "CANCELLED")
        self.assertEqual(self.free_qty("SKU-007"), 10)

    def test_seller_cannot_cancel_after_shipping(self):
        order = self.imported(**PAID, lineItems=items((7, 1)))
        self.send_updates()
        self.validate(order.sale_order_id.picking_ids)
        with self.assertRaisesRegex(UserError, "shipped"):
            order._set_allegro_status("CANCELLED")
        self.assertEqual(self.on_hand("SKU-008"), 9)

    def test_buyer_cancels_before_shipping_nothing_is_sent_back(self):
        order = self.imported(**UNPAID, lineItems=items((8, 2)))
        self.shop.confirm_policy = "always"
        order.sale_order_id.action_confirm()
        self.send_updates()
        self.assertEqual(self.free_qty("SKU-009"), 8)
        self.emulator.cancel_order(order.allegro_ref)
        self.import_orders(self.shop)
        self.assertEqual(order.sale_order_id.state, "cancel")
        self.assertEqual(self.free_qty("SKU-009"), 10)
        self.assertEqual(order.seller_status, "cancelled")
        self.assertFalse(order.update_ids.filtered(lambda p: p.fulfillment_status == "CANCELLED"))

    def test_buyer_cancellation_mapped_to_flag_only(self):
        self.env.ref("allegro_connector.status_map_buyer_cancelled").odoo_action = "flag"
        order = self.imported(**PAID, lineItems=items((9, 1)))
        self.emulator.cancel_order(order.allegro_ref)
        self.import_orders(self.shop)
        self.assertEqual(order.sale_order_id.state, "sale", "left to a person")
        self.assertTrue(order.needs_attention)
        self.assertEqual(self.free_qty("SKU-010"), 9)
