from odoo.tests import new_test_user, tagged

from odoo.addons.allegro_connector.models.allegro_importer import ImportStats

from .common import AllegroEmulatorCase
from .test_order_import import PAID, UNPAID, items

FORM_LIST = "/order/checkout-forms"
FORM_READ = "/order/checkout-forms/{id}"


@tagged("post_install", "-at_install")
class TestImportEngine(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_catalogue_products()

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop()
        self.import_orders(self.shop)  # first run: nothing yet, the cursor is set

    def requests(self, route):
        return [r for r in self.emulator.requests if r.route == route]

    def add_orders(self, n):
        return [self.emulator.add_order(**PAID, lineItems=items((i % 5, 1))) for i in range(n)]

    def test_burst_of_new_orders_is_read_with_the_listing(self):
        forms = self.add_orders(120)
        self.emulator.reset_requests()
        summary = self.import_orders(self.shop)
        self.assertEqual((summary["state"], summary["new"]), ("done", 120), summary["message"])
        # One journal page, one listing of its 120 orders: no order read on its own.
        self.assertFalse(self.requests(FORM_READ))
        self.assertLessEqual(summary["api_calls"], 0.1 * len(forms))
        self.assertEqual(len(self.requests(FORM_LIST)), 2, "120 forms, 100 a page")
        for form in (forms[0], forms[77], forms[-1]):
            self.assertTrue(self.allegro_order(self.shop, form["id"]).sale_order_id)
        self.assertEqual(self.shop.order_event_cursor, self.emulator.events[-1]["id"])

    def test_orders_changed_again_later_in_the_journal_page_cost_no_read(self):
        """Bought, then paid further down the same page of events: the listing gives each order as paid,
        newer than its first event announced, which is what the import wants; nothing is read again."""
        forms = [self.emulator.add_order(**UNPAID, lineItems=items((i % 5, 1))) for i in range(60)]
        for form in forms:
            self.emulator.pay_order(form["id"])
        self.emulator.reset_requests()
        summary = self.import_orders(self.shop)
        self.assertEqual((summary["state"], summary["new"]), ("done", 60), summary["message"])
        self.assertFalse(self.requests(FORM_READ))
        for form in (forms[0], forms[-1]):
            self.assertEqual(self.allegro_order(self.shop, form["id"]).payment_status, "paid")

    def test_order_the_listing_misses_is_read_on_its_own(self):
        listed, changed = self.add_orders(2)
        # Changed again on Allegro after its event, the next event not in the journal yet.
        self.emulator.store.orders[changed["id"]]["updatedAt"] = "2099-01-01T00:00:00.000Z"
        self.emulator.reset_requests()
        summary = self.import_orders(self.shop)
        self.assertEqual((summary["state"], summary["new"]), ("done", 2), summary["message"])
        self.assertEqual([r.path for r in self.requests(FORM_READ)], [FORM_LIST + "/" + changed["id"]])
        self.assertTrue(self.allegro_order(self.shop, listed["id"]).sale_order_id)
        self.assertTrue(self.allegro_order(self.shop, changed["id"]).sale_order_id)

    def test_order_the_listing_shows_older_than_its_event_is_read_before_the_cursor_moves(self):
        form = self.add_orders(1)[0]
        self.import_orders(self.shop)
        # The buyer changes the address; Allegro's listing still shows the order as before.
        self.emulator.lag_listing(form["id"])
        changed = self.emulator.edit_delivery_address(form["id"], city="Gdańsk")
        self.emulator.reset_requests()
        seller = new_test_user(self.env, "journal-seller", groups="allegro_connector.group_allegro_user")
        self.shop.with_user(seller).action_fetch_orders()
        self.env.invalidate_all()
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual((order.revision, order.delivery_city), (changed["revision"], "Gdańsk"))
        self.assertEqual([r.path for r in self.requests(FORM_READ)], [FORM_LIST + "/" + form["id"]])
        self.assertEqual(self.shop.order_event_cursor, self.emulator.events[-1]["id"])

    def test_failure_late_in_a_journal_page_keeps_the_committed_slices(self):
        forms = self.add_orders(110)
        late = forms[105]  # in the third slice of 50 orders
        self.emulator.store.orders[late["id"]]["updatedAt"] = "2099-01-01T00:00:00.000Z"
        self.emulator.faults.add(status=503, count=None, path_prefix=FORM_LIST + "/" + late["id"], retry_after=0)
        summary = self.import_orders(self.shop)
        self.assertEqual(summary["state"], "failed")
        orders = self.env["allegro.order"].search([("shop_id", "=", self.shop.id)])
        self.assertEqual(len(orders), 100, "the first two slices are kept")
        self.assertTrue(all(orders.mapped("sale_order_id")))
        self.assertFalse(self.allegro_order(self.shop, forms[100]["id"]), "the failed slice is dropped whole")
        # The cursor stands at the last event of what was committed.
        last_event_of = {e["order"]["checkoutForm"]["id"]: e["id"] for e in self.emulator.events}
        self.assertEqual(self.shop.order_event_cursor, last_event_of[forms[99]["id"]])
        # Allegro is back: the next run reads only the rest.
        self.emulator.faults.clear()
        self.emulator.reset_requests()
        summary = self.import_orders(self.shop)
        self.assertEqual((summary["state"], summary["new"], summary["updated"]), ("done", 10, 0), summary["message"])
        self.assertEqual(self.shop.order_event_cursor, self.emulator.events[-1]["id"])
        self.assertEqual(self.env["allegro.order"].search_count([("shop_id", "=", self.shop.id)]), 110)

    def test_lookup_made_in_a_rolled_back_batch_is_not_reused(self):
        # Two orders in a currency with no pricelist yet: the first makes one,
        # the second finds it; a broken third order rolls the batch back.
        first = self.emulator.add_order(**PAID, marketplace={"id": "allegro-cz"}, lineItems=items((1, 1)))
        second = self.emulator.add_order(**PAID, marketplace={"id": "allegro-cz"}, lineItems=items((2, 1)))
        bad = self.emulator.add_order(**PAID, lineItems=items((3, 1)))
        self.emulator.store.orders[bad["id"]]["buyer"]["id"] = None
        summary = self.import_orders(self.shop)
        self.assertEqual((summary["new"], summary["failed"]), (2, 1), summary["message"])
        for form in (first, second):
            sale = self.allegro_order(self.shop, form["id"]).sale_order_id
            self.assertEqual(sale.pricelist_id.currency_id.name, "CZK")
        self.assertEqual(self.allegro_order(self.shop, bad["id"]).sync_state, "error")

    def test_form_listed_twice_in_one_batch_is_imported_once(self):
        form = self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        stats = ImportStats("events")
        listed = self.emulator.get_order(form["id"])
        self.env["allegro.importer"]._import_forms(self.shop, [listed, dict(listed)], stats)
        self.assertEqual((stats.new, stats.failed), (1, 0), stats.messages)
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual(order.sync_state, "done")
        self.assertEqual(len(self.env["sale.order"].search([("allegro_order_id", "=", order.id)])), 1)

    def test_a_long_first_import_goes_on_in_parts_without_redoing_work(self):
        forms = self.add_orders(110)
        shop = self.create_connected_shop(name="Second shop")
        # A run stops at its first commit once its time is up (here at once).
        summary = shop.env["allegro.importer"]._run_import(shop, slice_seconds=1e-6)
        self.env.invalidate_all()
        self.assertEqual((summary["state"], summary["new"]), ("continues", 50), summary["message"])
        self.assertFalse(shop.initial_import_done)
        self.assertTrue(shop.initial_import_mark)
        run = shop.import_run_ids[:1]
        self.assertEqual(run.state, "continues")
        self.assertIn("goes on in the background", run.message)
        job = self.env["queue.job"].sudo().search(
            [("identity_key", "=", "allegro.import:fetch:%d" % shop.id), ("state", "=", "pending")])
        self.assertEqual(len(job), 1, "the rest is queued at once")
        self.emulator.reset_requests()
        self.run_jobs("root.allegro.import")
        self.env.invalidate_all()
        self.assertTrue(shop.initial_import_done)
        self.assertFalse(shop.initial_import_mark)
        orders = self.env["allegro.order"].search([("shop_id", "=", shop.id)])
        self.assertEqual(sorted(orders.mapped("allegro_ref")), sorted(f["id"] for f in forms))
        self.assertEqual(len(orders.sale_order_id), 110, "each order once")
        second = shop.import_run_ids[:1]
        # Listed again from the last committed order (less a margin), not from the start.
        self.assertEqual(second.orders_new, 60)
        self.assertLess(second.orders_unchanged, 60)
        self.assertEqual(shop.order_event_cursor, self.emulator.events[-1]["id"],
                         "the journal cursor taken by the first part")

    def test_a_long_journal_run_goes_on_from_its_last_committed_slice(self):
        self.add_orders(110)
        summary = self.shop.env["allegro.importer"]._run_import(self.shop, slice_seconds=1e-6)
        self.env.invalidate_all()
        self.assertEqual((summary["state"], summary["new"]), ("continues", 50), summary["message"])
        cursor = self.shop.order_event_cursor
        self.assertLess(int(cursor), int(self.emulator.events[-1]["id"]))
        self.run_jobs("root.allegro.import")
        self.env.invalidate_all()
        self.assertEqual(self.shop.order_event_cursor, self.emulator.events[-1]["id"])
        self.assertEqual(self.env["allegro.order"].search_count([("shop_id", "=", self.shop.id)]), 110)

    def test_an_order_changed_while_the_sweep_lists_is_not_skipped(self):
        forms = self.add_orders(150)  # two pages of the listing
        # The journal lost their events: only the sweep can find them.
        self.shop.sudo().order_event_cursor = self.emulator.events[-1]["id"]
        listing = sorted(self.emulator.orders, key=lambda form: form["updatedAt"])
        # While the sweep reads its first page, the buyer edits an order of that page.
        self.emulator.change_during_listing(
            lambda: self.emulator.edit_delivery_address(listing[0]["id"], city="Gdańsk"))
        summary = self.import_orders(self.shop, sweep=True)
        self.assertEqual((summary["state"], summary["new"]), ("done", 150), summary["message"])
        orders = self.env["allegro.order"].search([("shop_id", "=", self.shop.id)])
        self.assertEqual(sorted(orders.mapped("allegro_ref")), sorted(form["id"] for form in forms))
        revisions = {form["id"]: form["revision"] for form in self.emulator.orders}
        self.assertEqual({order.allegro_ref: order.revision for order in orders}, revisions,
                         "every order as Allegro holds it now")
        self.assertEqual(self.allegro_order(self.shop, listing[0]["id"]).delivery_city, "Gdańsk")

    def test_a_long_sweep_goes_on_where_it_stopped(self):
        forms = self.add_orders(120)
        self.shop.sudo().order_event_cursor = self.emulator.events[-1]["id"]
        summary = self.shop.env["allegro.importer"]._run_import(self.shop, sweep=True, slice_seconds=1e-6)
        self.env.invalidate_all()
        self.assertEqual((summary["state"], summary["new"]), ("continues", 50), summary["message"])
        mark = self.shop.sweep_mark
        self.assertTrue(mark, "where the sweep stopped is kept on the shop")
        job = self.env["queue.job"].sudo().search(
            [("identity_key", "=", "allegro.import:sweep:%d" % self.shop.id), ("state", "=", "pending")])
        self.assertEqual(len(job), 1, "the rest is queued at once")
        self.emulator.reset_requests()
        self.run_jobs("root.allegro.import")
        self.env.invalidate_all()
        # The next part lists from where the first stopped, not from the start.
        first_listing = self.requests(FORM_LIST)[0]
        self.assertEqual(first_listing.query["updatedAt.gte"], mark.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        orders = self.env["allegro.order"].search([("shop_id", "=", self.shop.id)])
        self.assertEqual(sorted(orders.mapped("allegro_ref")), sorted(form["id"] for form in forms))
        self.assertEqual(len(orders.sale_order_id), 120, "each order once")
        self.assertFalse(self.shop.sweep_mark)
        self.assertEqual(self.shop.import_run_ids[:1].orders_new, 70)
