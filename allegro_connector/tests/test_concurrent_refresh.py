import threading
from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, tagged

from allegro_emulator import AllegroEmulator

from ..allegro_api import AllegroClient
from .common import CLIENT_ID, CLIENT_SECRET, create_committed_shop


@tagged("post_install", "-at_install")
class TestConcurrentRefresh(TransactionCase):
    """Two workers with expired tokens at the same moment, on real cursors.

    Allegro's refresh tokens are single-use: if both workers spent the same
    one, the second would get invalid_grant and the shop would be cut off.
    Data is committed here (each worker has its own transaction) and removed
    afterwards.
    """

    def setUp(self):
        super().setUp()
        self.emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        self.emulator.start(host="127.0.0.1", port=0)
        self.addCleanup(self.emulator.stop)
        self.shop_id = create_committed_shop(
            self.registry, self.env, self.emulator, expires_in=30, name="Concurrent shop"
        )
        self.addCleanup(self._delete_shop)

    def _delete_shop(self):
        with self.registry.cursor() as cr:
            self.env(cr=cr)["allegro.shop"].browse(self.shop_id).unlink()

    def _worker(self, barrier, results):
        with self.registry.cursor() as cr:
            shop = self.env(cr=cr)["allegro.shop"].browse(self.shop_id)
            barrier.wait(timeout=10)
            try:
                provider = shop.env["allegro.shop.token"]._allegro_token_provider(shop)
                token = provider()
                AllegroClient(shop.api_url, provider, timeout=30).get_me()
                results.append(token)
            except Exception as error:  # reported by the assertion below
                results.append(error)

    def test_two_workers_refresh_once(self):
        barrier = threading.Barrier(2)
        results = []
        # Slow the token endpoint so that both workers overlap for sure.
        self.emulator.faults.delay(0.5, count=1, path_prefix="/auth/oauth/token")
        threads = [
            threading.Thread(target=self._worker, args=(barrier, results)) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(len(results), 2)
        for result in results:
            self.assertIsInstance(result, str, result)
        self.assertEqual(results[0], results[1], "both workers use the one new token")
        self.assertEqual(self.emulator.refresh_count, 1)
        with self.registry.cursor() as cr:
            token = self.env(cr=cr)["allegro.shop"].browse(self.shop_id).sudo().token_ids
            self.assertEqual(token.access_token, results[0])
            self.assertGreater(token.expires_at, fields.Datetime.now() + timedelta(hours=11))
