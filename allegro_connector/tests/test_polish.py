"""A Polish seller gets Polish: the e-mail on new orders, chatter notes,
statuses in the words Polish sellers use; what jobs and scheduled actions
write in the shop's language."""
import re
from pathlib import Path

import polib

from odoo.tests import new_test_user, tagged
from odoo.tools import html2plaintext

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


def _english_connector_strings():
    """What the connector's code writes, in English, as patterns (placeholders
    match anything): the msgids of the Polish translation that Polish changes;
    phrases of three words or more, so that a word both languages share is no hit."""
    patterns = []
    for entry in polib.pofile(str(Path(__file__).resolve().parents[1] / "i18n" / "pl.po")):
        in_code = any(where.startswith("code:") for where, _line in entry.occurrences)
        if in_code and entry.msgstr and entry.msgstr != entry.msgid and len(entry.msgid.split()) >= 3:
            parts = re.split(r"%\(\w+\)s", entry.msgid)
            patterns.append((entry.msgid, re.compile(".+?".join(re.escape(part) for part in parts))))
    return patterns


def _english_labels():
    """English names of the addon's selection values that Polish translates."""
    return {entry.msgid for entry in polib.pofile(str(Path(__file__).resolve().parents[1] / "i18n" / "pl.po"))
            if entry.msgstr and entry.msgstr != entry.msgid
            and any(where.startswith("model:ir.model.fields.selection") for where, _line in entry.occurrences)}


@tagged("post_install", "-at_install")
class TestPolishJobs(AllegroEmulatorCase):
    """Jobs and scheduled actions run without anybody's language: what they
    write is in the shop's (its company's) language all the same."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_stocked_catalogue(10)
        cls.env["res.lang"]._activate_lang("pl_PL")
        cls.env["ir.module.module"]._load_module_terms(["allegro_connector"], ["pl_PL"])
        cls.env.company.partner_id.lang = "pl_PL"
        # A carrier Allegro does not know: the shipment is refused, in Polish.
        cls.carrier.allegro_carrier_id = cls.env["allegro.carrier"].create({"allegro_ref": "NOPE", "name": "Nope"})

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop()

    def test_jobs_and_scheduled_actions_write_in_the_company_language(self):
        processed = self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        refused = self.emulator.add_order(**PAID, lineItems=items((1, 1)))
        self.emulator.faults.add(status=422, count=1, method="PUT",
                                 path_prefix="/order/checkout-forms/%s/fulfillment" % refused["id"])
        # The scheduled action, as Odoo runs it: no language in its context.
        self.env(context={})["allegro.shop"]._cron_fetch_orders()
        self.run_jobs()  # the import, then the statuses its confirmations queued
        processed = self.allegro_order(self.shop, processed["id"])
        refused = self.allegro_order(self.shop, refused["id"])
        # An English-speaking warehouse worker ships; the job that tells
        # Allegro writes in the shop's language, not his.
        keeper = new_test_user(self.env, "keeper", lang="en_US", groups="stock.group_stock_user")
        picking = processed.sale_order_id.picking_ids.with_user(keeper)
        picking.carrier_tracking_ref = "PL-1"
        picking.carrier_id = self.carrier
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        picking.with_context(cancel_backorder=False)._action_done()
        self.run_jobs()
        self.env.flush_all()
        self.env.cr.flush()  # the chatter's tracking, as at commit
        self.env.invalidate_all()

        orders = processed | refused
        bodies = [html2plaintext(body) for body in (orders.message_ids | orders.sale_order_id.message_ids)
                  .mapped("body") if body]
        self.assertIn("Status w Allegro zmieniony na W realizacji.", bodies)
        status = processed.message_ids.tracking_value_ids.filtered(
            lambda t: t.field_id.name == "fulfillment_status")
        self.assertIn(("Nowe", "W realizacji"), [(t.old_value_char, t.new_value_char) for t in status])
        status_update = refused.update_ids.filtered(lambda p: p.kind == "status")
        self.assertEqual(status_update.state, "failed")
        self.assertIn("Allegro odpowiedziało HTTP 422", status_update.last_error)
        self.assertIn("Allegro odrzuciło aktualizację (%s: W realizacji)" % refused.display_name,
                      refused.attention_reason)
        shipment = processed.update_ids.filtered(lambda p: p.kind == "shipment")
        self.assertEqual(shipment.state, "failed")
        # Allegro's own message, asked for in Polish.
        self.assertIn("Nieznany identyfikator przewoźnika NOPE", shipment.last_error)
        self.assertIn("Nieznany identyfikator przewoźnika NOPE", processed.attention_reason)
        shop_run = self.env["allegro.import.run"].search([("shop_id", "=", self.shop.id)])

        texts = bodies + orders.mapped("attention_reason") + orders.mapped("sync_error") + \
            orders.update_ids.mapped("last_error") + orders.update_ids.mapped("job_message") + \
            shop_run.mapped("message")
        texts = [text for text in texts if text]
        english = [(msgid, text) for text in texts for msgid, pattern in _english_connector_strings()
                   if pattern.search(text)]
        self.assertFalse(english, "English written by the connector")
        tracked = orders.message_ids.tracking_value_ids
        values = set(tracked.mapped("old_value_char") + tracked.mapped("new_value_char")) - {False, ""}
        self.assertFalse(values & _english_labels(), "English values in the chatter's tracking")

    def test_an_answer_allegro_never_gave_is_told_in_polish(self):
        order = self.imported(**PAID, lineItems=items((2, 1)))
        self.send_updates()
        path = "/order/checkout-forms/%s/shipments" % order.allegro_ref
        self.emulator.faults.lose_answer(count=1, path_prefix=path, method="POST")  # the connection drops
        self.env["allegro.update"]._queue_shipment(order, "PL-LOST", "INPOST")
        self.send_updates()
        shipment = order.update_ids.filtered(lambda p: p.kind == "shipment")
        self.assertEqual(shipment.state, "pending", "its outcome is checked later")
        self.assertEqual(shipment.job_message, "Allegro nie odpowiedziało.")

