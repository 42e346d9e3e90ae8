"""Money and VAT of orders as buyers really place them.

Every form is written from Allegro's CheckoutForm schema and checked against
the specification before the connector reads it.
"""
from decimal import Decimal

from odoo.tests import tagged

from allegro_emulator.contract import load_spec, validate_schema

from .common import AllegroEmulatorCase
from .test_order_import import PAID, items

CZ_CONSUMER = {
    "marketplace": {"id": "allegro-cz"},
    "buyer": {"id": "73000001", "login": "jana_nov", "email": "jana@example.cz", "firstName": "Jana",
              "lastName": "Nováková", "companyName": None,
              "address": {"street": "Vinohradská 12", "city": "Praha", "postCode": "120 00", "countryCode": "CZ"}},
    "delivery": {"address": {"firstName": "Jana", "lastName": "Nováková", "street": "Vinohradská 12",
                             "city": "Praha", "zipCode": "120 00", "countryCode": "CZ", "companyName": None},
                 "pickupPoint": None},
    "invoice": {"required": False, "address": None},
}
COURIER = {"id": "7203cb90-864c-4cda-bf08-dc883f0c78ad", "name": "Kurier DHL"}
LOCKER = {"id": "1fa56f79-4b6a-4821-a6f2-ca9c16d5c925", "name": "Allegro Paczkomaty InPost"}


def pln(amount):
    return {"amount": amount, "currency": "PLN"}


