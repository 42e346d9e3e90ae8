import threading

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from allegro_emulator import AllegroEmulator

from .common import CLIENT_ID, CLIENT_SECRET, create_committed_shop


@tagged("post_install", "-at_install")
class TestConcurrentRefunds(TransactionCase):
    """Two people refund the last item of an order at the same moment, on real cursors: the
    second must not see a payment the first is taking as still there. Data is committed here
    (each person has their own transaction) and removed afterwards."""

    def setUp(self):
        super().setUp()
        self.emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        self.emulator.start(host="127.0.0.1", port=0)
        self.addCleanup(self.emulator.stop)
        self.shop_id = create_committed_shop(self.registry, self.env, self.emulator, name="Concurrent refunds")
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            order = env["allegro.order"].create({
                "shop_id": self.shop_id,
                "allegro_ref": "8d2c0f5e-1b7a-4c55-9f0e-6c1d2b3a4f50",
                "payment_ref": "0b9c7a3e-2f61-4d8a-b5e4-9a7c6d5e4f30",
                "paid_amount": 49.99,
                "currency_id": env.ref("base.PLN").id,
                "line_ids": [(0, 0, {"allegro_ref": "1a2b3c4d-0000-4000-8000-000000000001", "offer_ref": "1",
                                     "offer_name": "Kubek", "quantity": 1, "unit_price": 49.99})],
            })
            self.order_id, self.line_id = order.id, order.line_ids.id
        self.addCleanup(self._delete)

    def _delete(self):
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            env["allegro.refund"].search([("order_id", "=", self.order_id)]).unlink()
            env["allegro.order"].browse(self.order_id).unlink()
            env["allegro.shop"].browse(self.shop_id).unlink()

    def _prepare(self, env):
        order = env["allegro.order"].browse(self.order_id)
        return env["allegro.refund"]._prepare(order, {self.line_id: 1}, reason="REFUND")

    def test_the_last_item_is_refunded_once(self):
        prepared, done, results = threading.Event(), threading.Event(), {}

        def first():
            with self.registry.cursor() as cr:
                results["first"] = self._prepare(self.env(cr=cr)).id
                prepared.set()
                done.wait(timeout=30)  # commits only once the other tried

        def second():
            prepared.wait(timeout=30)
            try:
                with self.registry.cursor() as cr:
                    results["second"] = self._prepare(self.env(cr=cr)).id
            except UserError as error:
                results["second"] = str(error)
            finally:
                done.set()

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertIsInstance(results.get("first"), int)
        self.assertIn("being changed by someone else", str(results.get("second")))
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            with self.assertRaisesRegex(UserError, "At most 0"):
                self._prepare(env)
            self.assertEqual(env["allegro.refund"].search_count([("order_id", "=", self.order_id)]), 1)
