from odoo.tests import tagged

from .common import AllegroEmulatorCase
from .test_order_import import PAID, UNPAID, items

COMPANY = "Nowak Consulting Sp. z o.o."
COMPANY_INVOICE = {"required": True, "address": {
    "street": "Grunwaldzka 182", "city": "Poznań", "zipCode": "60-166", "countryCode": "PL",
    "company": {"name": COMPANY, "ids": [{"type": "PL_NIP", "value": "5250001233"}], "vatPayerStatus": "ACTIVE"}}}
PRIVATE_BUYER = {
    "buyer": {"id": "555", "login": "ewa_k", "email": "ewa@example.com", "firstName": "Ewa", "lastName": "Kos",
              "companyName": None,
              "address": {"street": "Konta 1", "city": "Toruń", "postCode": "87-100", "countryCode": "PL"}},
    "delivery": {"address": {"firstName": "Adam", "lastName": "Kos", "street": "Paczki 9", "city": "Gdynia",
                             "zipCode": "81-001", "countryCode": "PL", "companyName": None}},
    "invoice": {"required": False, "address": None},
}


@tagged("post_install", "-at_install")
class TestInvoices(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_catalogue_products()
        cls.bank = cls.env["account.journal"].search(
            [("type", "=", "bank"), ("company_id", "=", cls.env.company.id)], limit=1)

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop(invoice_policy="paid")

    def test_never_policy_makes_no_invoice(self):
        self.shop.invoice_policy = "never"
        order = self.imported(**PAID, lineItems=items((0, 1)))
        self.assertEqual(order.sale_order_id.state, "sale")
        self.assertFalse(order._invoices())

    def test_paid_order_gets_a_draft_invoice_matching_allegro(self):
        order = self.imported(**PAID, lineItems=items((0, 2), (3, 1)),
                              delivery={"cost": {"amount": "11.99", "currency": "PLN"}})
        invoice = order._invoices()
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, "draft", "for the accountant to post")
        self.assertEqual(invoice.allegro_order_id, order)
        self.assertEqual(invoice.sales_channel, "allegro")
        self.assertIn(order.allegro_ref, invoice.ref)
        self.assertEqual(invoice.amount_total, order.total_to_pay, "what the buyer paid, to the grosz")
        self.assertEqual(invoice.currency_id.name, "PLN")
        delivery = invoice.invoice_line_ids.filtered(lambda l: l.sale_line_ids.is_delivery)
        self.assertEqual(delivery.price_total, 11.99)
        self.assertEqual(len(invoice.invoice_line_ids), 3)
        self.assertEqual(order.invoice_count, 1)

    def test_unpaid_order_is_invoiced_when_paid(self):
        self.shop.confirm_policy = "always"
        order = self.imported(**UNPAID, lineItems=items((1, 1)))
        self.assertFalse(order._invoices())
        self.emulator.pay_order(order.allegro_ref)
        self.import_orders(self.shop)
        self.assertEqual(len(order._invoices()), 1)

    def test_posted_and_registered_as_paid(self):
        self.shop.write({"invoice_post": True, "payment_journal_id": self.bank.id})
        order = self.imported(**PAID, lineItems=items((2, 1)))
        invoice = order._invoices()
        self.assertEqual(invoice.state, "posted")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.amount_residual, 0)

    def test_delivered_policy_waits_for_the_delivery(self):
        self.shop.invoice_policy = "delivered"
        order = self.imported(**PAID, lineItems=items((4, 1)))
        self.assertFalse(order._invoices())
        picking = order.sale_order_id.picking_ids
        picking.move_ids.quantity = 1
        picking.move_ids.picked = True
        picking._action_done()
        self.assertEqual(len(order._invoices()), 1)
        self.assertEqual(order._invoices().amount_total, order.total_to_pay)

    def test_company_buyer_invoice_is_sent_to_allegro(self):
        self.shop.invoice_post = True
        order = self.imported(**PAID, lineItems=items((2, 3)), buyer={"companyName": COMPANY},
                              invoice=COMPANY_INVOICE)
        invoice = order._invoices()
        self.assertEqual(invoice.partner_id.name, COMPANY)
        self.assertEqual(invoice.partner_id.vat, "PL5250001233")
        self.assertEqual(invoice.partner_id.street, "Grunwaldzka 182")
        self.assertEqual(invoice.allegro_upload_state, "pending")
        self.send_updates()
        self.assertEqual(invoice.allegro_upload_state, "done", invoice.allegro_upload_message)
        on_allegro = self.emulator.invoices(order.allegro_ref)
        self.assertEqual(len(on_allegro), 1)
        self.assertEqual(on_allegro[0]["invoiceNumber"], invoice.name)
        self.assertEqual(on_allegro[0]["id"], invoice.allegro_invoice_ref)
        self.assertTrue(self.emulator.invoice_file(invoice.allegro_invoice_ref), "the file was uploaded")

    def test_private_buyer_without_invoice_request_account_data(self):
        self.shop.invoice_post = True
        order = self.imported(**PAID, **PRIVATE_BUYER, lineItems=items((0, 1)))
        invoice = order._invoices()
        self.assertEqual(invoice.partner_id.name, "Ewa Kos")
        self.assertEqual(invoice.partner_id.street, "Konta 1")
        self.assertEqual(order.sale_order_id.partner_shipping_id.street, "Paczki 9")
        self.assertFalse(invoice.allegro_upload_state)
        self.send_updates()
        self.assertFalse(self.emulator.invoices(order.allegro_ref), "the buyer did not ask for an invoice")

    def test_private_buyer_without_invoice_request_delivery_data(self):
        self.shop.write({"invoice_post": True, "invoice_data_source": "delivery"})
        order = self.imported(**PAID, **PRIVATE_BUYER, lineItems=items((0, 1)))
        invoice = order._invoices()
        self.assertEqual(invoice.partner_id.name, "Adam Kos")
        self.assertEqual(invoice.partner_id.street, "Paczki 9")
        self.send_updates()
        self.assertFalse(self.emulator.invoices(order.allegro_ref))

    def test_czk_order_invoiced_in_czk(self):
        order = self.imported(**PAID, marketplace={"id": "allegro-cz"}, lineItems=items((1, 2)))
        invoice = order._invoices()
        self.assertEqual(invoice.currency_id.name, "CZK")
        self.assertEqual(invoice.amount_total, order.total_to_pay)
        self.assertEqual(order.currency_id.name, "CZK")

    def test_link_an_existing_invoice(self):
        self.shop.invoice_policy = "never"
        order = self.imported(**PAID, lineItems=items((5, 1)), buyer={"companyName": COMPANY},
                              invoice=COMPANY_INVOICE)
        existing = self.env["account.move"].create({
            "move_type": "out_invoice",
            "partner_id": order.sale_order_id.partner_invoice_id.id,
            "invoice_line_ids": [(0, 0, {"name": "Issued by hand", "quantity": 1,
                                         "price_unit": order.total_to_pay})],
        })
        existing.action_post()
        wizard = self.env["allegro.link.invoice.wizard"].create({"order_id": order.id, "move_id": existing.id})
        wizard.action_link()
        self.assertEqual(order._invoices(), existing)
        self.assertEqual(existing.sales_channel, "allegro")
        self.send_updates()
        self.assertEqual(existing.allegro_upload_state, "done")
        self.assertEqual(len(self.emulator.invoices(order.allegro_ref)), 1)

    def test_upload_failure_then_retry_creates_one_entry(self):
        self.shop.invoice_post = True
        order = self.imported(**PAID, lineItems=items((2, 1)), buyer={"companyName": COMPANY},
                              invoice=COMPANY_INVOICE)
        invoice = order._invoices()
        # The entry is created, then the file upload fails for a while.
        self.emulator.faults.add(status=503, count=None, path_prefix="/order/checkout-forms/%s/invoices/"
                                 % order.allegro_ref, retry_after=0)
        self.send_updates()
        update = order.update_ids.filtered(lambda p: p.kind == "invoice")
        self.assertEqual(update.state, "pending")
        self.assertIn("503", update.job_message, "Allegro's answer is visible on the update")
        self.assertEqual(invoice.allegro_upload_state, "pending")
        self.assertEqual(len(self.emulator.invoices(order.allegro_ref)), 1, "the entry was made")
        self.emulator.faults.clear()
        update.action_retry()
        self.assertEqual(update.state, "done", update.last_error)
        self.assertEqual(invoice.allegro_upload_state, "done")
        self.assertEqual(len(self.emulator.invoices(order.allegro_ref)), 1, "no second entry")
        self.assertTrue(self.emulator.invoice_file(invoice.allegro_invoice_ref))

    def test_refused_upload_is_shown_on_the_invoice(self):
        self.shop.invoice_post = True
        self.emulator.faults.add(status=422, count=1, path_prefix="/order/checkout-forms/", method="POST")
        order = self.imported(**PAID, lineItems=items((2, 1)), buyer={"companyName": COMPANY},
                              invoice=COMPANY_INVOICE)
        self.send_updates()
        invoice = order._invoices()
        self.assertEqual(invoice.allegro_upload_state, "failed")
        self.assertTrue(order.needs_attention)

    def test_closed_once_invoiced(self):
        self.shop.write({"invoice_post": True, "close_on_invoice": True})
        order = self.imported(**PAID, lineItems=items((0, 1)))
        self.assertTrue(order.closed)
        self.assertEqual(order.seller_status, "closed")