@tagged("post_install", "-at_install")
class MoneyCase(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spec = load_spec()
        assert cls.spec, "the Allegro OpenAPI specification is needed to check the forms (set ALLEGRO_OPENAPI)"
        cls.create_catalogue_products()

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop()

    def add(self, check=True, **overrides):
        """An order on Allegro; ``check``: the form must match the spec."""
        form = self.emulator.add_order(**overrides)
        if check:
            validate_schema(self.spec, "CheckoutForm", form)
        return form

    def place(self, check=True, **overrides):
        form = self.add(check=check, **overrides)
        self.import_orders(self.shop)
        return self.allegro_order(self.shop, form["id"])

    def total(self, form):
        return float(form["summary"]["totalToPay"]["amount"])


class TestOrderMoney(MoneyCase):
    def test_additional_service_deposit_and_discount_are_paid_lines(self):
        item = items((0, 2))[0]
        item.update(
            price=pln("90.00"), originalPrice=pln("100.00"), discounts=[{"type": "COUPON"}],
            selectedAdditionalServices=[
                {"definitionId": "CARRY_IN", "name": "Wniesienie", "price": pln("49.00"), "quantity": 1}],
            deposit={"price": pln("0.50")},
        )
        order = self.place(**PAID, lineItems=[item], delivery={"method": COURIER, "cost": pln("14.99")})
        sale = order.sale_order_id
        # 2 x 90.00 + 49.00 + 2 x 0.50 + 14.99
        self.assertEqual(order.total_to_pay, 244.99)
        self.assertEqual(sale.amount_total, 244.99, "the sale order totals what the buyer pays")
        self.assertEqual(sale.state, "sale")
        self.assertFalse(order.amount_mismatch)
        self.assertFalse(order.needs_attention, order.attention_reason)
        product_line = sale.order_line.filtered(lambda l: l.product_id == order.line_ids.product_id)
        self.assertEqual((product_line.product_uom_qty, product_line.price_unit), (2, 90.0), "the paid price")
        service = sale.order_line.filtered(lambda l: l.product_id == self.env.ref(
            "allegro_connector.product_allegro_service"))
        self.assertEqual(service.price_total, 49.0)
        self.assertIn("Wniesienie", service.name)
        self.assertEqual(service.tax_ids.amount, 23, "a service is taxed like any sale")
        deposit = sale.order_line.filtered(lambda l: l.product_id == self.env.ref(
            "allegro_connector.product_allegro_deposit"))
        self.assertEqual((deposit.product_uom_qty, deposit.price_total), (2, 1.0))
        self.assertFalse(deposit.tax_ids, "a deposit is returned to the buyer: no VAT")
        self.assertEqual(order.line_ids.original_price, 100.0)
        self.assertEqual(len(order.charge_ids), 2)

    def test_paid_surcharge_adds_to_the_total(self):
        form_surcharge = {"id": "5c2a1e36-2b4f-4f60-9a55-7d8e1d1c6a11", "type": "ONLINE", "provider": "P24",
                          "finishedAt": "2026-01-02T10:00:00.000Z", "paidAmount": pln("10.00")}
        unfinished = {"id": "6d3b2f47-3c5a-4a71-8b66-8e9f2e2d7b22", "type": "ONLINE", "provider": "P24"}
        form = self.add(**PAID, lineItems=items((1, 1)), surcharges=[form_surcharge, unfinished])
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual(order.surcharge_total, 10.0, "only money paid counts")
        self.assertEqual(order.sale_order_id.amount_total, self.total(form) + 10.0)
        self.assertFalse(order.amount_mismatch)
        self.assertEqual(order.sale_order_id.state, "sale")

    def test_unreconciled_form_is_flagged_not_confirmed_nor_invoiced(self):
        self.shop.invoice_policy = "paid"
        order = self.place(**PAID, lineItems=items((0, 1)), delivery={"method": COURIER, "cost": pln("14.99")},
                           summary={"totalToPay": pln("999.00")})
        sale = order.sale_order_id
        self.assertTrue(sale, "the order is imported all the same")
        self.assertEqual(sale.state, "draft", "not confirmed with the wrong money")
        self.assertFalse(order._invoices(), "nor invoiced")
        self.assertTrue(order.amount_mismatch)
        self.assertAlmostEqual(order.amount_difference, 999.0 - sale.amount_total, places=2)
        self.assertIn("differs from what the buyer pays", order.attention_reason)
        self.env["allegro.order"]._cron_apply_invoice_policy()
        self.assertFalse(order._invoices(), "the scheduled invoicing leaves it alone too")
        flagged = self.env["allegro.order"].search([("amount_mismatch", "=", True)])
        self.assertIn(order, flagged, "the seller can filter such orders")

    def test_invalid_nip_is_kept_and_flagged(self):
        company = "Kowalski Meble Sp. z o.o."
        order = self.place(
            **PAID, lineItems=items((2, 1)), buyer={"companyName": company},
            invoice={"required": True, "address": {
                "street": "Długa 5", "city": "Kraków", "zipCode": "30-001", "countryCode": "PL",
                "company": {"name": company, "ids": [{"type": "PL_NIP", "value": "123-456-78-90"}],
                            "vatPayerStatus": "ACTIVE"}}},
        )
        self.assertEqual(order.sync_state, "done", order.sync_error)
        sale = order.sale_order_id
        self.assertTrue(sale, "the sale order is created")
        self.assertEqual(sale.partner_invoice_id.vat, "PL1234567890", "kept as Allegro gave it")
        self.assertTrue(order.invoice_vat_unchecked)
        self.assertIn("Check the buyer's tax id", order.attention_reason)
        self.import_orders(self.shop)
        self.assertEqual(order.sync_state, "done", "and it stays imported")

    def test_unknown_marketplace_and_enum_values_do_not_block(self):
        czk = {"currency": "CZK"}
        item = dict(items((1, 1))[0], price={"amount": "600", **czk}, originalPrice={"amount": "600", **czk})
        form = self.add(
            check=False,  # values Allegro added after this specification
            **dict(CZ_CONSUMER, marketplace={"id": "allegro-business-cz"}, delivery=dict(
                CZ_CONSUMER["delivery"], method={"id": "new-method-1", "name": "Zásilkovna Box"},
                cost={"amount": "79", **czk})),
            status="READY_FOR_PROCESSING",
            payment={"type": "BLIK_PAY_LATER", "provider": "AF"},
            fulfillment={"status": "AWAITING_COURIER", "provider": {"id": "SELLER"}},
            lineItems=[item],
        )
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual(order.sync_state, "done", order.sync_error)
        self.assertEqual(order.marketplace, "allegro-business-cz")
        self.assertEqual(order.payment_type, "BLIK_PAY_LATER")
        self.assertEqual(order.fulfillment_status, "AWAITING_COURIER")
        self.assertEqual(order.currency_id.name, "CZK", "the currency of the amounts")
        self.assertEqual(order.sale_order_id.currency_id.name, "CZK")
        self.assertEqual(order.sale_order_id.amount_total, 679.0)


    def test_an_order_status_allegro_added_since_is_kept_and_flagged(self):
        form = self.add(check=False, status="AWAITING_CONFIRMATION", lineItems=items((1, 1)))
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual(order.sync_state, "done", order.sync_error)
        self.assertFalse(order.status)
        self.assertFalse(order.sale_order_id, "no sale order from a status not understood")
        self.assertIn("AWAITING_CONFIRMATION", order.attention_reason)
        self.assertIn('"AWAITING_CONFIRMATION"', order.sudo().raw_payload)
        # Once Allegro gives a status it knows, the order goes on as any other.
        stored = self.emulator.store.orders[form["id"]]
        stored["status"] = "READY_FOR_PROCESSING"
        self.emulator.store.emit(stored, "READY_FOR_PROCESSING")
        self.import_orders(self.shop)
        self.assertEqual(order.status, "READY_FOR_PROCESSING")
        self.assertTrue(order.sale_order_id)


class TestOrderTaxes(MoneyCase):
    def fiscal_position_odoo_picks(self, sale):
        return self.env["account.fiscal.position"].with_company(sale.company_id)._get_fiscal_position(
            sale.partner_id, sale.partner_shipping_id)

    def test_czech_consumer_gets_oss_fiscal_position_and_czech_vat(self):
        self.shop.write({"invoice_policy": "paid", "invoice_post": True})
        order = self.place(**PAID, **CZ_CONSUMER, lineItems=items((0, 1), (2, 2)))
        sale = order.sale_order_id
        oss = sale.fiscal_position_id
        self.assertTrue(oss, "OSS for an EU consumer")
        self.assertEqual(oss, self.fiscal_position_odoo_picks(sale))
        self.assertEqual(oss.country_id.code, "CZ")
        self.assertIn(21.0, oss.tax_ids.mapped("amount"), "Czech VAT, as Odoo's OSS mapping says")
        for line in sale.order_line:
            self.assertEqual(line.tax_ids.mapped("amount"), [21.0], line.name)
            self.assertTrue(line.tax_ids.price_include, "Allegro prices are gross")
        self.assertEqual(sale.amount_total, order.total_to_pay)
        self.assertEqual(sale.currency_id.name, "CZK")
        invoice = order._invoices()
        self.assertEqual(invoice.fiscal_position_id, oss)
        self.assertEqual(invoice.amount_total, order.total_to_pay, "the invoice totals what the buyer paid")
        self.assertEqual(set(invoice.invoice_line_ids.tax_ids.mapped("amount")), {21.0})
        expected_tax = sum(
            Decimal(str(line.price_total)) * 21 / 121 for line in invoice.invoice_line_ids)
        self.assertAlmostEqual(invoice.amount_tax, float(expected_tax), delta=0.5 * len(invoice.invoice_line_ids))

    def test_polish_consumer_has_domestic_vat(self):
        order = self.place(**PAID, lineItems=items((0, 1)))
        sale = order.sale_order_id
        self.assertEqual(sale.fiscal_position_id, self.fiscal_position_odoo_picks(sale))
        self.assertEqual(set(sale.order_line.tax_ids.mapped("amount")), {23.0})
        self.assertEqual(sale.amount_total, order.total_to_pay)

    def test_czech_company_with_vat_eu_id_gets_intra_eu_fiscal_position(self):
        company = "Novák Trade s.r.o."
        invoice = {"required": True, "features": ["VAT_EU_VERIFIED"], "address": {
            "street": "Vinohradská 12", "city": "Praha", "zipCode": "120 00", "countryCode": "CZ",
            "company": {"name": company, "ids": [{"type": "VAT_EU", "value": "CZ25123891"}],
                        "vatPayerStatus": "ACTIVE"}}}
        order = self.place(
            **PAID, **dict(CZ_CONSUMER, buyer=dict(CZ_CONSUMER["buyer"], companyName=company), invoice=invoice),
            lineItems=items((1, 1)),
        )
        sale = order.sale_order_id
        self.assertEqual(sale.partner_invoice_id.vat, "CZ25123891")
        self.assertTrue(sale.fiscal_position_id.vat_required, "intra-EU B2B")
        self.assertEqual(sale.fiscal_position_id, self.fiscal_position_odoo_picks(sale))
        self.assertFalse(order.invoice_vat_unchecked)

    def test_allegro_vat_rate_differing_from_odoo_is_flagged(self):
        first, second = items((0, 1), (1, 1))
        first["tax"] = {"rate": "23.00", "subject": "GOODS"}
        second["tax"] = {"rate": "8.00", "subject": "GOODS"}
        order = self.place(**PAID, lineItems=[first, second])
        self.assertEqual(order.line_ids.mapped("tax_rate"), ["23.00", "8.00"])
        self.assertTrue(order.needs_attention)
        self.assertIn("8.00%% VAT on %s" % order.line_ids[1].offer_name, order.attention_reason)
        self.assertNotIn("23.00%", order.attention_reason, "the matching rate is not flagged")
