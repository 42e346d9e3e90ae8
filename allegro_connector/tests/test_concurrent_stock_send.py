from unittest.mock import patch

from odoo.tests import TransactionCase, new_test_user, tagged

from allegro_emulator import AllegroEmulator

from ..models.allegro_update import AllegroUpdate
from .common import CLIENT_ID, CLIENT_SECRET, create_committed_shop, delete_records_created_since

# Removed after the test, in this order.
CREATED_MODELS = [
    "queue.job", "allegro.update", "stock.quant", "allegro.offer", "allegro.shop", "allegro.request.budget", "product.product",
    "product.template", "res.users", "res.partner",
]


@tagged("post_install", "-at_install")
class TestStockMovedDuringASend(TransactionCase):
    """The send job talks to Allegro while a warehouse user moves stock.

    Both run on real transactions of their own, as in production, so the data
    is committed here and removed afterwards.
    """

    def setUp(self):
        super().setUp()
        self.emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=12)
        self.emulator.start(host="127.0.0.1", port=0)
        self.addCleanup(self.emulator.stop)
        self.mug = self.emulator.offers[0]
        with self.registry.cursor() as cr:
            env = self.env(cr=cr, su=True)
            self.max_ids = {model: env[model].with_context(active_test=False).search(
                [], order="id desc", limit=1).id or 0 for model in CREATED_MODELS}
        self.addCleanup(delete_records_created_since, self.registry, self.env, CREATED_MODELS, self.max_ids)
        self.shop_id = create_committed_shop(self.registry, self.env, self.emulator, name="Concurrent stock shop")
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            self.warehouse_uid = new_test_user(env, "concurrent_stock_warehouse", groups="stock.group_stock_user").id
            product = env["product.product"].create({
                "name": self.mug["name"], "default_code": self.mug["external"]["id"], "type": "consu",
                "is_storable": True})
            self.product_id = product.id
            self.location_id = env["stock.warehouse"].search(
                [("company_id", "=", env.company.id)], limit=1).lot_stock_id.id
            env["stock.quant"]._update_available_quantity(product, env["stock.location"].browse(self.location_id), 10)
            shop = env["allegro.shop"].browse(self.shop_id)
            shop.stock_sync = True
            shop.action_read_offers()
        self.assertEqual(self.allegro_stock(), 10)

    def allegro_stock(self):
        return self.emulator.offer(self.mug["id"])["stock"]["available"]

    def move_stock(self, quantity):
        """The warehouse user takes ``quantity`` out, on a transaction of their own, committed."""
        with self.registry.cursor() as cr:
            env = self.env(cr=cr, user=self.warehouse_uid)
            env["stock.quant"]._update_available_quantity(
                env["product.product"].browse(self.product_id), env["stock.location"].browse(self.location_id),
                -quantity)

    def run_send_job(self):
        with self.registry.cursor() as cr:
            self.env(cr=cr)["allegro.shop"].browse(self.shop_id)._job_send_stock()

    def test_stock_moved_while_the_job_talks_to_allegro_is_sent(self):
        self.move_stock(3)  # 7 left: the offer is marked, a send is queued
        put_command = AllegroUpdate._put_command

        def put_command_during_a_move(update, client):
            put_command(update, client)
            self.move_stock(3)  # committed while the job waits for Allegro: 4 left
        with patch.object(AllegroUpdate, "_put_command", put_command_during_a_move):
            try:
                self.run_send_job()
            except Exception as error:  # noqa: BLE001 - queue_job retries a job hit by a concurrent update
                self.assertEqual(getattr(error, "pgcode", None), "40001", error)
        # What queue_job's runner does next: the job again (retried, or the one the move queued).
        self.run_send_job()
        self.assertEqual(self.allegro_stock(), 4)
        with self.registry.cursor() as cr:
            offer = self.env(cr=cr)["allegro.offer"].search(
                [("shop_id", "=", self.shop_id), ("allegro_ref", "=", self.mug["id"])])
            self.assertEqual((offer.allegro_stock, offer.stock_dirty, offer.stock_state), (4, False, "synced"))
            # The send the move undid left no update behind; the one run again is done.
            updates = self.env(cr=cr)["allegro.update"].search([("shop_id", "=", self.shop_id)], order="id")
            self.assertEqual([(p.kind, p.quantity, p.state) for p in updates],
                             [("offer_quantity", 10, "done"), ("offer_quantity", 4, "done")])
