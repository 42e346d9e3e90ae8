from ast import literal_eval

from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestShop(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Shop = cls.env["allegro.shop"]
        cls.manager = new_test_user(
            cls.env, "allegro_manager", groups="allegro_connector.group_allegro_manager"
        )
        cls.user = new_test_user(
            cls.env, "allegro_user", groups="allegro_connector.group_allegro_user"
        )

    def test_environment_fills_urls(self):
        shop = self.Shop.create({"name": "PL shop"})
        self.assertEqual(shop.environment, "production")
        self.assertEqual(shop.api_url, "https://api.allegro.pl")
        self.assertEqual(shop.auth_url, "https://allegro.pl/auth/oauth")
        shop.environment = "sandbox"
        self.assertEqual(shop.api_url, "https://api.allegro.pl.allegrosandbox.pl")
        self.assertEqual(shop.auth_url, "https://allegro.pl.allegrosandbox.pl/auth/oauth")
        shop.write({"environment": "custom", "api_url": "http://127.0.0.1:8070"})
        self.assertEqual(shop.api_url, "http://127.0.0.1:8070")
        with self.assertRaises(UserError):
            shop.auth_url = "ftp://example"

    def test_new_shop_is_not_connected_and_has_marketplace_currency(self):
        shop = self.Shop.create({"name": "CZ shop", "marketplace": "allegro-cz"})
        self.assertEqual(shop.state, "not_connected")
        self.assertEqual(shop.currency_id.name, "CZK")
        self.assertEqual(len(shop.sudo().token_ids), 1)
        self.assertFalse(shop.access_token)

    def test_copy_keeps_no_secret(self):
        shop = self.Shop.create(
            {"name": "Main", "client_key": "cid", "client_secret": "csecret"}
        )
        shop.sudo().token_ids.write({"access_token": "at", "refresh_token": "rt"})
        shop.state = "connected"
        copy = shop.copy({"name": "Main (copy)"})
        self.assertFalse(copy.client_key)
        self.assertFalse(copy.client_secret)
        self.assertFalse(copy.access_token)
        self.assertFalse(copy.refresh_token)
        self.assertEqual(copy.state, "not_connected")

    def test_secrets_are_for_system_admins_only(self):
        shop = self.Shop.create({"name": "Secret", "client_secret": "csecret"})
        shop.sudo().token_ids.write({"access_token": "at", "refresh_token": "rt"})
        for user in (self.user, self.manager):
            as_user = shop.with_user(user)
            self.assertEqual(as_user.name, "Secret")
            for field in ("client_key", "client_secret", "access_token", "refresh_token"):
                with self.assertRaises(AccessError, msg=f"{user.login} read {field}"):
                    as_user.read([field])
            with self.assertRaises(AccessError):
                self.env["allegro.shop.token"].with_user(user).search([])
        self.assertEqual(shop.with_user(self.env.ref("base.user_admin")).access_token, "at")

    def test_groups_rights(self):
        with self.assertRaises(AccessError):
            self.Shop.with_user(self.user).create({"name": "By a user"})
        shop = self.Shop.with_user(self.manager).create({"name": "By a manager"})
        shop.with_user(self.manager).marketplace = "allegro-hu"
        self.assertEqual(shop.currency_id.name, "HUF")
        with self.assertRaises(AccessError):
            shop.with_user(self.user).name = "Renamed"

    def test_shop_of_another_company_is_invisible(self):
        other = self.env["res.company"].create({"name": "Other company"})
        theirs = self.Shop.create({"name": "Theirs", "company_id": other.id})
        ours = self.Shop.create({"name": "Ours"})
        visible = self.Shop.with_user(self.manager).search([("name", "in", ["Theirs", "Ours"])])
        self.assertEqual(visible, ours)
        self.assertNotIn(theirs, visible)

    def test_menus_under_sales(self):
        root = self.env.ref("allegro_connector.menu_allegro_root")
        self.assertEqual(root.parent_id, self.env.ref("sale.sale_menu_root"))
        self.assertEqual(
            root.child_id.mapped("name"),
            ["Orders", "Messages", "Issues", "Sale orders", "Offers", "Returns", "Refunds", "Commission claims",
             "Sales after fees", "Updates to Allegro", "Shops"],
        )
        money = self.env.ref("allegro_connector.menu_allegro_money")
        self.assertEqual(money.parent_id, self.env.ref("account.menu_finance"))
        self.assertNotIn(money.id, self.env["ir.ui.menu"].with_user(self.user)._visible_menu_ids(),
                         "the books are for accountants")
        config = self.env.ref("allegro_connector.menu_allegro_config")
        self.assertEqual(config.parent_id, self.env.ref("sale.menu_sale_config"))
        user_menus = self.env["ir.ui.menu"].with_user(self.user)._visible_menu_ids()
        self.assertIn(root.id, user_menus)
        self.assertNotIn(config.id, user_menus)
        self.assertIn(config.id, self.env["ir.ui.menu"].with_user(self.manager)._visible_menu_ids())

    def test_orders_menu_lists_only_allegro_sale_orders(self):
        shop = self.Shop.create({"name": "Orders shop"})
        partner = self.env["res.partner"].create({"name": "Buyer"})
        allegro_order = self.env["sale.order"].create(
            {"partner_id": partner.id, "allegro_shop_id": shop.id}
        )
        other_order = self.env["sale.order"].create({"partner_id": partner.id})
        action = self.env.ref("allegro_connector.action_allegro_sale_orders")
        found = self.env["sale.order"].search(literal_eval(action.domain))
        self.assertIn(allegro_order, found)
        self.assertNotIn(other_order, found)
