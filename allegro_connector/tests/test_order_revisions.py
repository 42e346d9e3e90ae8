"""Orders that change after they arrive, and orders Odoo must not ship."""
from datetime import timedelta

from odoo import fields
from odoo.tests import new_test_user, tagged

from allegro_emulator.common import iso
from allegro_emulator.contract import validate_schema

from .test_order_import import PAID, UNPAID, items
from .test_order_money import COURIER, LOCKER, MoneyCase, pln

LOCKER_POINT = {"id": "WAW01A", "name": "Paczkomat WAW01A", "description": "Przy sklepie",
                "address": {"street": "Marszałkowska 1", "zipCode": "00-001", "city": "Warszawa",
                            "countryCode": "PL"}}


@tagged("post_install", "-at_install")
class TestOrderRevisions(MoneyCase):
    def revise(self, order, **overrides):
        form = self.emulator.revise_order(order.allegro_ref, **overrides)
        validate_schema(self.spec, "CheckoutForm", form)
        self.import_orders(self.shop)
        return form

    def test_buyer_switching_to_a_locker_before_paying_resyncs_the_sale_order(self):
        order = self.place(**UNPAID, lineItems=items((0, 1)), delivery={"method": COURIER, "cost": pln("14.99")})
        sale = order.sale_order_id
        self.assertEqual(sale.state, "draft")
        self.assertEqual(sale.order_line.filtered("is_delivery").price_total, 14.99)
        form = self.revise(order, delivery={"method": LOCKER, "cost": pln("8.99"), "pickupPoint": LOCKER_POINT})
        self.assertEqual(order.delivery_method_name, LOCKER["name"])
        self.assertEqual(order.pickup_point_ref, "WAW01A")
        delivery = sale.order_line.filtered("is_delivery")
        self.assertEqual(len(delivery), 1)
        self.assertEqual((delivery.name, delivery.price_total), (LOCKER["name"], 8.99))
        self.assertEqual(sale.amount_total, float(form["summary"]["totalToPay"]["amount"]))
        self.assertEqual(sale.carrier_id, self.env["allegro.delivery.method"]._for_order(order).carrier_id)
        revision = order.revision_ids
        self.assertEqual(len(revision), 1)
        self.assertEqual(revision.outcome, "applied")
        self.assertIn("Delivery method: Kurier DHL → Allegro Paczkomaty InPost", revision.changes)
        cost_change = next(line for line in revision.changes.splitlines() if line.startswith("Delivery cost"))
        self.assertIn("14.99", cost_change)
        self.assertIn("8.99", cost_change)
        # Paid with the new total: confirmed with the locker, not the courier.
        self.emulator.pay_order(order.allegro_ref)
        self.import_orders(self.shop)
        self.assertEqual(sale.state, "sale")
        self.assertEqual(sale.order_line.filtered("is_delivery"), delivery, "payment alone rebuilds nothing")
        self.assertEqual(delivery.price_total, 8.99)
        self.assertEqual(order.revision_ids.mapped("outcome"), ["recorded", "applied"])
        self.assertIn("Payment status", order.revision_ids[0].changes)
        self.assertFalse(order.amount_mismatch)

    def test_items_and_invoice_data_resync_before_confirmation(self):
        order = self.place(**UNPAID, lineItems=items((0, 1)))
        sale = order.sale_order_id
        self.revise(order, lineItems=items((0, 1), (3, 2)), invoice={"required": True, "address": {
            "street": "Długa 5", "city": "Kraków", "zipCode": "30-001", "countryCode": "PL",
            "naturalPerson": {"firstName": "Ewa", "lastName": "Kos"}}})
        self.assertEqual(len(order.line_ids), 2)
        product_lines = sale.order_line.filtered(lambda l: not l.is_delivery)
        self.assertEqual(sorted(product_lines.mapped("product_uom_qty")), [1, 2])
        self.assertEqual(order.line_ids.sale_line_id, product_lines, "each item keeps its sale line")
        self.assertEqual(sale.partner_invoice_id.street, "Długa 5")
        self.assertEqual(sale.amount_total, order.total_to_pay)
        self.assertIn("Item added: 2 ×", order.revision_ids.changes)
        self.assertIn("invoice data", order.revision_ids.change_kinds)

    def test_change_after_confirmation_is_recorded_and_flagged_not_applied(self):
        order = self.place(**PAID, lineItems=items((0, 1)))
        sale = order.sale_order_id
        self.assertEqual(sale.state, "sale")
        total_before = sale.amount_total
        self.revise(order, lineItems=[dict(items((0, 2))[0], id=order.line_ids.allegro_ref)])
        self.assertEqual(order.line_ids.quantity, 2, "the Allegro order shows the new revision")
        self.assertEqual(sale.amount_total, total_before, "the confirmed sale order is not changed silently")
        self.assertTrue(order.needs_attention)
        self.assertIn("after its sale order was confirmed", order.attention_reason)
        revision = order.revision_ids
        self.assertEqual(revision.outcome, "flagged")
        self.assertIn("%s: 1 ×" % order.line_ids.offer_name, revision.changes)
        self.assertIn("→ 2 ×", revision.changes)
        self.assertIn("Total to pay", revision.changes)
        changed = self.env["allegro.order"].search([("revision_ids.outcome", "=", "flagged")])
        self.assertIn(order, changed, "filterable: changed after confirmation")

    def test_status_only_revision_is_history_without_flag(self):
        order = self.place(**PAID, lineItems=items((1, 1)))
        self.emulator.set_fulfillment(order.allegro_ref, "PROCESSING")
        self.import_orders(self.shop)
        self.assertEqual(order.revision_ids.outcome, "recorded")
        self.assertFalse(order.needs_attention, order.attention_reason)


