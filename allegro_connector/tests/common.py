"""Test base for the addon: a real Allegro emulator over HTTP on 127.0.0.1.

The emulator lives in the repository's tests/ directory (not shipped with the
addon); the test command puts it on the Python path.
"""
from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase

from allegro_emulator import AllegroEmulator

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"


class AllegroEmulatorCase(TransactionCase):
    """One emulator per test class; shops talk to it through their real client.

    The registry is put in test mode so that the cursors the connector opens
    for token updates share the test transaction (and roll back with it).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = AllegroEmulator(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seller_login="test-seller"
        )
        cls.emulator.start(host="127.0.0.1", port=0)
        cls.addClassCleanup(cls.emulator.stop)

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()
        self.emulator.faults.clear()
        self.emulator.reset_requests()
        self._refreshes_before = self.emulator.refresh_count

    @classmethod
    def shop_values(cls, **values):
        return {
            "name": "Emulated shop",
            "environment": "custom",
            "api_url": cls.emulator.url,
            "auth_url": cls.emulator.url + "/auth/oauth",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **values,
        }

    def create_shop(self, **values):
        return self.env["allegro.shop"].create(self.shop_values(**values))

    def create_connected_shop(self, expires_in=3600, **values):
        """A shop holding a token pair issued by the emulator."""
        shop = self.create_shop(**values)
        tokens = self.emulator.issue_tokens()
        shop.sudo().token_ids.write(
            {
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "expires_at": fields.Datetime.now() + timedelta(seconds=expires_in),
            }
        )
        shop.state = "connected"
        return shop

    def refreshes(self):
        """Token refreshes Allegro (the emulator) granted during this test."""
        return self.emulator.refresh_count - self._refreshes_before

    def token_of(self, shop):
        self.env.invalidate_all()
        return shop.sudo().token_ids

    def emulator_calls(self, path):
        return [r for r in self.emulator.requests if r.path == path]
