"""What Allegro is sent: never more than Odoo can ship.

Run as the people who do each step: buyers on Allegro (the emulator), the
import as its scheduled action, the salesman (Allegro user) confirming a sale
order, the warehouse user (Inventory / User) receiving and shipping goods; the
send jobs as queue_job's runner would.
"""
import time
from unittest.mock import patch

from odoo import fields
from odoo.tests import new_test_user, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from allegro_emulator import AllegroEmulator

from ..allegro_api.client import AllegroClient
from .common import CLIENT_ID, CLIENT_SECRET, AllegroEmulatorCase


@tagged("post_install", "-at_install")
class TestStockRule(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_catalogue_products()
        cls.warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.env.company.id)], limit=1)
        cls.stock_location = cls.warehouse.lot_stock_id
        cls.salesman = new_test_user(cls.env, "stock_rule_salesman", groups="allegro_connector.group_allegro_user")
        cls.warehouse_user = new_test_user(cls.env, "stock_rule_warehouse", groups="stock.group_stock_user")
        cls.mug_product = cls.products[0]

    def setUp(self):
        super().setUp()
        self.mug = self.emulator.offers[0]
        # Shop defaults: sale orders confirmed when paid, orders with unknown items held.
        self.shop = self.create_connected_shop()
        self.env["stock.quant"]._update_available_quantity(self.mug_product, self.stock_location, 10)
        self.shop.stock_sync = True
        self.run_offer_jobs(lambda: self.shop.action_read_offers())
        self.assertEqual(self.allegro_stock(self.mug), 10)

    # -- helpers -------------------------------------------------------------
    def run_offer_jobs(self, step, only=None):
        """Do ``step``, then run the jobs it queued (and those they queue) as the runner would;
        ``only``: the names of the job methods to run, the others left waiting."""
        with trap_jobs() as trap:
            step()
            for _round in range(5):
                jobs, trap.enqueued_jobs = trap.enqueued_jobs, []
                jobs = [job for job in jobs if not only or job.method_name in only]
                if not jobs:
                    break
                self.env.invalidate_all()
                for job in jobs:
                    # Jobs queued by the import hold its cursor (closed since): run them on the test's.
                    getattr(job.recordset.with_env(self.env), job.method_name)(*job.args, **job.kwargs)
        self.env.invalidate_all()

    def allegro_stock(self, offer):
        return self.emulator.offer(offer["id"])["stock"]["available"]

    def offer(self, emulator_offer, shop=None):
        return self.env["allegro.offer"].search([("shop_id", "=", (shop or self.shop).id),
                                                 ("allegro_ref", "=", emulator_offer["id"])])

    def buy(self, quantity=2, offer=None, **overrides):
        """A buyer takes items on Allegro (Allegro lowers the offer's stock at once)."""
        overrides.setdefault("status", "FILLED_IN")  # bank transfer, not paid yet
        return self.emulator.add_order(lineItems=[{"offer": {"id": (offer or self.mug)["id"]}, "quantity": quantity}],
                                       **overrides)

    def import_orders_as_cron(self):
        self.run_offer_jobs(lambda: self.shop.env["allegro.importer"]._run_import(self.shop))

    def receive(self, product, quantity):
        """The warehouse user validates a receipt from a supplier."""
        self.move(product, quantity, self.warehouse.in_type_id, self.env.ref("stock.stock_location_suppliers"),
                  self.stock_location)

    def ship(self, product, quantity):
        """The warehouse user validates a delivery made outside Allegro."""
        self.move(product, quantity, self.warehouse.out_type_id, self.stock_location,
                  self.env.ref("stock.stock_location_customers"))

    def move(self, product, quantity, picking_type, source, destination):
        env = self.env(user=self.warehouse_user)
        picking = env["stock.picking"].create({
            "picking_type_id": picking_type.id,
            "location_id": source.id,
            "location_dest_id": destination.id,
            "move_ids": [(0, 0, {"product_id": product.id, "product_uom_qty": quantity,
                                 "location_id": source.id, "location_dest_id": destination.id})],
        })
        picking.action_confirm()
        picking.move_ids.quantity = quantity
        picking.button_validate()

    def reconcile(self):
        self.run_offer_jobs(lambda: self.env["allegro.shop"]._cron_reconcile_offers())

    def read_offer_journal(self):
        self.run_offer_jobs(lambda: self.env["allegro.shop"]._cron_read_offer_events())

    # -- orders Allegro counted that Odoo has not reserved ---------------------
    def test_unpaid_order_and_a_receipt(self):
        form = self.buy(2)
        self.import_orders_as_cron()
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual((order.payment_status, order.sale_order_id.state), ("unpaid", "draft"))
        self.run_offer_jobs(lambda: self.receive(self.mug_product, 1))
        # 11 on hand, 2 promised to the buyer who has not paid yet: 9, not 11.
        self.assertEqual(self.allegro_stock(self.mug), 9)
        self.assertEqual(self.offer(self.mug).stock_to_send, 9)
        # Paid: the sale order is confirmed and reserves the 2; Allegro still shows 9.
        self.emulator.pay_order(form["id"])
        self.import_orders_as_cron()
        self.assertEqual(self.allegro_order(self.shop, form["id"]).sale_order_id.state, "sale")
        self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 9)

    def test_reconciliation_without_any_move_keeps_an_unpaid_order(self):
        self.buy(2)
        self.import_orders_as_cron()
        self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 8)
        self.assertEqual(self.offer(self.mug).stock_state, "synced")

    def test_cancelled_unpaid_order_gives_its_items_back(self):
        form = self.buy(2)
        self.import_orders_as_cron()
        self.emulator.cancel_order(form["id"])
        self.import_orders_as_cron()
        self.assertEqual(self.allegro_stock(self.mug), 10)

    def test_order_held_for_product_mapping(self):
        form = self.emulator.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"}, lineItems=[
            {"offer": {"id": self.mug["id"]}, "quantity": 2},
            {"offer": {"id": "17999999999", "name": "Nieznany produkt", "external": {"id": "NOT-IN-ODOO"}},
             "quantity": 1}])
        self.import_orders_as_cron()
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual((order.sync_state, order.sale_order_id.id), ("held", False))
        self.reconcile()
        self.run_offer_jobs(lambda: self.receive(self.mug_product, 1))
        self.assertEqual(self.allegro_stock(self.mug), 9)

    def test_order_whose_amounts_differ(self):
        form = self.buy(2, status="READY_FOR_PROCESSING", payment={"type": "ONLINE"},
                        summary={"totalToPay": {"amount": "1.00", "currency": "PLN"}})
        self.import_orders_as_cron()
        order = self.allegro_order(self.shop, form["id"])
        self.assertTrue(order.amount_mismatch)
        self.assertEqual(order.sale_order_id.state, "draft")
        self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 8)
        # The salesman checks the amounts and confirms: the 2 are reserved now, counted once.
        self.run_offer_jobs(lambda: order.sale_order_id.with_user(self.salesman).action_confirm())
        self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 8)
        self.assertEqual(self.offer(self.mug).stock_to_send, 8)

    def test_order_in_error(self):
        form = self.buy(2)
        self.import_orders_as_cron()
        # A later revision Odoo cannot read: the order is in error, its items still promised.
        self.emulator.revise_order(form["id"], summary={"totalToPay": {"amount": "n/a", "currency": "PLN"}})
        self.import_orders_as_cron()
        self.assertEqual(self.allegro_order(self.shop, form["id"]).sync_state, "error")
        self.run_offer_jobs(lambda: self.receive(self.mug_product, 1))
        self.assertEqual(self.allegro_stock(self.mug), 9)

    def test_purchase_not_imported_yet_is_never_corrected_away(self):
        self.buy(2)  # Allegro shows 8; the order is not in Odoo yet
        self.read_offer_journal()
        self.assertEqual(self.offer(self.mug).allegro_stock, 8)
        self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 8)
        # A receipt meanwhile: one more, on top of Allegro's 8.
        self.run_offer_jobs(lambda: self.receive(self.mug_product, 1))
        self.assertEqual(self.allegro_stock(self.mug), 9)
        self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 9)
        # The order arrives: it explains Allegro's drop, nothing is counted twice.
        self.import_orders_as_cron()
        self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 9)
        self.assertEqual(self.offer(self.mug).stock_to_send, 9)

    def test_stock_lowered_by_hand_on_allegro_is_corrected_once_the_orders_are_in(self):
        self.emulator.set_offer_stock(self.mug["id"], 7)  # no purchase: the seller on Allegro
        self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 7, "could be a purchase not imported yet")
        # An import run well after the drop was seen brought no order for it.
        self.env["allegro.import.run"].create({"shop_id": self.shop.id, "kind": "events",
                                               "started_at": fields.Datetime.add(fields.Datetime.now(), minutes=10)})
        self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 10)

    def test_reconciliation_while_allegro_still_carries_out_a_change(self):
        self.emulator.command_delay = 0.2
        # The update's own job, which reads the command's results 10 s later, has not run yet.
        self.run_offer_jobs(lambda: self.ship(self.mug_product, 3), only=("_job_send_stock",))
        time.sleep(0.25)  # Allegro carries the command out; Odoo has not read its result yet
        self.assertEqual(self.offer(self.mug).allegro_stock, 10, "the command's result not read yet")
        self.reconcile()
        # Allegro's 7 is Odoo's own change, not a purchase to keep back.
        self.assertEqual(self.allegro_stock(self.mug), 7)
        self.assertEqual(self.offer(self.mug).stock_to_send, 7)

    # -- several offers of one product ----------------------------------------
    def add_second_mug_offer(self):
        second = dict(self.emulator.offer(self.mug["id"]), id="19000000001", name="Kubek (zestaw 2)")
        second["stock"] = {"available": 10, "sold": 0}
        with self.emulator.lock:
            self.emulator.store.book.add(second)
        return second

    def test_whole_stock_every_offer_updated_in_the_same_job(self):
        second = self.add_second_mug_offer()
        self.run_offer_jobs(lambda: self.shop.action_read_offers())
        self.assertEqual((self.allegro_stock(self.mug), self.allegro_stock(second)), (10, 10))
        self.buy(3)  # on the first offer: Allegro shows 7 there, still 10 on the second
        with trap_jobs() as trap:
            self.shop.env["allegro.importer"]._run_import(self.shop)
            self.assertEqual([job.method_name for job in trap.enqueued_jobs], ["_job_send_stock"])
        self.run_offer_jobs(lambda: self.shop.with_delay()._job_send_stock())
        self.assertEqual((self.allegro_stock(self.mug), self.allegro_stock(second)), (7, 7))

    def test_whole_stock_offers_of_other_shops_updated_in_the_same_job(self):
        other = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seller_login="second",
                                random_seed=8).start()
        self.addCleanup(other.stop)
        second = self.env["allegro.shop"].create(dict(self.shop_values(name="Second shop"), api_url=other.url,
                                                      auth_url=other.url + "/auth/oauth", stock_sync=True))
        tokens = other.issue_tokens()
        second.sudo().token_ids.write({"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
                                       "expires_at": "2999-01-01 00:00:00"})
        second.state = "connected"
        self.run_offer_jobs(lambda: second.action_read_offers())
        self.assertEqual(other.offer(self.mug["id"])["stock"]["available"], 10)
        self.buy(2)  # on the first shop, not paid yet
        with trap_jobs() as trap:
            self.shop.env["allegro.importer"]._run_import(self.shop)
            queued = [job.recordset for job in trap.enqueued_jobs if job.method_name == "_job_send_stock"]
        self.assertEqual(len(queued), 2, "one send per shop")
        # The first shop's send alone: the second shop's offer goes with it.
        self.run_offer_jobs(lambda: self.shop.with_delay()._job_send_stock())
        self.assertEqual(other.offer(self.mug["id"])["stock"]["available"], 8)
        self.assertFalse(self.offer(self.mug, second).stock_dirty)

    def test_split_stock_between_offers(self):
        second = self.add_second_mug_offer()
        self.shop.stock_split = "split"
        self.run_offer_jobs(lambda: self.shop.action_read_offers())
        self.assertEqual((self.allegro_stock(self.mug), self.allegro_stock(second)), (5, 5))
        self.buy(3, offer=second)  # Allegro: 5 and 2
        self.import_orders_as_cron()
        # 7 left to sell, shared out: the older offer gets the odd unit.
        self.assertEqual((self.allegro_stock(self.mug), self.allegro_stock(second)), (4, 3))
        self.run_offer_jobs(lambda: self.receive(self.mug_product, 1))
        self.assertEqual((self.allegro_stock(self.mug), self.allegro_stock(second)), (4, 4))

    # -- kits --------------------------------------------------------------------
    def test_kit_offer_shows_what_its_components_allow(self):
        if "mrp.bom" not in self.env:
            self.skipTest("mrp is not installed in this database (make test installs it)")
        headphones = self.products[1]
        kit = self.env["product.product"].create({"name": "Zestaw: 2 kubki i słuchawki", "default_code": "KIT-1",
                                                  "type": "consu"})
        self.env["mrp.bom"].create({"product_tmpl_id": kit.product_tmpl_id.id, "type": "phantom", "bom_line_ids": [
            (0, 0, {"product_id": self.mug_product.id, "product_qty": 2}),
            (0, 0, {"product_id": headphones.id, "product_qty": 1})]})
        kit_offer = dict(self.emulator.offer(self.mug["id"]), id="19000000002", name="Zestaw",
                         external={"id": "KIT-1"}, stock={"available": 50, "sold": 0})
        with self.emulator.lock:
            self.emulator.store.book.add(kit_offer)
        self.env["stock.quant"]._update_available_quantity(headphones, self.stock_location, 3)
        self.run_offer_jobs(lambda: self.shop.action_read_offers())
        self.assertEqual(self.offer(kit_offer).product_id, kit)
        self.assertEqual(self.allegro_stock(kit_offer), 3, "3 headphones: 3 kits")
        # The warehouse receives headphones: the kit's offer follows; the mugs allow 5 kits.
        self.run_offer_jobs(lambda: self.receive(headphones, 4))
        self.assertEqual(self.allegro_stock(kit_offer), 5)
        # A kit bought on Allegro, not paid yet: its mugs are promised, the mug offer shows it too.
        self.buy(1, offer=kit_offer)
        self.import_orders_as_cron()
        self.assertEqual((self.allegro_stock(kit_offer), self.allegro_stock(self.mug)), (4, 8))

    # -- malformed entries -----------------------------------------------------
    def test_malformed_offers_are_kept_shown_and_skipped(self):
        headphones, backpack = self.emulator.offers[1], self.emulator.offers[4]
        iter_offers = AllegroClient.iter_offers

        def listing_with_bad_entries(client, *args, **kwargs):
            for entry in iter_offers(client, *args, **kwargs):
                if entry["id"] == headphones["id"]:
                    entry["publication"]["marketplaces"] = {"base": None}
                elif entry["id"] == backpack["id"]:
                    entry["publication"]["status"] = "ARCHIVED"  # a status Allegro may add one day
                yield entry
            yield {"name": "An entry without id", "stock": {"available": 3}}
        self.emulator.set_offer_stock(self.mug["id"], 50)  # changed by hand: to be corrected
        with patch.object(AllegroClient, "iter_offers", listing_with_bad_entries):
            self.reconcile()
        self.assertEqual(self.allegro_stock(self.mug), 10, "the rest of the job went on")
        self.assertEqual(self.offer(headphones).marketplaces, False)
        backpack_offer = self.offer(backpack)
        self.assertEqual(backpack_offer.status, "ENDED", "kept as it was")
        self.assertIn("ARCHIVED", backpack_offer.read_error)
        self.assertFalse(self.offer(self.mug).read_error)

    def test_malformed_task_is_shown_and_the_other_tasks_applied(self):
        second = self.add_second_mug_offer()
        self.run_offer_jobs(lambda: self.shop.action_read_offers())
        book_class = type(self.emulator.store.book)
        carry_out = book_class._carry_out

        def carry_out_badly(book, command):
            carry_out(book, command)
            for task in command["tasks"]:
                if task["offer"]["id"] == self.mug["id"]:
                    task["status"] = "POSTPONED"  # a status Allegro may add one day
            command["tasks"].append({"offer": None, "status": "SUCCESS", "field": "stock.available"})
        with patch.object(book_class, "_carry_out", carry_out_badly):
            self.run_offer_jobs(lambda: self.receive(self.mug_product, 5))
        self.assertIn("POSTPONED", self.offer(self.mug).sync_error)
        self.assertEqual(self.offer(second).allegro_stock, 15, "the other task applied")
        self.assertFalse(self.offer(second).sync_error)
        update = self.env["allegro.update"].search([("shop_id", "=", self.shop.id)], limit=1)
        self.assertEqual((update.kind, update.quantity, update.state), ("offer_quantity", 15, "done"))
        self.assertIn("1 of 2 offers", update.last_error)
