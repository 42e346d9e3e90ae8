"""A Polish seller gets Polish: the e-mail on new orders, chatter notes,
statuses in the words Polish sellers use."""
from odoo.tests import new_test_user, tagged

from .common import AllegroEmulatorCase
from .test_order_import import PAID, items


@tagged("post_install", "-at_install")
class TestPolish(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_catalogue_products()
        cls.env["res.lang"]._activate_lang("pl_PL")
        cls.env["ir.module.module"]._load_module_terms(["allegro_connector"], ["pl_PL"])
        cls.env.company.partner_id.lang = "pl_PL"

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop(notify_email="sprzedawca@example.com")

    def test_seller_email_in_the_company_language_not_the_buyer_one(self):
        form = self.emulator.add_order(**PAID, lineItems=items((0, 1)), buyer={"email": "kupujacy@example.com"})
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual(order.partner_id.lang, "en_US")  # the buyer's language does not choose it
        mail = self.env["mail.mail"].search([("model", "=", "allegro.order"), ("res_id", "=", order.id)])
        self.assertEqual(mail.subject, "Nowe zamówienie Allegro od %s (%s)" % (form["buyer"]["login"], self.shop.name))
        self.assertIn("Nowe zamówienie w sklepie", mail.body_html)
        self.assertIn("Płatność: Opłacone.", mail.body_html)

    def test_statuses_and_notes_in_sellers_words(self):
        seller = new_test_user(self.env, "sprzedawca", lang="pl_PL",
                               groups="base.group_user,allegro_connector.group_allegro_user")
        form = self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        self.import_orders(self.shop)
        # As in a request of hers: her language in the context.
        order = self.allegro_order(self.shop, form["id"]).with_user(seller).with_context(lang=seller.lang)
        labels = dict(order._fields["seller_status"]._description_selection(order.env))
        self.assertEqual(
            [labels[key] for key in ("new", "in_progress", "to_ship", "shipped", "cancelled")],
            ["Nowe", "W realizacji", "Do wysłania", "Wysłane", "Anulowane"],
        )
        payment = dict(order._fields["payment_status"]._description_selection(order.env))
        self.assertEqual(
            [payment[key] for key in ("paid", "cod", "unpaid", "to_verify")],
            ["Opłacone", "Płatność przy odbiorze", "Nieopłacone", "Do weryfikacji"],
        )
        order.action_start_processing()
        self.assertEqual(order.seller_status, "in_progress")
        self.assertIn("<p>Status w Allegro zmieniony na W realizacji.</p>", order.message_ids.mapped("body"))
