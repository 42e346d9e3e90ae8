"""Invoices of Allegro orders from every path: the normal Odoo way, the
scheduled policy, and KSeF before the PDF goes to Allegro."""
import base64
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from odoo.tests import tagged
from odoo.tests.common import new_test_user

from .test_invoice import COMPANY, COMPANY_INVOICE
from .test_order_import import PAID, items
from .test_order_money import CZ_CONSUMER, MoneyCase

COD = {"status": "READY_FOR_PROCESSING", "payment": {"type": "CASH_ON_DELIVERY", "provider": "OFFLINE"}}


def self_signed_certificate():
    """A certificate as a KSeF user uploads one (PEM), made on the spot."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "KSeF test")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@tagged("post_install", "-at_install")
class TestInvoicePaths(MoneyCase):
    def setUp(self):
        super().setUp()
        # The person who invoices sale orders: sales and billing rights, no Allegro rights.
        self.clerk = new_test_user(
            self.env, login="billing_clerk", name="Billing clerk",
            groups="account.group_account_invoice,sales_team.group_sale_salesman_all_leads",
        )

    def invoice_the_odoo_way(self, sale_orders):
        """Create invoice on the sale order(s), as the clerk does it in the UI."""
        wizard = self.env["sale.advance.payment.inv"].with_user(self.clerk).with_context(
            active_model="sale.order", active_ids=sale_orders.ids
        ).create({"advance_payment_method": "delivered"})
        wizard.create_invoices()
        self.env.invalidate_all()
        return sale_orders.invoice_ids

    def test_invoice_made_from_the_sale_order_is_linked_uploaded_and_closes(self):
        self.shop.write({"invoice_policy": "never", "close_on_invoice": True})
        order = self.place(**PAID, lineItems=items((2, 3)), buyer={"companyName": COMPANY}, invoice=COMPANY_INVOICE)
        invoice = self.invoice_the_odoo_way(order.sale_order_id)
        self.assertEqual(invoice.allegro_order_id, order)
        self.assertEqual(invoice.sales_channel, "allegro")
        self.assertEqual(invoice.amount_total, order.total_to_pay)
        self.assertEqual(order.invoice_count, 1)
        invoice.with_user(self.clerk).action_post()
        self.env.invalidate_all()
        self.assertEqual(invoice.allegro_upload_state, "pending", "no KSeF here: sent at posting")
        self.assertTrue(order.closed)
        self.send_updates()
        self.assertEqual(invoice.allegro_upload_state, "done", invoice.allegro_upload_message)
        self.assertEqual(self.emulator.invoices(order.allegro_ref)[0]["invoiceNumber"], invoice.name)

    def test_invoicing_many_orders_at_once_links_each(self):
        first = self.place(**PAID, lineItems=items((0, 1)))
        second = self.place(**PAID, **CZ_CONSUMER, lineItems=items((1, 2)))
        invoices = self.invoice_the_odoo_way(first.sale_order_id | second.sale_order_id)
        self.assertEqual(len(invoices), 2)
        for order in first | second:
            invoice = order.sale_order_id.invoice_ids
            self.assertEqual(invoice.allegro_order_id, order)
            self.assertEqual(invoice.amount_total, order.total_to_pay)
            self.assertEqual(invoice.currency_id, order.currency_id)
        self.assertEqual(second.sale_order_id.invoice_ids.fiscal_position_id, second.sale_order_id.fiscal_position_id)

    def test_policy_switched_on_later_catches_up(self):
        paid = self.place(**PAID, lineItems=items((0, 1)))
        cod = self.place(**COD, lineItems=items((1, 1)))
        self.assertEqual((paid.sale_order_id.state, cod.sale_order_id.state), ("sale", "sale"))
        self.assertFalse(paid._invoices())
        self.shop.invoice_policy = "paid"
        self.env["allegro.order"]._cron_apply_invoice_policy()
        self.assertEqual(len(paid._invoices()), 1, "invoiced by the scheduled run, no revision needed")
        self.assertEqual(paid._invoices().amount_total, paid.total_to_pay)
        self.assertFalse(cod._invoices(), "cash on delivery is not paid yet")
        self.env["allegro.order"]._cron_apply_invoice_policy()
        self.assertEqual(len(paid._invoices()), 1, "never twice")

    def test_delivered_policy_catches_up_on_delivered_orders(self):
        order = self.place(**PAID, lineItems=items((4, 1)))
        picking = order.sale_order_id.picking_ids
        picking.move_ids.quantity = 1
        picking.move_ids.picked = True
        picking._action_done()
        waiting = self.place(**PAID, lineItems=items((3, 1)))
        self.assertFalse(order._invoices())
        self.shop.invoice_policy = "delivered"
        self.env["allegro.order"]._cron_apply_invoice_policy()
        self.assertEqual(len(order._invoices()), 1)
        self.assertFalse(waiting._invoices(), "not delivered yet")


@tagged("post_install", "-at_install")
class TestInvoiceKsef(MoneyCase):
    def setUp(self):
        super().setUp()
        company = self.env.company
        if "l10n_pl_edi_register" not in company._fields:
            self.fail("l10n_pl_edi comes with l10n_pl: the test database must have it")
        certificate = self.env["certificate.certificate"].sudo().create({
            "name": "KSeF", "content": base64.b64encode(self_signed_certificate()), "company_id": company.id})
        company.sudo().l10n_pl_edi_certificate = certificate
        self.assertTrue(company.l10n_pl_edi_register, "this company sends its invoices to KSeF")
        self.shop.write({"invoice_policy": "paid", "invoice_post": True})

    def test_pdf_goes_to_allegro_once_ksef_accepted_the_invoice(self):
        order = self.place(**PAID, lineItems=items((2, 1)), buyer={"companyName": COMPANY}, invoice=COMPANY_INVOICE)
        invoice = order._invoices()
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.allegro_upload_state, "ksef")
        self.send_updates()
        self.assertFalse(self.emulator.invoices(order.allegro_ref), "not before KSeF accepted it")
        # What l10n_pl_edi records when KSeF answers "accepted".
        invoice.write({"l10n_pl_edi_status": "accepted", "l10n_pl_edi_number": "5250001233-20260101-ABCDEF-01"})
        self.assertEqual(invoice.allegro_upload_state, "pending")
        self.send_updates()
        self.assertEqual(invoice.allegro_upload_state, "done", invoice.allegro_upload_message)
        self.assertEqual(len(self.emulator.invoices(order.allegro_ref)), 1)

    def test_rejected_by_ksef_is_not_sent(self):
        order = self.place(**PAID, lineItems=items((2, 1)), buyer={"companyName": COMPANY}, invoice=COMPANY_INVOICE)
        invoice = order._invoices()
        invoice.write({"l10n_pl_edi_status": "rejected"})
        self.send_updates()
        self.assertEqual(invoice.allegro_upload_state, "ksef")
        self.assertFalse(self.emulator.invoices(order.allegro_ref))
