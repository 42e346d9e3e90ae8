"""Allegro's money in the books, as the accountant who closes the month sees it.

A month of orders on the emulator (payments, commissions, delivery and
promotion fees, refunds, a correction and payouts per wallet currency) is read
over real HTTP by a billing clerk pressing the shop's button.
"""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from .common import AllegroEmulatorCase
from .test_order_import import PAID, items


@tagged("post_install", "-at_install")
class TestMoney(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_catalogue_products()
        cls.accountant = new_test_user(cls.env, "al_money_clerk", groups="account.group_account_invoice")
        cls.salesman = new_test_user(
            cls.env, "al_money_sales",
            groups="sales_team.group_sale_salesman,allegro_connector.group_allegro_user")
        cls.bank = cls.env["account.journal"].create(
            {"name": "Seller's bank", "type": "bank", "code": "SBNK", "currency_id": cls.env.ref("base.PLN").id})

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop(
            invoice_policy="paid", invoice_post=True,
            import_start_date=fields.Datetime.now() - timedelta(days=32))
        # The register journal stays set: with the wallet booked, an invoice is paid by its operation only.
        self.register_journal = self.env["account.journal"].create(
            {"name": "Allegro register", "type": "bank", "code": "AREG"})
        self.shop.write({"payout_journal_id": self.bank.id, "book_allegro_money": True,
                         "payment_journal_id": self.register_journal.id})

    def month(self, orders=24, payout_every=14):
        """A month of orders with their money on Allegro, the orders imported."""
        self.emulator.seed_orders(orders, days=30)
        self.import_orders(self.shop)
        self.emulator.seed_money(days=30, payout_every=payout_every)

    def fetch_money(self, user=None):
        summary = self.env["allegro.money"]._run(self.shop.with_user(user or self.accountant))
        self.env.invalidate_all()
        return summary

    def operations(self):
        return self.env["allegro.payment.operation"].search([("shop_id", "=", self.shop.id)])

    def fees(self):
        return self.env["allegro.billing.entry"].search([("shop_id", "=", self.shop.id)])

    def assert_books_match_wallets(self):
        for journal in self.shop.wallet_journal_ids:
            on_allegro = self.emulator.wallet_balance(journal.currency_id.name)
            self.assertEqual(Decimal(str(journal.currency_id.round(journal.allegro_book_balance))), on_allegro,
                             "the %s journal's balance is Allegro's wallet, to the grosz" % journal.currency_id.name)
            self.assertFalse(journal.allegro_balance_difference)

    def test_a_month_in_the_books(self):
        self.month()
        button = self.shop.with_user(self.accountant).action_fetch_money()
        self.assertEqual(button["params"]["type"], "success", button["params"]["message"])
        self.env.invalidate_all()

        # Fees: each entry once, on a draft bill from Allegro per month.
        entries = self.emulator.billing_entries
        self.assertEqual(len(self.fees()), len(entries))
        self.assertEqual(set(self.fees().mapped("allegro_ref")), {e["id"] for e in entries})
        self.assertFalse(self.fees().filtered(lambda e: e.state != "booked"), "every known fee is booked")
        bills = self.fees().move_id
        self.assertTrue(bills)
        self.assertEqual(set(bills.mapped("move_type")), {"in_invoice"})
        self.assertEqual(set(bills.mapped("state")), {"draft"}, "for the accountant to check against Allegro")
        self.assertEqual(bills.partner_id, self.env.ref("allegro_connector.partner_allegro"))
        self.assertEqual(len(bills), len(set(self.fees().mapped(lambda e: (e.period, e.currency_id)))))
        for bill in bills:
            listed = -sum(Decimal(str(e.amount)) for e in self.fees().filtered(lambda e, b=bill: e.move_id == b))
            self.assertAlmostEqual(bill.amount_total, float(listed), delta=0.011 * len(bill.invoice_line_ids),
                                   msg="the bill totals Allegro's gross fees")

        # Payments: the Allegro journals hold exactly the wallets.
        operations = self.emulator.payment_operations
        self.assertEqual(len(self.operations()), len(operations))
        self.assertFalse(self.operations().filtered(lambda o: o.state != "booked"))
        self.assertEqual(set(self.shop.wallet_journal_ids.currency_id.mapped("name")),
                         {o["value"]["currency"] for o in operations})
        self.assert_books_match_wallets()

        # Every invoice a buyer paid through Allegro is paid in Odoo by that payment.
        contributions = self.operations().filtered(lambda o: o.op_type == "CONTRIBUTION" and o.allegro_order_id)
        self.assertTrue(contributions)
        matched = 0
        for operation in contributions:
            invoice = operation.allegro_order_id.sale_order_id.invoice_ids.filtered(
                lambda m: m.move_type == "out_invoice" and m.state == "posted")
            if invoice and invoice.amount_total == operation.amount:
                self.assertTrue(operation.payment_id.is_reconciled)
                self.assertIn(invoice.payment_state, ("paid", "in_payment"))
                matched += 1
        self.assertTrue(matched, "the month's paid invoices are paid by Allegro's operations")
        self.assertFalse(self.env["account.payment"].search([("journal_id", "=", self.register_journal.id)]),
                         "no invoice is paid a second time through the register journal")

        # Two payouts in PLN; the bank shows them with Allegro's reference.
        payouts = [p for p in self.emulator.payouts.values() if p["currency"] == "PLN"]
        self.assertEqual(len(payouts), 2)
        lines = self.env["account.bank.statement.line"].create([{
            "journal_id": self.bank.id, "date": fields.Date.today(), "amount": float(p["amount"]),
            "payment_ref": p["reference"]} for p in payouts])
        self.assertFalse(any(lines.mapped("is_reconciled")))
        payments_before = self.env["account.payment"].search_count([])
        moves_before = self.env["account.move"].search_count([])

        summary = self.fetch_money()
        self.assertEqual((summary["fees"], summary["operations"]), (0, 0), "a second run books nothing new")
        self.assertEqual(summary["payouts_matched"], 2)
        self.assertEqual(self.env["account.payment"].search_count([]), payments_before)
        self.assertEqual(self.env["account.move"].search_count([]), moves_before)
        self.assertTrue(all(lines.mapped("is_reconciled")), "both payouts are matched to their bank lines")
        self.assert_books_match_wallets()

        # A salesman sees what a sale cost on Allegro, and no books.
        order = self.fees().filtered(lambda e: e.type_code == "SUC").allegro_order_id[:1]
        as_salesman = order.with_user(self.salesman)
        self.assertTrue(as_salesman.fee_ids)
        self.assertGreater(as_salesman.fee_total, 0)
        self.assertAlmostEqual(as_salesman.net_of_fees, order.total_to_pay - as_salesman.fee_total, places=2)
        with self.assertRaises(AccessError):
            self.env["allegro.payment.operation"].with_user(self.salesman).search([])
        with self.assertRaises(AccessError):
            bills[:1].with_user(self.salesman).read(["amount_total"])
        with self.assertRaises(AccessError):
            self.shop.with_user(self.salesman).action_fetch_money()

    def test_invoice_posted_later_is_matched_then(self):
        self.shop.invoice_post = False
        self.month(orders=6)
        self.fetch_money()
        paid = self.operations().filtered(lambda o: o.op_type == "CONTRIBUTION" and o.allegro_order_id
                                          and o.allegro_order_id.sale_order_id.invoice_ids)
        self.assertTrue(paid)
        for operation in paid:
            self.assertFalse(operation.payment_id.is_reconciled, "the invoice is still a draft")
        invoices = paid.allegro_order_id.sale_order_id.invoice_ids
        invoices.with_user(self.accountant).action_post()
        self.env.invalidate_all()
        for operation in paid:
            invoice = operation.allegro_order_id.sale_order_id.invoice_ids
            if invoice.amount_total == operation.amount:
                self.assertTrue(operation.payment_id.is_reconciled)
                self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_a_refund_is_paid_back_by_its_wallet_operation_only(self):
        order = self.imported(**PAID, lineItems=items((0, 1), (1, 1)))
        invoice = order._invoices()
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.payment_state, "not_paid", "the wallet's operation pays it, nothing else")
        paid_at = datetime.now(timezone.utc) - timedelta(hours=2)
        self.emulator.add_payment_operation("CONTRIBUTION", order.total_to_pay, paid_at,
                                            payment={"id": order.payment_ref})
        self.fetch_money()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"), "paid by the buyer's payment on Allegro")
        self.shop.refund_policy = "auto"
        refund = self.env["allegro.refund"].with_user(self.accountant)._prepare(
            order, {order.line_ids[0].id: 1}, reason="REFUND").with_env(self.env)
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        credit = refund.credit_note_id
        self.assertEqual(credit.state, "posted")
        self.assertEqual(credit.payment_state, "not_paid", "not paid through the register journal")
        self.emulator.add_payment_operation("REFUND_CHARGE", -refund.amount_total, payment={"id": order.payment_ref})
        self.fetch_money()
        self.assertIn(credit.payment_state, ("paid", "in_payment"), "the refund's operation pays the credit note")
        self.assertFalse(self.env["account.payment"].search([("journal_id", "=", self.register_journal.id)]))
        self.assert_books_match_wallets()

    def test_fees_as_journal_entries(self):
        self.env.company.allegro_fee_booking = "entry"
        self.emulator.add_billing_entry("SUC", Decimal("-12.34"))
        self.emulator.add_billing_entry("REF", Decimal("2.34"))
        self.fetch_money()
        move = self.fees().move_id
        self.assertEqual(len(move), 1)
        self.assertEqual((move.move_type, move.state), ("entry", "posted"))
        payable = move.line_ids.filtered(lambda l: l.partner_id == self.env.ref("allegro_connector.partner_allegro"))
        self.assertEqual(payable.balance, -10.0, "what is owed to Allegro: the fees net of their refund")

    def test_odd_entries_are_kept_and_flagged(self):
        self.emulator.add_billing_entry("SUC", Decimal("-5.00"))
        odd_fee = self.emulator.add_billing_entry("XQZ", Decimal("-3.00"), name="Brand new fee")
        self.emulator.add_payment_operation("CONTRIBUTION", Decimal("100.00"), marketplace_id="allegro-pl",
                                            payment={"id": "f0f0f0f0-0000-4000-8000-000000000001"})
        self.emulator.add_payment_operation("PAYOUT_SWEEP_CHARGE", Decimal("-40.00"), group="OUTCOME")
        summary = self.fetch_money()
        self.assertEqual(summary["state"], "done", summary["message"])
        flagged_fee = self.fees().filtered(lambda e: e.allegro_ref == odd_fee["id"])
        self.assertEqual(flagged_fee.state, "flagged")
        self.assertIn("XQZ", flagged_fee.flag)
        self.assertFalse(flagged_fee.move_id, "left for the accountant")
        sweep = self.operations().filtered(lambda o: o.op_type == "PAYOUT_SWEEP_CHARGE")
        self.assertEqual(sweep.state, "flagged")
        self.assertFalse(sweep.payment_id)
        journal = self.shop.wallet_journal_ids
        self.assertEqual(journal.allegro_wallet_balance, 60.0)
        self.assertEqual(journal.allegro_book_balance, 100.0)
        self.assertEqual(journal.allegro_balance_difference, -40.0)
        wallets = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_wallets")
        as_accountant = self.env["account.journal"].with_user(self.accountant).search(safe_eval(wallets["domain"]))
        self.assertEqual(as_accountant, journal)
        self.assertEqual(as_accountant.allegro_balance_difference, -40.0, "the accountant sees the difference")
        action = self.shop.with_user(self.accountant).action_view_balance_differences()
        self.assertEqual(self.env["allegro.payment.operation"].search(action["domain"]), sweep,
                         "the difference is explained by the operation left for the accountant")

    def test_run_failing_half_way_resumes_without_loss_or_double(self):
        self.month(orders=10, payout_every=7)
        # Allegro refuses the payment operations after a few pages: fees and part of the month are in.
        self.emulator.change_during_money_listing(
            lambda: self.emulator.faults.add(403, None, "/payments/payment-operations"), after_pages=40)
        summary = self.fetch_money()
        self.assertEqual(summary["state"], "failed")
        self.assertLess(len(self.operations()), len(self.emulator.payment_operations))
        self.emulator.faults.clear()
        summary = self.fetch_money()
        self.assertEqual(summary["state"], "done", summary["message"])
        self.assertEqual(len(self.fees()), len(self.emulator.billing_entries))
        self.assertEqual(len(self.operations()), len(self.emulator.payment_operations), "nothing lost or doubled")
        self.assertEqual(len(self.operations().payment_id), len(self.operations()))
        self.assert_books_match_wallets()

    def test_another_company_sees_nothing(self):
        self.emulator.add_billing_entry("SUC", Decimal("-5.00"))
        self.emulator.add_payment_operation("CONTRIBUTION", Decimal("10.00"), marketplace_id="allegro-pl",
                                            payment={"id": "f0f0f0f0-0000-4000-8000-000000000002"})
        self.fetch_money()
        self.assertTrue(self.fees() and self.operations())
        company_b = self.env["res.company"].create({"name": "Allegro B", "currency_id": self.env.ref("base.PLN").id})
        clerk_b = new_test_user(self.env, "al_money_clerk_b", groups="account.group_account_invoice",
                                company_id=company_b.id, company_ids=[(6, 0, company_b.ids)])
        env_b = self.env(user=clerk_b)
        for model in ("allegro.billing.entry", "allegro.payment.operation", "allegro.fee.type", "allegro.shop"):
            self.assertFalse(env_b[model].search([]), "%s of another company is visible" % model)
        with self.assertRaises(AccessError):
            self.shop.with_user(clerk_b).action_fetch_money()
