"""The main screens in a real browser (headless Chromium), as their users work
with them, against the Allegro emulator over HTTP."""
import unittest
from unittest.mock import patch

from odoo.tests import HttpCase, common as odoo_test_common, new_test_user, tagged

from allegro_emulator import AllegroEmulator, catalogue

from .common import CLIENT_ID, CLIENT_SECRET, JobRunnerMixin
from .test_order_import import PAID, items


@tagged("post_install", "-at_install")
class TestTours(JobRunnerMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo gives Chromium 10 s to start, too little on a busy machine.
        cls.startClassPatcher(patch.object(odoo_test_common, "CHECK_BROWSER_ITERATIONS", 600))
        Product = cls.env["product.product"]
        stock = cls.env.ref("stock.warehouse0").lot_stock_id
        for offer in catalogue.offers():
            product = Product.create({
                "name": offer["name"], "default_code": offer["external"]["id"], "barcode": offer["ean"],
                "type": "consu", "is_storable": True,
            })
            cls.env["stock.quant"]._update_available_quantity(product, stock, 10)
        cls.carrier = cls.env["delivery.carrier"].create({
            "name": "Kurier InPost",
            "product_id": Product.create({"name": "InPost", "type": "service"}).id,
            "allegro_carrier_id": cls.env["allegro.carrier"].create({"allegro_ref": "INPOST", "name": "InPost"}).id,
        })

    def start_tour(self, *args, **kwargs):
        # Odoo skips a tour whose browser did not start: here that is a failure.
        try:
            return super().start_tour(*args, **kwargs)
        except unittest.SkipTest as error:
            self.fail("the tour could not run: %s" % error)

    def setUp(self):
        super().setUp()
        self.emulator = AllegroEmulator(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seller_login="tour-seller", random_seed=3
        )
        self.emulator.start(host="127.0.0.1", port=0)
        self.addCleanup(self.emulator.stop)
        self.shop = self.env["allegro.shop"].create({
            "name": "Tour shop",
            "environment": "custom",
            "api_url": self.emulator.url,
            "auth_url": self.emulator.url + "/auth/oauth",
            "client_key": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        })
        self.forms = [
            self.emulator.add_order(**PAID, lineItems=items((0, 1)), buyer=self.buyer(1)),
            self.emulator.add_order(**PAID, lineItems=items((1, 2)), buyer=self.buyer(2)),
        ]

    def buyer(self, number):
        return {"login": "tour-buyer-%d" % number, "email": "buyer%d@example.com" % number}

    def connect_and_import(self):
        """What the first tour does, for the tours that start from imported orders."""
        self.emulator.auto_approve = True
        self.shop.action_connect()
        self.shop.action_check_authorization()
        self.shop.env["allegro.importer"]._run_import(self.shop)
        self.env.invalidate_all()
        return self.env["allegro.order"].search([("shop_id", "=", self.shop.id)], order="id")

    def allegro_status(self, order):
        return self.emulator.get_order(order.allegro_ref)["fulfillment"]["status"]

    def test_connect_shop_and_fetch_orders(self):
        admin = new_test_user(
            self.env, "allegro_admin", groups="base.group_system,allegro_connector.group_allegro_manager"
        )
        # The seller confirms the code on Allegro as soon as it is shown.
        self.emulator.auto_approve = True
        self.start_tour("/odoo/action-allegro_connector.action_allegro_shop", "allegro_connect_shop", login=admin.login)
        self.assertEqual(self.shop.state, "connected")
        self.assertEqual(self.shop.seller_login, "tour-seller")
        orders = self.env["allegro.order"].search([("shop_id", "=", self.shop.id)])
        self.assertEqual(sorted(orders.mapped("allegro_ref")), sorted(f["id"] for f in self.forms))
        self.assertTrue(all(orders.sale_order_id))

    def test_change_status_of_a_selection(self):
        orders = self.connect_and_import()
        self.send_updates()  # confirming the sale orders set them in progress
        self.assertEqual([self.allegro_status(order) for order in orders], ["PROCESSING", "PROCESSING"])
        user = new_test_user(self.env, "allegro_clerk", groups="base.group_user,allegro_connector.group_allegro_user")
        self.start_tour("/odoo/action-allegro_connector.action_allegro_order", "allegro_change_status", login=user.login)
        self.assertEqual([self.allegro_status(order) for order in orders], ["READY_FOR_SHIPMENT"] * 2)
        # Odoo took the new revisions without trouble.
        self.assertEqual(orders.mapped("fulfillment_status"), ["READY_FOR_SHIPMENT"] * 2)
        self.assertFalse(orders.filtered("needs_attention"), orders.mapped("attention_reason"))

    def test_warehouse_user_validates_delivery_with_tracking_number(self):
        order = self.connect_and_import()[0]
        picking = order.sale_order_id.picking_ids
        picking.carrier_id = self.carrier
        user = new_test_user(self.env, "warehouse_clerk", groups="base.group_user,stock.group_stock_user")
        self.start_tour("/odoo/action-stock.action_picking_tree_all/%d" % picking.id,
                        "allegro_validate_delivery", login=user.login)
        self.assertEqual(picking.state, "done")
        self.send_updates()
        shipments = self.emulator.shipments(order.allegro_ref)
        self.assertEqual([(s["waybill"], s["carrierId"]) for s in shipments], [("620000000777", "INPOST")])
        self.assertEqual(self.allegro_status(order), "SENT")

    def test_warehouse_user_ships_with_allegro_and_finds_the_label(self):
        swa = self.env["delivery.carrier"].create({
            "name": "Allegro shipping",
            "delivery_type": "allegro",
            "product_id": self.env["product.product"].create({"name": "Allegro delivery", "type": "service"}).id,
        })
        courier = {"id": "2488f7b7-5d1c-4d65-b85c-4cbcf253fd93", "name": "Allegro Kurier24 InPost"}
        self.env["allegro.delivery.method"].create({"allegro_ref": courier["id"], "name": courier["name"],
                                                    "carrier_id": swa.id})
        form = self.emulator.add_order(**PAID, lineItems=items((2, 1)), buyer=self.buyer(3),
                                       delivery={"method": courier, "pickupPoint": None})
        self.emulator.shipment_retry_after = 0
        order = self.connect_and_import().filtered(lambda o: o.allegro_ref == form["id"])
        picking = order.sale_order_id.picking_ids
        self.assertEqual(picking.carrier_id, swa)
        user = new_test_user(self.env, "swa_clerk", groups="base.group_user,stock.group_stock_user")
        url = "/odoo/action-stock.action_picking_tree_all/%d" % picking.id
        self.start_tour(url, "allegro_ship_with_allegro", login=user.login)
        self.assertEqual(picking.state, "done")
        self.send_updates()  # the job orders the parcel
        for _wait in range(3):  # and reads it, each time Allegro's wait has passed
            self.make_jobs_due()
            self.send_updates()
        self.assertTrue(picking.carrier_tracking_ref)
        self.start_tour(url, "allegro_ship_with_allegro_label", login=user.login)
        self.assertEqual(self.allegro_status(order), "SENT")

    def test_allegro_order_in_polish(self):
        order = self.connect_and_import()[0]
        self.env["res.lang"]._activate_lang("pl_PL")
        self.env["ir.module.module"]._load_module_terms(["web", "allegro_connector"], ["pl_PL"])
        seller = new_test_user(
            self.env, "sprzedawca", lang="pl_PL", groups="base.group_user,allegro_connector.group_allegro_user"
        )
        self.start_tour("/odoo/action-allegro_connector.action_allegro_order/%d" % order.id,
                        "allegro_order_in_polish", login=seller.login)
        self.assertEqual(self.allegro_status(order), "PROCESSING")
        self.assertEqual(order.seller_status, "in_progress")
        self.assertFalse(order.needs_attention, order.attention_reason)

    def test_reply_to_buyer_from_the_order(self):
        order = self.connect_and_import()[0]
        self.emulator.buyer_message(order.allegro_ref, "Dzień dobry! Kiedy wyślecie paczkę?")
        self.env["allegro.message.reader"]._run(self.shop)
        user = new_test_user(self.env, "allegro_answerer",
                             groups="base.group_user,sales_team.group_sale_salesman,allegro_connector.group_allegro_user")
        self.start_tour("/odoo/action-allegro_connector.action_allegro_order/%d" % order.id,
                        "allegro_reply_to_buyer", login=user.login)
        self.send_updates()
        thread = self.emulator.threads[0]
        sent = [m["text"] for m in self.emulator.thread_messages(thread["id"]) if not m["author"]["isInterlocutor"]]
        self.assertEqual(sent, ["Paczka wyjdzie jutro rano."])
