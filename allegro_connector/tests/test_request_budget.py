import threading

from odoo.tests import TransactionCase, new_test_user, tagged

from ..allegro_api.errors import AllegroRateLimited
from ..models.allegro_request_budget import RATE_PARAMETER, RequestBudget, application_key
from .common import AllegroEmulatorCase
from .test_order_import import PAID, items

# Allegro's limit per client id, scaled down for a test: 20 requests in any 2 s.
ALLEGRO_LIMIT, WINDOW = 20, 2
# The connector's budget below it: 3 requests a second with a burst of 11,
# at most 17 in any 2 s.
BUDGET_PER_MINUTE = 180


@tagged("post_install", "-at_install")
class TestRequestBudget(AllegroEmulatorCase):
    """Every shop of one Allegro application draws on one request budget:
    when it is spent, work waits instead of collecting 429s."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_stocked_catalogue(50)

    def setUp(self):
        super().setUp()
        self.shops = self.create_connected_shop(name="Shop A") | self.create_connected_shop(name="Shop B")
        self.emulator.faults.limit_rate(ALLEGRO_LIMIT, WINDOW)

    def budget(self, per_minute):
        self.env["ir.config_parameter"].sudo().set_param(RATE_PARAMETER, str(per_minute))

    def a_busy_minute(self):
        """Both shops import the same account's 12 paid orders and set them
        PROCESSING: about 30 requests, more than Allegro takes in 2 s."""
        forms = [self.emulator.add_order(**PAID, lineItems=items((n % 5, 1))) for n in range(12)]
        self.shops[1].confirm_policy = "never"
        for shop in self.shops:
            self.import_orders(shop)
        self.send_updates()
        updates = self.env["allegro.update"].search([("shop_id", "in", self.shops.ids)])
        self.assertEqual(len(updates), 12)
        return forms, updates, [r for r in self.emulator.requests if r.status == 429]

    def test_work_of_two_shops_gets_done_under_a_tight_budget(self):
        self.budget(BUDGET_PER_MINUTE)
        forms, updates, refused = self.a_busy_minute()
        self.assertEqual(set(updates.mapped("state")), {"done"}, updates.mapped("last_error"))
        for form in forms:
            self.assertEqual(self.emulator.get_order(form["id"])["fulfillment"]["status"], "PROCESSING")
        self.assertEqual(refused, [], "no request went over Allegro's limit")
        self.assertEqual(self.emulator.faults.rate_limited, 0)
        keys = {application_key(shop.sudo().api_url, shop.sudo().client_key) for shop in self.shops}
        self.assertEqual(len(keys), 1, "one application, one budget")
        other = application_key(self.shops[0].sudo().api_url, "another-application")
        self.assertNotIn(other, keys)

    def test_two_shops_reading_at_once_stay_under_allegros_limit(self):
        def read_at_once():
            """30 reads by two shops, interleaved; the 429s they met."""
            clients = [shop._allegro_client() for shop in self.shops]
            for client in clients:
                client._transport.max_retries = 0  # a 429 is counted, not waited out
            refused = 0
            for _n in range(15):
                for client in clients:
                    try:
                        client.get_order_event_stats()
                    except AllegroRateLimited:
                        refused += 1
            return refused

        # Set above Allegro's limit, the budget lets the reads meet 429s...
        self.budget(100000)
        self.assertGreater(read_at_once(), 0)
        # ... below it, the same reads wait their turn and meet none.
        self.emulator.faults.limit_rate(ALLEGRO_LIMIT, WINDOW)
        self.budget(BUDGET_PER_MINUTE)
        self.assertEqual(read_at_once(), 0)
        self.assertEqual(self.emulator.faults.rate_limited, 0)

    def test_each_request_costs_one_from_the_budget(self):
        """Requests take from the budget what they send, no more: a worker
        never holds back requests the others could have sent."""
        self.budget(BUDGET_PER_MINUTE)
        seller = new_test_user(self.env, "budget-seller", groups="allegro_connector.group_allegro_user")
        client = self.shops[0].with_user(seller)._allegro_client()
        client.get_order_event_stats()
        shop = self.shops[0].sudo()
        budget = self.env["allegro.request.budget"].search(
            [("application_key", "=", application_key(shop.api_url, shop.client_key))])
        # Half full: the refill below is counted, never cut by the burst.
        budget.write({"tokens": 5.0})
        self.env.flush_all()
        before = budget.read(["tokens", "refilled_at"])[0]
        for _n in range(4):
            client.get_order_event_stats()
        budget.invalidate_recordset()
        refilled = (budget.refilled_at - before["refilled_at"]) * BUDGET_PER_MINUTE / 60.0
        self.assertAlmostEqual(before["tokens"] + refilled - budget.tokens, 4.0, places=6)


@tagged("post_install", "-at_install")
class TestBudgetRowLocked(TransactionCase):
    """Workers take from the budget on real transactions of their own."""

    KEY = "budget-row-locked-test"

    def setUp(self):
        super().setUp()
        self.addCleanup(self._delete_budget)
        with self.registry.cursor() as cr:
            self.env(cr=cr)["allegro.request.budget"].create(
                {"application_key": self.KEY, "tokens": 500.0, "refilled_at": 0.0})

    def _delete_budget(self):
        with self.registry.cursor() as cr:
            self.env(cr=cr)["allegro.request.budget"].search([("application_key", "=", self.KEY)]).unlink()

    def test_a_request_waits_for_a_budget_row_another_worker_holds(self):
        locked, release = threading.Event(), threading.Event()

        def hold_the_row():
            with self.registry.cursor() as cr:
                self.env(cr=cr)["allegro.request.budget"].search(
                    [("application_key", "=", self.KEY)]).lock_for_update()
                locked.set()
                release.wait(timeout=1.0)  # another worker's transaction, longer than usual

        holder = threading.Thread(target=hold_the_row)
        holder.start()
        locked.wait(timeout=10)
        try:
            with self.registry.cursor() as cr:
                RequestBudget(self.env(cr=cr), self.KEY)()
        finally:
            release.set()
            holder.join(timeout=10)
        with self.registry.cursor() as cr:
            budget = self.env(cr=cr)["allegro.request.budget"].search([("application_key", "=", self.KEY)])
            # Full (500 at 8,000 a minute) less the one request.
            self.assertAlmostEqual(budget.tokens, 499.0, places=6, msg="the request was counted once")
