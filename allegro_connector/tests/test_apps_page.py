from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestAppsPage(TransactionCase):
    def test_apps_shows_the_description_page_with_its_screenshots(self):
        module = self.env["ir.module.module"].search([("name", "=", "allegro_connector")])
        self.assertEqual(module.icon, "/allegro_connector/static/description/icon.png")
        page = module.description_html
        self.assertIn("Allegro Connector", page)
        self.assertIn("<em>opłacone</em>", page)
        self.assertNotIn("data-o-mail-quote", page)  # no line of the page reads as a quoted e-mail
        for image in ("screenshot_orders.png", "screenshot_order.png", "screenshot_shop.png"):
            self.assertIn('src="/allegro_connector/static/description/%s"' % image, page)
