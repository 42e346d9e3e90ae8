import base64

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import AllegroEmulatorCase
from .test_order_import import PAID, items

CREATE = "/shipment-management/shipments/create-commands"
COURIER = {"id": "2488f7b7-5d1c-4d65-b85c-4cbcf253fd93", "name": "Allegro Kurier24 InPost"}
LOCKER = {"id": "1fa56f79-4b6a-4821-a6f2-ca9c16d5c925", "name": "Allegro Paczkomaty InPost"}
COD_COURIER = {"id": "845efe05-0c96-47ea-a4a7-3d3b5c8a2ed5", "name": "Allegro Kurier DPD pobranie"}
POINT = {"id": "GDA01M", "name": "Paczkomat GDA01M", "description": "Przy sklepie",
         "address": {"street": "Polna 1", "zipCode": "80-283", "city": "Gdańsk", "countryCode": "PL"}}


@tagged("post_install", "-at_install")
class TestShipWithAllegro(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_stocked_catalogue(20)
        cls.swa = cls.env["delivery.carrier"].create({
            "name": "Allegro shipping",
            "delivery_type": "allegro",
            "product_id": cls.env["product.product"].create({"name": "Allegro delivery", "type": "service"}).id,
            "allegro_parcel_weight": 2.0,
        })
        for method in (COURIER, LOCKER, COD_COURIER):
            cls.env["allegro.delivery.method"].create({
                "allegro_ref": method["id"], "name": method["name"], "carrier_id": cls.swa.id})
        cls.warehouse_user = new_test_user(cls.env, "swa_warehouse", groups="stock.group_stock_user")

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop()
        # Commands end at their second status read, without waiting.
        self.emulator.shipment_retry_after = 0

    # -- helpers ---------------------------------------------------------------
    def send_updates(self):
        """The job runner over the time a command takes: a parcel job that Allegro asked to come
        back later runs again once due (time passing is standing in for the wait)."""
        for _round in range(5):
            super().send_updates()
            if not self.env["queue.job"].sudo().search_count(
                    [("model_name", "=", "allegro.parcel"), ("state", "=", "pending")]):
                break
            self.make_jobs_due()

    def order(self, method=COURIER, lines=((0, 1),), **overrides):
        delivery = {"method": method, "pickupPoint": POINT if method is LOCKER else None}
        order = self.imported(**dict(PAID, **overrides), delivery=delivery, lineItems=items(*lines))
        self.send_updates()
        return order

    def validate(self, order, packages=None):
        """The warehouse worker validates the delivery (``packages``: lists of move indexes per package)."""
        picking = order.sale_order_id.picking_ids.with_user(self.warehouse_user)
        self.assertEqual(picking.carrier_id, self.swa, "the carrier mapped to the delivery method")
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
            move.picked = True
        for group in packages or []:
            package = self.env["stock.package"].create({"package_type_id": self.box.id})
            picking.move_ids[group[0]:group[-1] + 1].move_line_ids.result_package_id = package
        self.assertIs(picking.button_validate(), True)
        self.assertEqual(picking.state, "done")
        return picking

    def parcel_of(self, picking):
        return picking.sudo().allegro_parcel_ids.sorted("id")[-1:]

    def posts(self, path):
        return [r for r in self.emulator.requests if r.method == "POST" and r.path == path]

    @property
    def box(self):
        return self.env["stock.package.type"].create({
            "name": "Box 40x30x20", "packaging_length": 400, "width": 300, "height": 200})

    # -- tests -----------------------------------------------------------------
    def test_warehouse_user_validates_and_holds_the_label(self):
        order = self.order()
        self.assertEqual(order.sale_order_id.order_line.filtered("is_delivery").price_unit, order.delivery_cost,
                         "the price the buyer paid")
        self.assertEqual(self.swa.rate_shipment(order.sale_order_id)["price"], order.delivery_cost,
                         "never priced again")
        picking = self.validate(order)
        parcel = self.parcel_of(picking)
        self.assertEqual((parcel.state, len(parcel.command_ref)), ("pending", 36), "command id chosen before sending")
        self.assertFalse(self.posts(CREATE), "validating does not wait for Allegro")
        self.send_updates()
        self.assertEqual(parcel.state, "done", parcel.message)
        [shipment] = self.emulator.parcels
        waybill = shipment["packages"][0]["waybill"]
        self.assertEqual(picking.carrier_tracking_ref, waybill)
        self.assertEqual(shipment["packages"][0]["weight"]["value"], 2.0, "the shipping method's default parcel")
        self.assertEqual(shipment["referenceNumber"], picking.name)
        label = self.env["ir.attachment"].search([("res_model", "=", "stock.picking"), ("res_id", "=", picking.id)])
        self.assertEqual(label, parcel.label_id)
        self.assertTrue(base64.b64decode(label.datas).startswith(b"%PDF"))
        self.assertIn(label, picking.message_ids.attachment_ids, "posted in the chatter")
        self.assertIn(waybill, picking.carrier_tracking_url)
        # The waybill reaches the order once: Allegro lists it by itself.
        self.assertFalse(self.posts("/order/checkout-forms/%s/shipments" % order.allegro_ref))
        self.assertEqual([s["waybill"] for s in self.emulator.shipments(order.allegro_ref)], [waybill])
        update = order.update_ids.filtered(lambda p: p.kind == "shipment")
        self.assertEqual((update.waybill, update.state), (waybill, "done"))
        self.assertEqual(self.emulator.get_order(order.allegro_ref)["fulfillment"]["status"], "SENT")
        self.assertFalse(order.update_ids.filtered(lambda p: p.state != "done"))
        self.assertEqual(self.parcel_of(picking).with_user(self.warehouse_user).waybills, waybill)

    def test_two_packages_make_two_parcels_of_one_shipment(self):
        order = self.order(lines=((0, 1), (1, 1)))
        picking = self.validate(order, packages=[[0], [1]])
        self.send_updates()
        [shipment] = self.emulator.parcels
        self.assertEqual(len(shipment["packages"]), 2)
        self.assertEqual([p["length"]["value"] for p in shipment["packages"]], [40, 40], "the package type's sizes")
        waybills = [p["waybill"] for p in shipment["packages"]]
        self.assertEqual(picking.carrier_tracking_ref, ",".join(waybills))
        self.assertEqual(sorted(order.update_ids.filtered(lambda p: p.kind == "shipment").mapped("waybill")),
                         sorted(waybills))
        self.assertEqual(sorted(s["waybill"] for s in self.emulator.shipments(order.allegro_ref)), sorted(waybills))
        self.assertEqual(self.emulator.duplicates()["shipments"], 0)

    def test_a_command_in_progress_is_followed_as_retry_after_asks(self):
        self.emulator.shipment_command_reads = 2
        self.emulator.shipment_retry_after = 20
        order = self.order()
        picking = self.validate(order)
        parcel = self.parcel_of(picking)
        self.run_jobs()
        self.assertEqual(parcel.state, "pending")
        job = parcel.job_id
        self.assertEqual(job.state, "pending")
        self.assertGreater((job.eta - job.date_created).total_seconds(), 15, "Retry-After honoured")
        for _round in range(3):
            self.make_jobs_due()
            self.send_updates()
        self.assertEqual(parcel.state, "done", parcel.message)
        self.assertEqual(len(self.posts(CREATE)), 1, "later attempts read the command")
        self.assertEqual(len(self.emulator.parcels), 1)

    def test_lost_answers_make_one_parcel(self):
        order = self.order()
        picking = self.validate(order)
        # Allegro takes the command, every answer of the client's attempts is lost.
        self.emulator.faults.lose_answer(count=4, path_prefix=CREATE, method="POST", status=500)
        self.run_jobs()
        parcel = self.parcel_of(picking)
        self.assertEqual(parcel.state, "pending")
        self.emulator.faults.clear()
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(parcel.state, "done", parcel.message)
        self.assertEqual(len(self.emulator.parcels), 1)
        self.assertEqual({r.json["commandId"] for r in self.posts(CREATE)}, {parcel.command_ref})

    def test_a_refused_parcel_is_shown_then_fixed_and_retried(self):
        self.swa.allegro_parcel_length = 200
        order = self.order()
        picking = self.validate(order)
        self.send_updates()
        refused = self.parcel_of(picking)
        self.assertEqual(refused.state, "error")
        self.assertIn("120x80x80", refused.message)
        self.assertIn("120x80x80", picking.allegro_shipping_error)
        self.assertTrue(picking.activity_ids, "the worker is asked to look")
        self.assertFalse(picking.carrier_tracking_ref)
        self.assertEqual(self.emulator.get_order(order.allegro_ref)["fulfillment"]["status"], "SENT",
                         "nothing else held back")
        self.swa.allegro_parcel_length = 30
        picking.action_allegro_retry_shipping()
        self.send_updates()
        parcel = self.parcel_of(picking)
        self.assertNotEqual(parcel, refused)
        self.assertNotEqual(parcel.command_ref, refused.command_ref, "a new command")
        self.assertEqual(parcel.state, "done", parcel.message)
        self.assertFalse(picking.allegro_shipping_error)
        self.assertTrue(picking.carrier_tracking_ref)
        self.assertFalse(picking.activity_ids, "the request to look is done once the parcel exists")

    def test_a_closed_pickup_point_is_refused_with_allegros_message(self):
        self.emulator.close_pickup_point(POINT["id"])
        picking = self.validate(self.order(method=LOCKER))
        self.send_updates()
        self.assertIn(POINT["id"], picking.allegro_shipping_error)

    def test_cash_on_delivery_is_sent_with_the_parcel(self):
        order = self.order(method=COD_COURIER, status="READY_FOR_PROCESSING",
                           payment={"type": "CASH_ON_DELIVERY", "provider": "OFFLINE"})
        self.validate(order)
        self.send_updates()
        [shipment] = self.emulator.parcels
        total = self.emulator.get_order(order.allegro_ref)["summary"]["totalToPay"]
        self.assertEqual(shipment["cashOnDelivery"]["amount"], total["amount"])

    def test_cancel_and_a_cancel_refused_after_the_handover(self):
        first = self.validate(self.order())
        second = self.validate(self.order())
        self.send_updates()
        first.cancel_shipment()
        self.assertEqual(self.parcel_of(first).state, "cancelled")
        self.assertFalse(first.carrier_tracking_ref)
        shipment_id = self.parcel_of(first).allegro_ref
        self.assertIn("canceledDate", self.emulator.parcel(shipment_id))

        waybill = second.carrier_tracking_ref
        self.emulator.hand_over_parcel(self.parcel_of(second).allegro_ref)
        with self.assertRaisesRegex(UserError, "handed over"):
            second.cancel_shipment()
        self.assertEqual(second.carrier_tracking_ref, waybill)
        self.assertEqual(self.parcel_of(second).state, "done")

    def test_labels_of_many_deliveries_in_one_file(self):
        pickings = self.validate(self.order()) | self.validate(self.order())
        self.send_updates()
        self.emulator.reset_requests()
        action = pickings.with_user(self.warehouse_user).action_allegro_print_labels()
        self.assertEqual(len(self.posts("/shipment-management/label")), 1)
        attachment = self.env["ir.attachment"].browse(int(action["url"].split("/")[-1].split("?")[0]))
        content = base64.b64decode(attachment.datas)
        self.assertTrue(content.startswith(b"%PDF"))

    def test_pickup_and_handover_protocol(self):
        pickings = self.validate(self.order()) | self.validate(self.order())
        self.send_updates()
        Wizard = self.env["allegro.pickup.wizard"].with_user(self.warehouse_user)
        action = Wizard._open_for(pickings.with_user(self.warehouse_user))
        wizard = Wizard.browse(action["res_id"])
        self.assertTrue(wizard.slot_ids)
        result = wizard.action_confirm()
        self.assertEqual(result["type"], "ir.actions.act_url")
        [pickup] = self.emulator.pickups
        self.assertEqual(sorted(pickup["shipmentIds"]), sorted(pickings.allegro_parcel_ids.mapped("allegro_ref")))
        for picking in pickings:
            protocol = picking.message_ids.attachment_ids.filtered(lambda a: "protocol" in a.name)
            self.assertTrue(base64.b64decode(protocol.datas).startswith(b"%PDF"))
        self.assertEqual(set(pickings.allegro_parcel_ids.mapped("carrier_pickup_ref")), {pickup["carrierPickupId"]})

    def test_a_carrier_without_protocol_says_so(self):
        picking = self.validate(self.order(method=LOCKER))
        self.send_updates()
        shipment_id = self.parcel_of(picking).allegro_ref
        self.emulator.store.shipping.shipments[shipment_id]["pickupAvailable"] = True
        Wizard = self.env["allegro.pickup.wizard"].with_user(self.warehouse_user)
        wizard = Wizard.browse(Wizard._open_for(picking.with_user(self.warehouse_user))["res_id"])
        result = wizard.action_confirm()
        self.assertIn("no handover protocol", result["params"]["message"])

    def test_another_companys_user_sees_no_parcel(self):
        picking = self.validate(self.order())
        self.send_updates()
        parcel = self.parcel_of(picking)
        other = self.env["res.company"].create({"name": "Other company"})
        stranger = new_test_user(self.env, "swa_stranger", groups="stock.group_stock_user",
                                 company_id=other.id, company_ids=[(6, 0, other.ids)])
        self.assertFalse(self.env["allegro.parcel"].with_user(stranger).search([]))
        with self.assertRaises(AccessError):
            parcel.with_user(stranger).read(["waybills"])
        with self.assertRaises(AccessError):
            self.env["allegro.parcel"].with_user(self.warehouse_user).create({
                "picking_id": picking.id, "company_id": picking.company_id.id})
