import threading
from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, tagged

from allegro_emulator import AllegroEmulator

from .common import CLIENT_ID, CLIENT_SECRET, create_committed_shop, delete_records_created_since

# Models whose records the imports create, cleaned up after the test.
CREATED_MODELS = [
    "allegro.import.run", "sale.order", "allegro.order", "allegro.offer", "allegro.delivery.method",
    "res.partner", "product.pricelist", "account.tax", "allegro.shop", "product.product",
]


@tagged("post_install", "-at_install")
class TestConcurrentImport(TransactionCase):
    """A cron worker and a button press import the same shop at once.

    Each runs on its own real transaction, as in production, so the data is
    committed here and removed afterwards.
    """

    def setUp(self):
        super().setUp()
        self.emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=11)
        self.emulator.start(host="127.0.0.1", port=0)
        self.addCleanup(self.emulator.stop)
        self.emulator.seed_orders(30, days=5)
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            self.max_ids = {model: env[model].sudo().with_context(active_test=False).search(
                [], order="id desc", limit=1).id or 0 for model in CREATED_MODELS}
            placeholder_id = env["product.product"].create({"name": "Allegro item", "type": "consu"}).id
        self.addCleanup(self._delete_created_records)
        self.shop_id = create_committed_shop(
            self.registry, self.env, self.emulator,
            name="Concurrent import shop",
            confirm_policy="never",
            unmanaged_policy="placeholder",
            placeholder_product_id=placeholder_id,
            import_start_date=fields.Datetime.now() - timedelta(days=10),
        )

    def _delete_created_records(self):
        delete_records_created_since(self.registry, self.env, CREATED_MODELS, self.max_ids)

    def _import(self, barrier, summaries):
        with self.registry.cursor() as cr:
            shop = self.env(cr=cr)["allegro.shop"].browse(self.shop_id)
            barrier.wait(timeout=10)
            try:
                summaries.append(shop.env["allegro.importer"]._run_import(shop))
            except Exception as error:  # reported by the assertion below
                summaries.append({"state": repr(error)})

    def test_two_imports_at_once_never_duplicate_an_order(self):
        # All seeded orders are within the import window; BOUGHT and
        # CANCELLED ones get no sale order.
        expected = [o for o in self.emulator.orders if o["status"] in ("FILLED_IN", "READY_FOR_PROCESSING")]
        # A slow Allegro listing keeps the first import busy while the second starts.
        self.emulator.faults.delay(1.0, count=1, path_prefix="/order/checkout-forms")
        barrier = threading.Barrier(2)
        summaries = []
        threads = [threading.Thread(target=self._import, args=(barrier, summaries)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        states = sorted(s["state"] for s in summaries)
        self.assertEqual(states, ["done", "skipped"], summaries)
        skipped = next(s for s in summaries if s["state"] == "skipped")
        self.assertIn("Another import", skipped["message"])
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            orders = env["allegro.order"].search([("shop_id", "=", self.shop_id)])
            self.assertEqual(len(orders), len(set(orders.mapped("allegro_ref"))))
            self.assertEqual(len(orders), len(self.emulator.orders))
            sales = env["sale.order"].search([("allegro_shop_id", "=", self.shop_id)])
            self.assertEqual(len(sales), len(expected))
            self.assertEqual(len(sales.allegro_order_id), len(sales), "one sale order per Allegro order")
            # The import that ran afterwards finds nothing left to do.
            summary = env["allegro.importer"]._run_import(env["allegro.shop"].browse(self.shop_id))
            self.assertEqual((summary["state"], summary["new"]), ("done", 0))
