"""Refunds to buyers, their credit notes and the commission claimed back, each
step as the person who does it, against the emulator over real HTTP."""
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged


from .common import AllegroEmulatorCase
from .test_order_import import PAID, items

REFUNDS = "/payments/refunds"
CLAIMS = "/order/refund-claims"
DELIVERY = {"cost": {"amount": "11.99", "currency": "PLN"}}


@tagged("post_install", "-at_install")
class TestRefunds(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_catalogue_products()
        cls.seller = new_test_user(cls.env, "rf_seller",
                                   groups="sales_team.group_sale_salesman,allegro_connector.group_allegro_user")
        cls.billing = new_test_user(cls.env, "rf_billing", groups="account.group_account_invoice")
        cls.manager = new_test_user(cls.env, "rf_manager", groups="allegro_connector.group_allegro_manager")

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop(invoice_policy="paid")

    def order_with_posted_invoice(self, *pairs):
        order = self.imported(**PAID, lineItems=items(*pairs), delivery=DELIVERY)
        invoice = order._invoices()
        invoice.with_user(self.billing).action_post()
        self.assertEqual(invoice.state, "posted")
        return order

    def refund_in_wizard(self, order, user, quantities, reason=None, delivery=None, overpaid=None):
        """The Refund action of the order, as ``user`` fills it in: ``quantities`` by item position."""
        action = order.with_user(user).action_refund()
        with Form(self.env[action["res_model"]].with_user(user).with_context(action["context"])) as wizard:
            if reason:
                wizard.reason = reason
            if delivery is not None:
                wizard.delivery = delivery
            if overpaid is not None:
                wizard.overpaid = overpaid
            for index, quantity in quantities.items():
                with wizard.line_ids.edit(index) as line:
                    line.quantity = quantity
        result = wizard.record.action_refund()
        return self.env["allegro.refund"].browse(result["res_id"])

    def posts(self, path):
        return [r for r in self.emulator.requests if r.path == path and r.method == "POST"]

    # ------------------------------------------------------------------

    def test_one_of_two_items_refunded_credited_sent_and_commission_claimed_once(self):
        order = self.order_with_posted_invoice((0, 1), (1, 1))
        first, second = order.line_ids.sorted("id")
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        self.assertEqual(refund.state, "to_confirm")
        self.assertEqual(refund.amount_total, first.unit_price)
        self.assertEqual(refund.line_ids.order_line_id, first)
        self.assertEqual(self.env["allegro.refund"].with_user(self.seller).search([("state", "=", "to_confirm")]),
                         refund, "the seller sees it among the refunds to confirm")

        credit = refund.credit_note_id
        self.assertEqual(credit.move_type, "out_refund")
        self.assertEqual(credit.reversed_entry_id, order._invoices().filtered(lambda m: m.move_type == "out_invoice"))
        self.assertEqual(credit.state, "draft", "the shop leaves invoices to the accountant")
        self.assertEqual(credit.amount_total, refund.amount_total, "the credit note is the refund")
        self.assertEqual(credit.invoice_line_ids.sale_line_ids, first.sale_line_id, "only the refunded item")
        self.assertEqual(credit.invoice_line_ids.tax_ids, first.sale_line_id.tax_ids, "the invoice's taxes")
        credit.with_user(self.billing).action_post()
        self.assertEqual(credit.state, "posted")

        with self.assertRaises(AccessError, msg="a salesperson does not send money"):
            refund.with_user(self.seller).action_confirm()
        self.assertEqual(refund.state, "to_confirm")
        self.assertFalse(self.emulator.refunds)

        refund.with_user(self.billing).action_confirm()
        self.assertEqual(refund.state, "sending")
        self.assertEqual(refund.confirmed_by_id, self.billing)
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        [on_allegro] = self.emulator.refunds
        self.assertEqual(on_allegro["id"], refund.refund_ref)
        self.assertEqual(on_allegro["lineItems"], [{"id": first.allegro_ref, "type": "QUANTITY", "quantity": 1}])
        self.assertEqual(float(on_allegro["totalValue"]["amount"]), refund.amount_total)
        self.assertEqual(order.refunded_amount, refund.amount_total)
        self.assertEqual(order.refund_count, 1)
        self.assertTrue([body for body in order.message_ids.mapped("body") if "refunded to the buyer" in body])

        [claim] = refund.claim_ids
        self.assertEqual(claim.order_line_id, first)
        self.assertEqual(claim.state, "filed", claim.message)
        [filed] = self.emulator.refund_claims
        self.assertEqual(filed["id"], claim.claim_ref)
        self.assertEqual(filed["lineItem"]["id"], first.allegro_ref)
        self.assertEqual(claim.commission, round(first.unit_price * 0.1, 2))
        self.assertNotIn(second, self.env["allegro.refund.claim"].search([]).order_line_id)

        # Allegro decides; the scheduled action reads it, files nothing again.
        self.emulator.set_refund_claim_status(claim.claim_ref, "GRANTED")
        self.env["allegro.refund.claim"]._cron_follow()
        self.send_updates()
        self.assertEqual(claim.state, "accepted")
        self.assertEqual(len(self.posts(CLAIMS)), 1)
        self.assertEqual(len(self.posts(REFUNDS)), 1)
        claims = self.env["allegro.refund.claim"].with_user(self.seller).search([("state", "=", "accepted")])
        self.assertEqual(claims, claim, "the seller sees it under Accepted")

    def test_a_lost_answer_then_a_look_before_sending_again(self):
        order = self.order_with_posted_invoice((0, 2))
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        self.emulator.faults.lose_answer(count=1, path_prefix=REFUNDS, method="POST", status=504)
        refund.with_user(self.manager).action_confirm()
        self.send_updates()
        self.assertEqual(refund.state, "sending", "Allegro's answer was lost: the job comes back")
        self.assertEqual(len(self.emulator.refunds), 1, "Allegro made it all the same")
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        self.assertEqual(len(self.posts(REFUNDS)), 1, "found on Allegro, not asked again")
        self.assertEqual(len(self.emulator.refunds), 1)
        self.assertEqual(refund.refund_ref, self.emulator.refunds[0]["id"])

    def test_a_worker_killed_after_the_request_refunds_once(self):
        order = self.order_with_posted_invoice((0, 1), (1, 1))
        refund = self.refund_in_wizard(order, self.seller, {1: 1})
        refund.with_user(self.billing).action_confirm()
        self.kill_worker_after_request(refund.job_id, "allegro.refund", "_record_sent")
        self.assertEqual(len(self.emulator.refunds), 1, "Allegro took the request before the worker died")
        self.assertEqual(refund.state, "sending", "nothing of the dead attempt was kept")
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        self.assertEqual(len(self.emulator.refunds), 1)
        self.assertEqual(len(self.posts(REFUNDS)), 1)
        self.assertEqual(len(refund.claim_ids), 1)
        self.assertEqual(len(self.emulator.refund_claims), 1)

    def test_an_earlier_identical_refund_is_not_taken_for_a_lost_one(self):
        order = self.order_with_posted_invoice((0, 2))
        self.shop.refund_policy = "auto"
        first = self.env["allegro.refund"].with_user(self.seller)._prepare(
            order, {order.line_ids.id: 1}, reason="REFUND")
        self.send_updates()
        self.assertEqual(first.state, "done", first.message)
        second = self.env["allegro.refund"].with_user(self.seller)._prepare(
            order, {order.line_ids.id: 1}, reason="REFUND")
        self.emulator.faults.add(503, count=1, path_prefix=REFUNDS, method="POST")
        self.send_updates()
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(second.state, "done", second.message)
        self.assertEqual(len(self.emulator.refunds), 2, "the same item's second unit went back too")
        self.assertNotEqual(first.refund_ref, second.refund_ref)

    def test_refunds_confirmed_together_are_each_sent_once(self):
        first = self.order_with_posted_invoice((0, 1), (1, 1))
        second = self.order_with_posted_invoice((0, 1), (1, 1))
        refunds = self.env["allegro.refund"].browse([
            self.refund_in_wizard(order, self.seller, {0: 1, 1: 0}).id for order in (first, second)])
        refunds.with_user(self.billing).action_confirm()
        self.send_updates()
        self.assertEqual(refunds.mapped("state"), ["done", "done"], refunds.mapped("message"))
        self.assertEqual(len(self.posts(REFUNDS)), 2)

    def test_an_overpayment_is_refunded_once_and_never_more(self):
        form = self.emulator.add_order(**PAID, lineItems=items((0, 1)), delivery=DELIVERY)
        self.emulator.overpay(form["id"], "10.00")
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertAlmostEqual(order.paid_amount - order.total_to_pay, 10.0, places=2)
        with self.assertRaisesRegex(UserError, "overpaid 10.00 PLN"):
            self.refund_in_wizard(order, self.seller, {}, reason="OVERPAID", overpaid=10.01)
        refund = self.refund_in_wizard(order, self.seller, {}, reason="OVERPAID")
        self.assertEqual(refund.amount_total, 10.0, "the wizard offers what was overpaid")
        self.assertFalse(refund.credit_note_id, "an overpayment was never invoiced")
        refund.with_user(self.billing).action_confirm()
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        [sent] = self.emulator.refunds
        self.assertEqual(sent["overpaid"]["value"], {"amount": "10.00", "currency": "PLN"})
        self.assertNotIn("lineItems", sent)
        self.assertFalse(order._overpaid_left(), "the wizard offers no overpayment any more")
        with self.assertRaisesRegex(UserError, "overpaid 0.00 PLN"):
            self.env["allegro.refund"].with_user(self.seller)._prepare(order, {}, reason="OVERPAID", overpaid=1.0)

    def test_a_cancelled_paid_order_is_refunded_in_full(self):
        self.shop.invoice_policy = "never"
        order = self.imported(**PAID, lineItems=items((0, 2), (1, 1)), delivery=DELIVERY)
        self.emulator.cancel_order(order.allegro_ref)
        self.import_orders(self.shop)
        self.assertEqual(order.status, "CANCELLED")
        refund = self.refund_in_wizard(order, self.seller, {})
        self.assertEqual(refund.reason, "CANCELLED_BY_BUYER")
        self.assertEqual(refund.amount_total, order.paid_amount, "everything, the delivery included")
        self.assertEqual(refund.delivery_amount, 11.99)
        self.assertFalse(refund.credit_note_id)
        self.assertIn("no invoice", refund.message)
        refund.with_user(self.manager).action_confirm()
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        [on_allegro] = self.emulator.refunds
        self.assertEqual(on_allegro["totalValue"]["amount"], "%.2f" % order.paid_amount)
        self.assertEqual(on_allegro["delivery"]["value"]["amount"], "11.99")
        with self.assertRaisesRegex(UserError, "Nothing to refund"):
            self.refund_in_wizard(order, self.seller, {})

    def test_more_than_paid_is_refused_with_a_clear_message(self):
        order = self.order_with_posted_invoice((0, 1), (1, 1))
        with self.assertRaisesRegex(UserError, "At most 1 ×"):
            self.refund_in_wizard(order, self.seller, {0: 2})
        self.refund_in_wizard(order, self.seller, {0: 1})
        first = order.line_ids.sorted("id")[0]
        with self.assertRaisesRegex(UserError, "At most 0 ×.*1 refunded already"):
            self.env["allegro.refund"].with_user(self.seller)._prepare(order, {first.id: 1}, reason="REFUND")
        # Allegro paid less than the items (a voucher): the payment is the limit.
        order.sudo().paid_amount = order.line_ids.sorted("id")[0].unit_price + 1
        with self.assertRaisesRegex(UserError, "more than is left of the buyer's payment"):
            self.refund_in_wizard(order, self.seller, {0: 1})
        self.assertEqual(len(order.refund_ids), 1)
        self.assertFalse(self.emulator.refunds)

    def test_allegros_refusal_is_shown_on_the_refund_and_the_order(self):
        order = self.order_with_posted_invoice((0, 1))
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        # Refunded by hand on Allegro meanwhile: Allegro refuses a second one.
        self.emulator.refund_status = "SUCCESS"
        client = self.shop._allegro_client()
        client.create_refund("4f1e9ad4-8b47-4e35-a4e0-3b1e6a1c9b11", order.payment_ref, order.allegro_ref, "REFUND",
                             line_items=[{"id": order.line_ids.allegro_ref, "quantity": 1}])
        refund.with_user(self.billing).action_confirm()
        self.send_updates()
        self.assertEqual(refund.state, "error")
        self.assertIn("available: 0", refund.message)
        self.assertTrue(order.needs_attention)
        self.assertTrue([body for body in order.message_ids.mapped("body") if "available: 0" in body],
                        "said in the order's chatter")
        self.assertEqual(order.refunded_amount, 0)

    def test_refunds_sent_at_once_when_the_shop_says_so(self):
        self.shop.refund_policy = "auto"
        order = self.order_with_posted_invoice((2, 1))
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        self.assertEqual(refund.state, "sending")
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)

    def test_a_draft_invoice_gets_its_credit_note_once_posted(self):
        order = self.imported(**PAID, lineItems=items((0, 1), (1, 1)), delivery=DELIVERY)
        refund = self.refund_in_wizard(order, self.seller, {0: 1, 1: 1}, delivery=True)
        self.assertFalse(refund.credit_note_id)
        self.assertIn("not posted", refund.message)
        order._invoices().with_user(self.billing).action_post()
        refund.with_user(self.billing).action_make_credit_note()
        self.assertEqual(refund.credit_note_id.amount_total, refund.amount_total)
        self.assertEqual(refund.amount_total, order.total_to_pay, "all of it, the delivery included")

    def test_claim_already_filed_by_allegro_is_taken_not_filed_again(self):
        order = self.order_with_posted_invoice((0, 1))
        self.emulator.add_automatic_refund_claim(order.line_ids.allegro_ref)
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        refund.with_user(self.billing).action_confirm()
        self.send_updates()
        [claim] = refund.claim_ids
        self.assertEqual(claim.state, "filed", claim.message)
        self.assertEqual(claim.claim_type, "AUTOMATIC")
        self.assertEqual(len(self.emulator.refund_claims), 1)

    def test_no_claim_after_allegros_window(self):
        self.emulator.claim_window_days = 0
        order = self.order_with_posted_invoice((0, 1))
        order.sudo().bought_at = fields.Datetime.now().replace(year=2020)
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        refund.with_user(self.billing).action_confirm()
        self.send_updates()
        [claim] = refund.claim_ids
        self.assertEqual(claim.state, "expired")
        self.assertFalse(self.posts(CLAIMS))

    def test_another_companys_user_sees_no_refund(self):
        order = self.order_with_posted_invoice((0, 1))
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        other_company = self.env["res.company"].create({"name": "Other company"})
        outsider = new_test_user(self.env, "rf_outsider", company_id=other_company.id,
                                 company_ids=[(6, 0, other_company.ids)],
                                 groups="account.group_account_invoice,allegro_connector.group_allegro_manager")
        self.assertFalse(self.env["allegro.refund"].with_user(outsider).search([]))
        self.assertFalse(self.env["allegro.refund.line"].with_user(outsider).search([]))
        with self.assertRaises(AccessError):
            refund.with_user(outsider).action_confirm()
        with self.assertRaises(AccessError):
            self.env["allegro.refund"].with_user(outsider)._prepare(order, {order.line_ids.id: 1}, reason="REFUND")
        self.assertEqual(refund.state, "to_confirm")

    def test_posted_by_policy_and_paid_back_from_the_allegro_journal(self):
        bank = self.env["account.journal"].search(
            [("type", "=", "bank"), ("company_id", "=", self.env.company.id)], limit=1)
        self.shop.write({"invoice_post": True, "payment_journal_id": bank.id, "refund_policy": "auto"})
        order = self.imported(**PAID, lineItems=items((0, 1), (1, 1)), delivery=DELIVERY)
        invoice = order._invoices()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        refund = self.env["allegro.refund"].with_user(self.seller)._prepare(
            order, {line.id: 1 for line in order.line_ids}, reason="REFUND", delivery=True).with_env(self.env)
        credit = refund.credit_note_id
        self.assertEqual(credit.state, "posted", "the shop posts its invoices, and so its credit notes")
        self.assertEqual(credit.amount_total, invoice.amount_total)
        self.assertEqual(credit.payment_state, "not_paid", "the money has not gone back yet")
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        self.assertIn(credit.payment_state, ("paid", "in_payment"), "paid back through Allegro")
        self.assertEqual(float(self.emulator.refunds[0]["totalValue"]["amount"]), order.total_to_pay)

    def test_a_refund_allegro_gives_up_later_is_shown(self):
        self.emulator.refund_status = "IN_PROGRESS"
        order = self.order_with_posted_invoice((0, 1))
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        refund.with_user(self.billing).action_confirm()
        self.send_updates()
        self.assertEqual((refund.state, refund.allegro_status), ("done", "IN_PROGRESS"))
        self.emulator.set_refund_status(refund.refund_ref, "CANCELED")
        self.env["allegro.refund"]._cron_follow()
        self.assertEqual(refund.state, "error")
        self.assertIn("CANCELED", refund.message)
        self.assertTrue(order.needs_attention)
        self.assertEqual(order.refunded_amount, 0)

    def test_a_claim_status_odoo_does_not_know_is_kept_and_said(self):
        order = self.order_with_posted_invoice((0, 1))
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        refund.with_user(self.billing).action_confirm()
        self.send_updates()
        [claim] = refund.claim_ids
        self.emulator.set_refund_claim_status(claim.claim_ref, "UNDER_REVIEW_BY_A_HUMAN")
        self.env["allegro.refund.claim"]._cron_follow()
        self.assertEqual(claim.state, "filed")
        self.assertEqual(claim.allegro_status, "UNDER_REVIEW_BY_A_HUMAN")
        self.assertIn("UNDER_REVIEW_BY_A_HUMAN", claim.message)
        self.emulator.set_refund_claim_status(claim.claim_ref, "REJECTED")
        self.env["allegro.refund.claim"]._cron_follow()
        self.assertEqual(claim.state, "refused")
        self.assertFalse(claim.message)

    def test_a_lost_answer_on_the_claim_files_it_once(self):
        order = self.order_with_posted_invoice((0, 1))
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        refund.with_user(self.billing).action_confirm()
        self.emulator.faults.lose_answer(count=1, path_prefix=CLAIMS, method="POST")
        self.send_updates()
        [claim] = refund.claim_ids
        self.assertEqual(claim.state, "due")
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(claim.state, "filed", claim.message)
        self.assertEqual(len(self.posts(CLAIMS)), 1, "found on Allegro, not filed again")
        self.assertEqual(claim.claim_ref, self.emulator.refund_claims[0]["id"])

    def test_a_credited_order_does_not_hold_back_the_invoicing_of_others(self):
        older = self.order_with_posted_invoice((0, 2))
        refund = self.refund_in_wizard(older, self.seller, {0: 1})
        refund.credit_note_id.with_user(self.billing).action_post()
        self.assertEqual(older.sale_order_id.invoice_status, "to invoice", "Odoo's reading of a credit note")
        self.shop.invoice_policy = "never"
        newer = self.imported(**PAID, lineItems=items((1, 1)))
        self.assertFalse(newer._invoices())
        self.shop.invoice_policy = "paid"
        with patch("odoo.addons.allegro_connector.models.allegro_order_invoicing.INVOICE_BATCH", 1):
            self.env["allegro.order"]._cron_apply_invoice_policy()
        self.assertEqual(len(newer._invoices()), 1)
        self.assertEqual(len(older._invoices()), 2, "the invoice and its credit note, nothing more")

    def test_each_person_opens_the_refund_and_its_order(self):
        order = self.order_with_posted_invoice((0, 1))
        refund = self.refund_in_wizard(order, self.seller, {0: 1})
        refund.with_user(self.billing).action_confirm()
        self.send_updates()
        for user in (self.seller, self.billing, self.manager):
            for record in (refund, order, refund.claim_ids):
                views = self.env[record._name].with_user(user).get_views([(False, "form")])
                fields = views["models"][record._name]["fields"]
                values = record.with_user(user).web_read({name: {} for name in fields})[0]
                self.assertEqual(values["id"], record.id)
            self.assertEqual(self.env["allegro.refund"].with_user(user).search([]), refund)
        seller_form = self.env["allegro.refund"].with_user(self.seller).get_views([(False, "form")])
        self.assertNotIn("credit_note_id", seller_form["models"]["allegro.refund"]["fields"],
                         "invoices are the accountants'")
        self.assertFalse(seller_form["views"]["form"]["arch"].count("action_confirm"), "nor the button to send money")
        billing_form = self.env["allegro.refund"].with_user(self.billing).get_views([(False, "form")])
        self.assertIn("credit_note_id", billing_form["models"]["allegro.refund"]["fields"])