@tagged("post_install", "-at_install")
class TestOrdersRecordedOnly(MoneyCase):
    def test_order_bought_before_the_start_date_is_recorded_not_shipped(self):
        self.import_orders(self.shop)  # the first import is done: the journal is followed next
        old = fields.Datetime.now() - timedelta(days=60)
        item = dict(items((0, 1))[0], boughtAt=iso(old))
        form = self.add(**PAID, lineItems=[item])
        self.emulator.set_fulfillment(form["id"], "SENT")
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertTrue(order, "recorded")
        self.assertEqual(order.no_sale_reason, "before_start")
        self.assertFalse(order.sale_order_id)
        self.assertFalse(self.env["stock.picking"].search([("origin", "ilike", order.allegro_ref)]))
        recorded = self.env["allegro.order"].search([("no_sale_reason", "!=", False)])
        self.assertIn(order, recorded, "filterable")
        # The seller asks for one after all.
        order.action_create_sale_order()
        self.assertTrue(order.sale_order_id)
        self.assertEqual(order.sale_order_id.amount_total, order.total_to_pay)
        self.assertFalse(order.no_sale_reason)

    def test_order_fulfilled_by_allegro_is_recorded_only(self):
        order = self.place(**PAID, lineItems=items((2, 1)),
                           fulfillment={"status": "NEW", "provider": {"id": "ALLEGRO"}})
        self.assertEqual(order.fulfillment_provider, "ALLEGRO")
        self.assertEqual(order.no_sale_reason, "allegro_fulfillment")
        self.assertFalse(order.sale_order_id)
        self.emulator.set_fulfillment(order.allegro_ref, "SENT")
        self.import_orders(self.shop)
        self.assertFalse(order.sale_order_id, "later revisions do not make one either")


@tagged("post_install", "-at_install")
class TestRevisionAccess(MoneyCase):
    def test_sellers_read_the_history_of_their_company_only(self):
        item = dict(items((0, 1))[0], deposit={"price": pln("0.50")})
        order = self.place(**UNPAID, lineItems=[item], delivery={"method": COURIER, "cost": pln("14.99")})
        self.emulator.revise_order(order.allegro_ref, delivery={"method": LOCKER, "cost": pln("8.99")})
        self.import_orders(self.shop)
        other_company = self.env["res.company"].create({"name": "Other shop company"})
        seller = new_test_user(self.env, login="allegro_seller", groups="allegro_connector.group_allegro_user",
                               company_id=self.env.company.id, company_ids=[self.env.company.id])
        outsider = new_test_user(self.env, login="allegro_outsider", groups="allegro_connector.group_allegro_user",
                                 company_id=other_company.id, company_ids=[other_company.id])
        as_seller = order.with_user(seller)
        self.assertIn("Delivery method", as_seller.revision_ids.changes)
        self.assertEqual(as_seller.charge_ids.mapped("kind"), ["deposit"])
        self.assertFalse(self.env["allegro.order.revision"].with_user(outsider).search([("order_id", "=", order.id)]))
        self.assertFalse(self.env["allegro.order.charge"].with_user(outsider).search([("order_id", "=", order.id)]))
