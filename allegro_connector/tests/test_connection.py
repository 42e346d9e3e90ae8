import logging
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..allegro_api import AllegroOAuth, InvalidGrant
from .common import AllegroEmulatorCase


@tagged("post_install", "-at_install")
class TestDeviceFlow(AllegroEmulatorCase):
    def _pending_triggers(self):
        cron = self.env.ref("allegro_connector.ir_cron_collect_device_tokens")
        return self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])

    def test_connect_shows_code_and_button_collects_tokens(self):
        shop = self.create_shop()
        triggers_before = self._pending_triggers()
        shop.action_connect()
        self.assertEqual(shop.state, "pending")
        self.assertTrue(shop.device_user_code)
        self.assertTrue(shop.device_verification_url.startswith(self.emulator.url))
        self.assertIn(shop.device_user_code, shop.device_verification_url)
        self.assertGreater(shop.device_expires_at, fields.Datetime.now())
        # The cron is woken up to collect the token: no waiting loop anywhere.
        self.assertGreater(len(self._pending_triggers()), len(triggers_before))

        result = shop.action_check_authorization()
        self.assertEqual(result["params"]["type"], "warning")
        self.assertEqual(shop.state, "pending")

        self.emulator.approve_device(shop.device_user_code)
        result = shop.action_check_authorization()
        self.assertEqual(result["params"]["type"], "success", result["params"]["message"])
        self.assertEqual(shop.state, "connected")
        self.assertEqual(shop.seller_login, "test-seller")
        self.assertTrue(shop.seller_ref)
        self.assertFalse(shop.device_user_code)
        token = self.token_of(shop)
        self.assertTrue(token.access_token and token.refresh_token)
        self.assertFalse(token.device_code)
        self.assertGreater(token.expires_at, fields.Datetime.now() + timedelta(hours=11))
        me_calls = self.emulator_calls("/me")
        self.assertEqual(len(me_calls), 1)
        self.assertEqual(me_calls[0].headers.get("Authorization"), "Bearer " + token.access_token)

    def test_cron_collects_tokens_once_confirmed(self):
        shop = self.create_shop()
        shop.action_connect()
        self.env["allegro.shop"]._cron_collect_device_tokens()
        self.assertEqual(shop.state, "pending", "not confirmed yet")
        self.emulator.approve_device(shop.device_user_code)
        self.env["allegro.shop"]._cron_collect_device_tokens()
        self.assertEqual(shop.state, "connected")
        self.assertEqual(shop.seller_login, "test-seller")

    def test_denied_authorization_is_shown_on_the_shop(self):
        shop = self.create_shop()
        shop.action_connect()
        self.emulator.deny_device(shop.device_user_code)
        result = shop.action_check_authorization()
        self.assertEqual(shop.state, "error")
        self.assertIn("refused", shop.last_error)
        self.assertEqual(result["params"]["type"], "danger")

    def test_expired_code_asks_to_connect_again(self):
        shop = self.create_shop()
        shop.action_connect()
        shop.device_expires_at = fields.Datetime.now() - timedelta(seconds=1)
        shop.action_check_authorization()
        self.assertEqual(shop.state, "error")
        self.assertIn("expired", shop.last_error)

    def test_wrong_client_secret(self):
        shop = self.create_shop(client_secret="not-the-secret")
        result = shop.action_connect()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertEqual(shop.state, "error")
        self.assertTrue(shop.last_error)
        self.assertNotIn("not-the-secret", shop.last_error)

    def test_missing_credentials(self):
        shop = self.create_shop(client_key=False)
        with self.assertRaisesRegex(Exception, "Client ID"):
            shop.action_connect()


@tagged("post_install", "-at_install")
class TestTokens(AllegroEmulatorCase):
    def test_test_connection_reads_the_seller(self):
        shop = self.create_connected_shop()
        result = shop.action_test_connection()
        self.assertEqual(result["params"]["type"], "success")
        self.assertEqual(shop.seller_login, "test-seller")
        self.assertEqual(self.refreshes(), 0)

    def test_token_about_to_expire_is_refreshed_and_rotated(self):
        shop = self.create_connected_shop(expires_in=60)
        old = self.token_of(shop).read(["access_token", "refresh_token"])[0]
        self.assertTrue(shop._check_connection(), shop.last_error)
        self.assertEqual(self.refreshes(), 1)
        new = self.token_of(shop)
        self.assertNotEqual(new.access_token, old["access_token"])
        self.assertNotEqual(new.refresh_token, old["refresh_token"])
        self.assertGreater(new.expires_at, fields.Datetime.now() + timedelta(hours=11))
        # Allegro rotated the refresh token: the old one is dead, so losing
        # the new one would disconnect the shop.
        oauth = AllegroOAuth(shop.auth_url, shop.client_key, shop.client_secret, timeout=30)
        with self.assertRaises(InvalidGrant):
            oauth.refresh(old["refresh_token"])

    def test_rejected_token_is_refreshed_once_on_401(self):
        shop = self.create_connected_shop(expires_in=3600)
        self.emulator.expire_access_tokens()
        self.assertTrue(shop._check_connection(), shop.last_error)
        self.assertEqual(self.refreshes(), 1)
        self.assertEqual(shop.state, "connected")

    def test_revoked_connection_asks_to_connect_again(self):
        shop = self.create_connected_shop(expires_in=60)
        self.emulator.revoke_refresh_tokens()
        result = shop.action_test_connection()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertEqual(shop.state, "error")
        self.assertIn("Connect", shop.last_error)

    def test_outage_is_reported_on_the_shop(self):
        shop = self.create_connected_shop()
        self.emulator.faults.add(status=503, count=10, path_prefix="/me", retry_after=0)
        result = shop.action_test_connection()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertEqual(shop.state, "connected", "Allegro down says nothing about the connection")
        self.assertIn("503", shop.last_error)
        self.emulator.faults.clear()
        shop.action_test_connection()
        self.assertEqual(shop.state, "connected")
        self.assertFalse(shop.last_error)

    def test_keepalive_cron_refreshes_only_tokens_expiring_soon(self):
        soon = self.create_connected_shop(name="Soon", expires_in=1800)
        later = self.create_connected_shop(name="Later", expires_in=5 * 3600)
        later_token = self.token_of(later).access_token
        self.env["allegro.shop"]._cron_refresh_tokens()
        self.assertEqual(self.refreshes(), 1)
        self.assertGreater(self.token_of(soon).expires_at, fields.Datetime.now() + timedelta(hours=11))
        self.assertEqual(self.token_of(later).access_token, later_token)

    def test_disconnect_forgets_tokens(self):
        shop = self.create_connected_shop()
        shop.action_disconnect()
        self.assertEqual(shop.state, "not_connected")
        token = self.token_of(shop)
        self.assertFalse(token.access_token or token.refresh_token)

    def test_secrets_never_reach_the_log(self):
        records = []
        handler = logging.Handler(level=logging.DEBUG)
        handler.emit = records.append
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            shop = self.create_shop()
            shop.action_connect()
            self.emulator.approve_device(shop.device_user_code)
            shop.action_check_authorization()
            self.emulator.expire_access_tokens()
            shop._check_connection()
            self.emulator.faults.add(status=500, count=1, path_prefix="/me", retry_after=0)
            shop._check_connection()
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
        token = self.token_of(shop)
        secrets = [token.access_token, token.refresh_token, shop.client_secret]
        self.assertTrue(all(secrets))
        self.assertTrue(records, "the connector logs its requests")
        text = "\n".join(handler.format(r) for r in records)
        for secret in secrets:
            self.assertNotIn(secret, text)
