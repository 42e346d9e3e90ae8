import time

from odoo import fields
from odoo.tests import new_test_user, tagged

from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import trap_jobs

from allegro_emulator import AllegroEmulator

from .common import CLIENT_ID, CLIENT_SECRET, AllegroEmulatorCase

COMMANDS = ("/sale/offer-quantity-change-commands/", "/sale/offer-publication-commands/",
            "/sale/offer-price-change-commands/")


@tagged("post_install", "-at_install")
class TestOfferStock(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_catalogue_products()
        cls.warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.env.company.id)], limit=1)
        cls.stock_location = cls.warehouse.lot_stock_id
        cls.salesman = new_test_user(cls.env, "offers_salesman", groups="allegro_connector.group_allegro_user")
        cls.storekeeper = new_test_user(cls.env, "offers_storekeeper", groups="stock.group_stock_manager")
        cls.allegro_manager = new_test_user(cls.env, "offers_manager", groups="allegro_connector.group_allegro_manager")

    def setUp(self):
        super().setUp()
        offers = self.emulator.offers
        self.mug, self.headphones, self.unknown = offers[0], offers[1], offers[2]
        # The seller signs this offer with the EAN instead of the SKU.
        self.headphones["external"]["id"] = self.products[1].barcode
        self.unknown["external"]["id"] = "NOT-IN-ODOO"
        self.shop = self.create_connected_shop(confirm_policy="never")

    # -- helpers ---------------------------------------------------------------
    def offer(self, emulator_offer, shop=None):
        return self.env["allegro.offer"].search([("shop_id", "=", (shop or self.shop).id),
                                                 ("allegro_ref", "=", emulator_offer["id"])])

    def set_on_hand(self, product, quantity, user=None):
        """An inventory adjustment, done by the storekeeper."""
        quant = self.env["stock.quant"].with_user(user or self.storekeeper).with_context(inventory_mode=True)
        quant.create({"product_id": product.id, "location_id": self.stock_location.id,
                      "inventory_quantity": quantity}).action_apply_inventory()

    def commands_sent(self):
        return [r for r in self.emulator.requests if r.method == "PUT" and r.path.startswith(COMMANDS)]

    def start_sync(self, **values):
        self.set_on_hand(self.products[0], 10)
        self.set_on_hand(self.products[1], 5)
        self.shop.write(dict({"stock_sync": True}, **values))
        with trap_jobs():
            self.shop.action_read_offers()
        self.env.invalidate_all()

    def perform_trapped(self, trap):
        trap.perform_enqueued_jobs()
        self.env.invalidate_all()

    def updates(self):
        """The shop's updates to Allegro, oldest first, as the seller's list shows them."""
        return self.env["allegro.update"].with_user(self.salesman).search([("shop_id", "=", self.shop.id)],
                                                                         order="id")

    def run_stock_send(self):
        """The shop's queued stock send, as the job runner runs it once its eta passed."""
        for record in self.env["queue.job"].sudo().search([("method_name", "=", "_job_send_stock"),
                                                             ("state", "=", "pending")]):
            self._perform_job(Job.load(self.env, record.uuid))
        self.env.invalidate_all()

    def command_puts(self, update):
        return [r for r in self.emulator.requests if r.method == "PUT" and r.path.endswith("/" + update.command_ref)]

    # -- reading and linking ------------------------------------------------------
    def test_offers_read_and_linked_by_sku_and_ean_unlinked_left_alone(self):
        self.shop.with_user(self.allegro_manager).action_read_offers()
        offers = self.env["allegro.offer"].search([("shop_id", "=", self.shop.id)])
        self.assertEqual(len(offers), len(self.emulator.offers))
        mug = self.offer(self.mug)
        self.assertEqual((mug.product_id, mug.status, mug.allegro_stock), (self.products[0], "ACTIVE", 120))
        self.assertEqual(mug.price, 49.99)
        self.assertEqual(mug.currency_id.name, "PLN")
        self.assertEqual(mug.marketplaces, "allegro-pl, allegro-cz, allegro-sk, allegro-hu")
        self.assertEqual(self.offer(self.headphones).product_id, self.products[1], "linked by EAN")
        self.assertFalse(self.offer(self.unknown).product_id)
        self.assertEqual(self.offer(self.unknown).stock_state, "off")
        # Without stock sync nothing is written to Allegro.
        self.assertFalse(self.commands_sent())
        # A product chosen by hand stays.
        self.offer(self.unknown).with_user(self.allegro_manager).product_id = self.products[5]
        self.shop.with_user(self.allegro_manager).action_read_offers()
        self.assertEqual(self.offer(self.unknown).product_id, self.products[5])

    def test_first_sync_sends_free_quantity_and_ends_offers_without_stock(self):
        self.start_sync(stock_buffer=1)
        self.assertEqual(self.emulator.offer(self.mug["id"])["stock"]["available"], 9)  # 10 minus the buffer
        self.assertEqual(self.emulator.offer(self.headphones["id"])["stock"]["available"], 4)
        # Linked products Odoo has none of: ended (never a quantity of 0).
        for offer in self.emulator.offers[3:]:
            self.assertEqual(self.emulator.offer(offer["id"])["publication"]["status"], "ENDED")
        for request in self.commands_sent():
            self.assertNotEqual((request.json.get("modification") or {}).get("value"), 0)
            ids = [o["id"] for c in request.json["offerCriteria"] for o in c["offers"]]
            self.assertNotIn(self.unknown["id"], ids, "unlinked offers are left alone")
        unknown = self.emulator.offer(self.unknown["id"])
        self.assertEqual((unknown["stock"]["available"], unknown["publication"]["status"]), (80, "ACTIVE"))
        self.assertEqual(self.offer(self.mug).stock_state, "synced")
        # One quantity command per target value, one END command for all the rest.
        kinds = sorted(r.path.split("/")[2] for r in self.commands_sent())
        self.assertEqual(kinds, ["offer-publication-commands"] + ["offer-quantity-change-commands"] * 2)
        # Each one an update the seller sees: quantities first, then the END.
        ended = len(self.emulator.offers) - 3
        self.assertEqual([(u.display_name, u.state) for u in self.updates()], [
            ("Quantity 9 → 1 offers", "done"), ("Quantity 4 → 1 offers", "done"),
            ("End %d offers" % ended, "done")])
        self.assertEqual(self.updates()[2].offer_count, ended)
        self.assertEqual(self.offer(self.mug).with_user(self.salesman).action_view_updates()["domain"],
                         [("offer_ids", "in", self.offer(self.mug).ids)])

    def test_confirmed_allegro_order_lowers_the_stock_on_allegro(self):
        self.start_sync()
        form = self.emulator.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"},
                                       lineItems=[{"offer": {"id": self.mug["id"]}, "quantity": 3}])
        self.import_orders(self.shop)
        sale = self.allegro_order(self.shop, form["id"]).sale_order_id
        self.emulator.reset_requests()
        with trap_jobs() as trap:
            sale.with_user(self.salesman).action_confirm()
            trap.assert_jobs_count(1, only=self.shop._job_send_stock)
            self.perform_trapped(trap)
        self.assertEqual(self.emulator.offer(self.mug["id"])["stock"]["available"], 7)
        self.assertEqual(self.offer(self.mug).allegro_stock, 7)
        # One quantity command and the read of its tasks (the PROCESSING status goes apart).
        self.assertEqual([r.method for r in self.emulator.requests if r.path.startswith(COMMANDS)], ["PUT", "GET"])
        update = self.updates()[-1]
        self.assertEqual((update.kind, update.quantity, update.offer_ids, update.state, update.company_id),
                         ("offer_quantity", 7, self.offer(self.mug), "done", self.shop.company_id))
        self.assertEqual(len(self.command_puts(update)), 1)

    def test_inventory_adjustment_reaches_allegro_in_one_batch(self):
        self.start_sync()
        with trap_jobs() as trap:
            self.set_on_hand(self.products[0], 4)
            self.set_on_hand(self.products[1], 4)
            trap.assert_jobs_count(1)  # both changes wait for the same send
            self.emulator.reset_requests()
            self.perform_trapped(trap)
        self.assertEqual(self.emulator.offer(self.mug["id"])["stock"]["available"], 4)
        self.assertEqual(self.emulator.offer(self.headphones["id"])["stock"]["available"], 4)
        self.assertEqual(len(self.commands_sent()), 1, "same value: one command for both offers")

    def test_zero_ends_the_offer_and_restock_activates_it_again(self):
        self.start_sync()
        with trap_jobs() as trap:
            self.set_on_hand(self.products[0], 0)
            self.perform_trapped(trap)
        mug = self.emulator.offer(self.mug["id"])
        self.assertEqual(mug["publication"]["status"], "ENDED")
        self.assertEqual(self.offer(self.mug).status, "ENDED")
        with trap_jobs() as trap:
            self.set_on_hand(self.products[0], 6)
            self.perform_trapped(trap)
        mug = self.emulator.offer(self.mug["id"])
        self.assertEqual((mug["stock"]["available"], mug["publication"]["status"]), (6, "ACTIVE"))
        self.assertEqual(self.offer(self.mug).status, "ACTIVE")

    def test_no_reactivation_when_the_shop_says_so(self):
        self.start_sync(stock_reactivate=False)
        with trap_jobs() as trap:
            self.set_on_hand(self.products[0], 0)
            self.perform_trapped(trap)
            self.set_on_hand(self.products[0], 6)
            self.perform_trapped(trap)
        mug = self.emulator.offer(self.mug["id"])
        self.assertEqual((mug["stock"]["available"], mug["publication"]["status"]), (6, "ENDED"))

    def test_refused_task_is_shown_on_its_offer_the_others_go_on(self):
        self.start_sync()
        self.emulator.refuse_offer_changes(self.mug["id"], "Oferta jest zablokowana.")
        with trap_jobs() as trap:
            self.set_on_hand(self.products[0], 3)
            self.set_on_hand(self.products[1], 3)
            self.perform_trapped(trap)
        mug = self.offer(self.mug)
        self.assertEqual(mug.sync_error, "Oferta jest zablokowana.")
        self.assertEqual(mug.stock_state, "refused")
        self.assertEqual(self.env["allegro.offer"].search([("sync_error", "!=", False)]), mug)
        self.assertEqual(self.emulator.offer(self.headphones["id"])["stock"]["available"], 3)
        self.assertEqual(self.offer(self.headphones).sync_error, False)
        # The update says what was refused; done, as Allegro took the change for the other offer.
        update = self.updates()[-1]
        self.assertEqual((update.display_name, update.state), ("Quantity 3 → 2 offers", "done"))
        self.assertEqual(update.last_error, "Refused for 1 of 2 offers: Oferta jest zablokowana.")
        # Refused for every offer: failed.
        with trap_jobs() as trap:
            self.set_on_hand(self.products[0], 2)
            self.perform_trapped(trap)
        update = self.updates()[-1]
        self.assertEqual((update.display_name, update.state), ("Quantity 2 → 1 offers", "failed"))
        self.assertEqual(update.last_error, "Refused for 1 of 1 offers: Oferta jest zablokowana.")

    def test_reconciliation_corrects_stock_changed_by_hand_on_allegro(self):
        self.start_sync()
        self.emulator.set_offer_stock(self.mug["id"], 50)
        self.emulator.reset_requests()
        with trap_jobs() as trap:
            self.env["allegro.shop"]._cron_reconcile_offers()
            self.perform_trapped(trap)
        self.assertEqual(self.emulator.offer(self.mug["id"])["stock"]["available"], 10)
        self.assertEqual(len(self.commands_sent()), 1)
        # Nothing changed since: the offers are read, nothing is written.
        self.emulator.reset_requests()
        with trap_jobs() as trap:
            self.env["allegro.shop"]._cron_reconcile_offers()
            self.perform_trapped(trap)
        self.assertEqual([r.path for r in self.emulator.requests], ["/sale/offers"])

    def test_offer_events_keep_offers_up_to_date(self):
        self.start_sync()
        self.emulator.set_offer_stock(self.unknown["id"], 3)
        self.emulator.set_offer_status(self.unknown["id"], "ENDED")
        with trap_jobs() as trap:
            self.env["allegro.shop"]._cron_read_offer_events()
            self.perform_trapped(trap)
        unknown = self.offer(self.unknown)
        self.assertEqual((unknown.allegro_stock, unknown.status), (3, "ENDED"))
        self.emulator.reset_requests()
        with trap_jobs() as trap:
            self.env["allegro.shop"]._cron_read_offer_events()
            self.perform_trapped(trap)
        self.assertEqual([r.path for r in self.emulator.requests], ["/sale/offer-events"], "cursor kept")

    def test_two_shops_selling_the_same_product(self):
        other = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seller_login="second",
                                random_seed=8).start()
        self.addCleanup(other.stop)
        second = self.env["allegro.shop"].create(dict(self.shop_values(name="Second shop"), api_url=other.url,
                                                      auth_url=other.url + "/auth/oauth", confirm_policy="never"))
        tokens = other.issue_tokens()
        second.sudo().token_ids.write({"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
                                       "expires_at": "2999-01-01 00:00:00"})
        second.state = "connected"
        second.stock_sync = True
        self.start_sync()
        with trap_jobs():
            second.action_read_offers()
        self.assertEqual(other.offer(self.mug["id"])["stock"]["available"], 10)
        form = self.emulator.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"},
                                       lineItems=[{"offer": {"id": self.mug["id"]}, "quantity": 2}])
        self.import_orders(self.shop)
        with trap_jobs() as trap:
            self.allegro_order(self.shop, form["id"]).sale_order_id.with_user(self.salesman).action_confirm()
            # One send per shop.
            trap.assert_jobs_count(1, only=self.shop._job_send_stock)
            trap.assert_jobs_count(1, only=second._job_send_stock)
            self.perform_trapped(trap)
        self.assertEqual(self.emulator.offer(self.mug["id"])["stock"]["available"], 8)
        self.assertEqual(other.offer(self.mug["id"])["stock"]["available"], 8)

    def test_only_chosen_warehouses_count(self):
        other_warehouse = self.env["stock.warehouse"].create({"name": "Outlet", "code": "OUT"})
        self.env["stock.quant"]._update_available_quantity(self.products[0], other_warehouse.lot_stock_id, 30)
        self.start_sync(stock_warehouse_ids=[(6, 0, self.warehouse.ids)])
        self.assertEqual(self.offer(self.mug).stock_to_send, 10)
        self.assertEqual(self.emulator.offer(self.mug["id"])["stock"]["available"], 10)
        self.shop.stock_warehouse_ids = False
        self.assertEqual(self.offer(self.mug).stock_to_send, 40)

    def test_prices_from_a_pricelist_per_marketplace(self):
        czk = self.env.ref("base.CZK")
        czk.active = True
        pricelists = self.env["product.pricelist"].create([
            {"name": "Allegro PL", "currency_id": self.env.ref("base.PLN").id,
             "item_ids": [(0, 0, {"applied_on": "0_product_variant", "product_id": self.products[0].id,
                                  "compute_price": "fixed", "fixed_price": 45.5})]},
            {"name": "Allegro CZ", "currency_id": czk.id,
             "item_ids": [(0, 0, {"applied_on": "0_product_variant", "product_id": self.products[0].id,
                                  "compute_price": "fixed", "fixed_price": 310.4})]},
        ])
        self.shop.write({"price_sync": True, "price_pricelist_ids": [
            (0, 0, {"marketplace": "allegro-pl", "pricelist_id": pricelists[0].id}),
            (0, 0, {"marketplace": "allegro-cz", "pricelist_id": pricelists[1].id})]})
        self.shop.action_read_offers()
        mug = self.emulator.offer(self.mug["id"])
        self.assertEqual(mug["price"], {"amount": "45.50", "currency": "PLN"})
        # CZK prices are whole on Allegro: 310.40 is sent as 310.
        self.assertEqual(mug["prices"]["allegro-cz"], {"amount": "310.00", "currency": "CZK"})
        self.assertFalse(self.offer(self.mug).sync_error)
        mug_updates = self.updates().filtered(lambda u: self.offer(self.mug) in u.offer_ids)
        self.assertEqual(sorted((u.display_name, u.state) for u in mug_updates), [
            ("Price 310.00 CZK on allegro-cz", "done"), ("Price 45.50 PLN on allegro-pl", "done")])
        self.emulator.reset_requests()
        self.shop.action_read_offers()
        self.assertFalse(self.commands_sent(), "prices in step: nothing sent")

    def test_commands_still_running_are_read_again_later(self):
        self.start_sync()
        self.emulator.command_delay = 0.2
        with trap_jobs() as trap:
            self.set_on_hand(self.products[0], 2)
            self.perform_trapped(trap)
            self.assertEqual(self.offer(self.mug).allegro_stock, 10, "tasks still NEW: nothing known yet")
            update = self.updates()[-1]
            self.assertEqual((update.quantity, update.state), (2, "pending"))
            self.assertTrue(update.sent_at, "Allegro took it")
            # The update's own job reads it again a little later.
            trap.assert_jobs_count(1, only=update._send_offer_job)
            self.assertEqual(trap.enqueued_jobs[0].channel, "root.allegro.offers")
            self.assertGreater(trap.enqueued_jobs[0].eta, fields.Datetime.now())
            time.sleep(0.25)  # Allegro carries the command out meanwhile
            self.perform_trapped(trap)
        self.assertEqual(self.offer(self.mug).allegro_stock, 2)
        self.assertEqual(self.offer(self.mug).stock_state, "synced")
        self.assertEqual(update.state, "done")
        self.assertEqual(len(self.command_puts(update)), 1, "read again, never sent again")

    def test_rate_limited_command_waits_as_long_as_allegro_asks_then_goes_once(self):
        self.start_sync()
        self.emulator.faults.add(status=429, count=1, path_prefix="/sale/offer-quantity-change-commands",
                                 retry_after=120)
        self.set_on_hand(self.products[0], 2)
        self.run_stock_send()
        update = self.updates()[-1]
        self.assertEqual((update.quantity, update.state, update.maybe_sent), (2, "pending", False))
        self.assertIn("Retry-After", update.last_error)
        job = update.sudo().job_id
        self.assertEqual((job.channel, job.state, job.method_name), ("root.allegro.offers", "pending",
                                                                    "_send_offer_job"))
        self.assertAlmostEqual((job.eta - fields.Datetime.now()).total_seconds(), 120, delta=10)
        self.assertFalse(self.offer(self.mug).stock_dirty, "the send is the update's now")
        self.assertFalse(self.run_jobs() & job, "not before Allegro's wait")
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(update.state, "done")
        self.assertEqual(self.emulator.offer(self.mug["id"])["stock"]["available"], 2)
        self.assertEqual(self.offer(self.mug).allegro_stock, 2)
        self.assertEqual(len([c for c in self.emulator.store.book.commands if c[1] == update.command_ref]), 1)
        self.assertEqual([r.status for r in self.command_puts(update)], [429, 201])

    def test_lost_answer_then_the_repeat_finds_the_command(self):
        self.start_sync()
        # Allegro takes the command; its answer never comes (nor those of the client's own retries).
        self.emulator.faults.lose_answer(count=4, path_prefix="/sale/offer-quantity-change-commands", method="PUT")
        self.set_on_hand(self.products[0], 2)
        self.run_stock_send()
        update = self.updates()[-1]
        self.assertEqual((update.quantity, update.state, update.maybe_sent), (2, "pending", True))
        self.assertEqual(self.emulator.offer(self.mug["id"])["stock"]["available"], 2, "Allegro took it")
        self.emulator.reset_requests()
        self.send_updates()
        self.assertEqual(update.state, "done")
        self.assertEqual(self.offer(self.mug).allegro_stock, 2)
        self.assertEqual([r.method for r in self.emulator.requests if update.command_ref in r.path], ["GET", "GET"],
                         "the command, then its tasks: never a second PUT")
        self.assertEqual(len([c for c in self.emulator.store.book.commands if c[1] == update.command_ref]), 1)

    def test_newer_quantity_replaces_an_older_one_not_sent_yet(self):
        self.start_sync()
        self.emulator.faults.add(status=429, count=1, path_prefix="/sale/offer-quantity-change-commands",
                                 retry_after=120)
        self.set_on_hand(self.products[0], 2)
        self.run_stock_send()
        older = self.updates()[-1]
        self.assertEqual((older.quantity, older.state), (2, "pending"))
        self.set_on_hand(self.products[0], 6)
        self.run_stock_send()
        newer = self.updates()[-1]
        self.assertEqual((newer.quantity, newer.state), (6, "done"))
        self.assertEqual((older.state, older.sudo().job_id.state), ("cancelled", "cancelled"))
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(self.emulator.offer(self.mug["id"])["stock"]["available"], 6)
        self.assertEqual([r.status for r in self.command_puts(older)], [429], "the stale 2 never sent")

    def test_allegro_unavailable_leaves_the_command_to_its_update(self):
        self.start_sync()
        self.emulator.faults.add(status=503, count=None, path_prefix="/sale/offer-quantity-change-commands",
                                 retry_after=0)
        self.set_on_hand(self.products[0], 2)
        self.run_stock_send()
        self.assertFalse(self.env["queue.job"].search([("method_name", "=", "_job_send_stock"),
                                                       ("state", "!=", "done")]), "the stock job is done")
        update = self.updates()[-1]
        self.assertEqual((update.quantity, update.state, update.maybe_sent), (2, "pending", True))
        self.emulator.faults.clear()
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual((update.state, self.offer(self.mug).allegro_stock), ("done", 2))

    def test_journal_does_not_undo_a_purchase_not_imported_yet(self):
        self.start_sync()
        # A buyer took 2 on Allegro; the order is not in Odoo yet.
        self.emulator.set_offer_stock(self.mug["id"], 8)
        self.emulator.reset_requests()
        with trap_jobs() as trap:
            self.env["allegro.shop"]._cron_read_offer_events()
            self.perform_trapped(trap)
            self.perform_trapped(trap)
        self.assertEqual(self.offer(self.mug).allegro_stock, 8)
        self.assertFalse(self.commands_sent())

    def test_offers_of_products_without_stock_tracking_are_left_alone(self):
        self.products[4].is_storable = False  # a consumable: Odoo counts no stock of it
        self.start_sync()
        backpack = self.emulator.offer(self.emulator.offers[4]["id"])
        self.assertEqual((backpack["stock"]["available"], backpack["publication"]["status"]), (40, "ACTIVE"))
        self.assertEqual(self.offer(self.emulator.offers[4]).stock_state, "off")
