"""Buyers' returns, each step as the person who does it, against the emulator over HTTP:
read from Allegro, received by the warehouse, rejected by a manager."""

from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged


from ..allegro_api.client import AllegroClient
from ..models import allegro_customer_return
from .common import AllegroEmulatorCase
from .test_order_import import PAID, items

RETURNS = "/order/customer-returns"
REFUNDS = "/payments/refunds"
DELIVERY = {"cost": {"amount": "11.99", "currency": "PLN"}}


@tagged("post_install", "-at_install")
class ReturnsCase(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_stocked_catalogue(20)
        cls.stock = cls.env.ref("stock.warehouse0").lot_stock_id
        cls.allegro_user = new_test_user(cls.env, "ret_user", groups="allegro_connector.group_allegro_user")
        cls.allegro_manager = new_test_user(cls.env, "ret_manager", groups="allegro_connector.group_allegro_manager")
        cls.warehouse_user = new_test_user(cls.env, "ret_warehouse", groups="stock.group_stock_user")
        cls.billing = new_test_user(cls.env, "ret_billing", groups="account.group_account_invoice")

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop()

    # what each person does -----------------------------------------------

    def delivered_order(self, *pairs, **overrides):
        """A paid order of ``pairs`` (catalogue index, quantity), its delivery validated by the warehouse."""
        order = self.imported(**PAID, lineItems=items(*pairs), **overrides)
        self.send_updates()
        picking = order.sale_order_id.picking_ids.with_user(self.warehouse_user)
        picking.write({"carrier_id": self.carrier.id, "carrier_tracking_ref": "620000000001"})
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
            move.picked = True
        self.assertIs(picking.button_validate(), True)
        self.send_updates()
        self.env.invalidate_all()
        return order

    def buyer_returns(self, order, *pairs, **fields):
        """The buyer returns ``pairs`` (line index, quantity) of the order on Allegro (all when none)."""
        form = self.emulator.get_order(order.allegro_ref)
        wanted = [(form["lineItems"][index]["offer"]["id"], quantity) for index, quantity in pairs] or None
        return self.emulator.add_customer_return(order.allegro_ref, wanted, **fields)

    def fetch_returns(self, user=None):
        """The Allegro user presses Fetch returns (or the scheduled job runs)."""
        shop = self.shop.with_user(user or self.allegro_user)
        result = shop.action_fetch_returns()
        self.env.invalidate_all()
        return result["params"]

    def customer_return(self, data):
        return self.env["allegro.customer.return"].search([("allegro_ref", "=", data["id"])])

    def on_hand(self, product):
        return sum(self.env["stock.quant"].search([("product_id", "=", product.id),
                                                   ("location_id", "=", self.stock.id)]).mapped("quantity"))

    def validate_receipt(self, receipt, quantities=None):
        """The warehouse validates the receipt; ``quantities`` (product -> qty) for a partial one."""
        receipt = receipt.with_user(self.warehouse_user)
        for move in receipt.move_ids:
            move.quantity = (quantities or {}).get(move.product_id, move.product_uom_qty)
            move.picked = bool(move.quantity)
        result = receipt.button_validate()
        if result is not True:  # a backorder for what did not come yet
            self.env["stock.backorder.confirmation"].with_user(self.warehouse_user).with_context(
                result["context"]).create({}).process()
        self.env.invalidate_all()


class TestReturnsImport(ReturnsCase):
    def test_a_return_read_twice_is_one_return_with_its_items_parcel_and_reason(self):
        order = self.delivered_order((0, 2), (1, 1))
        data = self.buyer_returns(order, (0, 1), reason="DONT_LIKE_IT", comment="Za mały", waybill="RET-0001",
                                  carrier_id="DPD")
        self.fetch_returns()
        self.fetch_returns()
        customer_return = self.customer_return(data)
        self.assertEqual(len(customer_return), 1)
        self.assertEqual(order.customer_return_ids, customer_return)
        self.assertEqual(order.customer_return_count, 1)
        self.assertEqual(customer_return.status_label, "Declared")
        self.assertEqual((customer_return.waybill, customer_return.carrier_code), ("RET-0001", "DPD"))
        self.assertEqual(customer_return.reference_number, data["referenceNumber"])
        line = customer_return.line_ids
        self.assertEqual((line.quantity, line.reason_label, line.comment), (1, "Does not like it", "Za mały"))
        offer_ref = data["items"][0]["offerId"]
        self.assertEqual(line.order_line_id, order.line_ids.filtered(lambda ol: ol.offer_ref == offer_ref))
        self.assertFalse(customer_return.needs_attention)
        # The Allegro user sees it in Sales > Allegro > Returns.
        self.assertEqual(self.env["allegro.customer.return"].with_user(self.allegro_user).search(
            [("order_id", "=", order.id)]), customer_return)

    def test_a_status_change_is_read_again_and_an_unknown_status_or_reason_is_kept(self):
        order = self.delivered_order((0, 1))
        data = self.buyer_returns(order, reason="SMELLS_FUNNY")
        self.fetch_returns()
        customer_return = self.customer_return(data)
        self.assertEqual(customer_return.line_ids.reason_label, "SMELLS_FUNNY (unknown to the connector)")
        self.assertIn("SMELLS_FUNNY", customer_return.attention_reason)

        self.emulator.set_customer_return_status(data["id"], "IN_TRANSIT")
        self.fetch_returns()
        self.assertEqual(customer_return.status_label, "In transit")
        self.emulator.set_customer_return_status(data["id"], "LOST_BY_CARRIER")
        params = self.fetch_returns()
        self.assertEqual(params["type"], "success")
        self.assertEqual(customer_return.status, "LOST_BY_CARRIER")
        self.assertEqual(customer_return.status_label, "LOST_BY_CARRIER (unknown to the connector)")
        self.assertIn("LOST_BY_CARRIER", customer_return.attention_reason)
        self.emulator.set_customer_return_status(data["id"], "FINISHED")
        self.fetch_returns()
        self.assertTrue(customer_return.settled)
        # A settled return is not asked for again.
        self.emulator.reset_requests()
        self.fetch_returns()
        self.assertFalse([r for r in self.emulator_calls(RETURNS) if r.query.get("customerReturnId")])

    def test_the_scheduled_action_reads_returns_in_a_job_per_shop(self):
        order = self.delivered_order((0, 1))
        data = self.buyer_returns(order)
        self.env["allegro.shop"]._cron_fetch_returns()
        self.env["allegro.shop"]._cron_fetch_returns()
        jobs = self.due_jobs().filtered(lambda j: j.method_name == "_fetch_returns_job")
        self.assertEqual(len(jobs), 1, "one job per shop, however often the schedule runs")
        self.run_jobs()
        self.env.invalidate_all()
        self.assertEqual(jobs.state, "done")
        self.assertEqual(self.customer_return(data).order_id, order)

    def test_the_position_resumes_after_a_failure_in_the_middle_of_a_run(self):
        orders = [self.imported(**PAID, lineItems=items((n, 1))) for n in range(5)]
        returned = [self.buyer_returns(order) for order in orders]
        emulator, calls = self.emulator, []
        original = AllegroClient.list_customer_returns

        def list_returns(client, *args, **kwargs):
            calls.append(kwargs.get("from_id"))
            if len(calls) == 2:  # Allegro goes down after the first page
                emulator.faults.add(503, count=None, path_prefix=RETURNS, retry_after=0)
            return original(client, *args, **kwargs)

        with patch.object(allegro_customer_return, "PAGE_SIZE", 2), \
                patch.object(AllegroClient, "list_customer_returns", list_returns):
            params = self.fetch_returns()
            self.assertEqual(params["type"], "danger")
            self.assertEqual(self.shop.return_cursor, returned[1]["id"], "the first page is kept")
            self.assertEqual(len(self.env["allegro.customer.return"].search([("shop_id", "=", self.shop.id)])), 2)
            self.emulator.faults.clear()
            self.fetch_returns()
        self.assertEqual(calls[2], returned[1]["id"], "the next run starts after the last page kept")
        stored = self.env["allegro.customer.return"].search([("shop_id", "=", self.shop.id)])
        self.assertEqual(sorted(stored.mapped("allegro_ref")), sorted(r["id"] for r in returned))
        self.assertEqual(self.shop.return_cursor, returned[-1]["id"])
        self.assertEqual(stored.order_id, self.env["allegro.order"].concat(*orders))

    def test_a_malformed_return_is_kept_and_flagged_and_the_others_go_on(self):
        order = self.delivered_order((0, 1), (1, 1))
        broken = self.buyer_returns(order, (0, 1))
        with self.emulator.lock:  # Allegro sends something the connector cannot read
            self.emulator.store.returns.returns[broken["id"]]["items"] = "not a list"
        good = self.buyer_returns(order, (1, 1))
        params = self.fetch_returns()
        self.assertEqual(params["type"], "success", "one bad return does not stop the run")
        kept = self.customer_return(broken)
        self.assertTrue(kept.needs_attention)
        self.assertIn("Could not read this return", kept.attention_reason)
        self.assertIn("not a list", kept.sudo().raw_payload)
        self.assertFalse(kept.line_ids)
        self.assertEqual(self.customer_return(good).line_ids.quantity, 1)
        self.assertEqual(self.shop.return_cursor, good["id"], "the cursor passes both")
        # The Allegro user can open both in the list and the form.
        returns = self.env["allegro.customer.return"].with_user(self.allegro_user).search([])
        self.assertEqual(len(returns), 2)
        self.assertTrue(returns.with_user(self.allegro_user).read(["status_label", "attention_reason", "refund_ids"]))

    def test_a_return_of_an_order_odoo_lacks_is_kept_flagged_and_linked_when_the_order_arrives(self):
        form = self.emulator.add_order(**PAID, lineItems=items((2, 1)))
        data = self.emulator.add_customer_return(form["id"])
        self.fetch_returns()
        customer_return = self.customer_return(data)
        self.assertFalse(customer_return.order_id)
        self.assertEqual(customer_return.order_ref, form["id"])
        self.assertIn("not in Odoo", customer_return.attention_reason)
        self.import_orders(self.shop)
        self.fetch_returns()
        self.assertEqual(customer_return.order_id.allegro_ref, form["id"])
        self.assertTrue(customer_return.line_ids.order_line_id)
        self.assertNotIn("not in Odoo", customer_return.attention_reason)
        # Not delivered yet: the receipt waits for the delivery, and the return says so.
        self.assertIn("no validated delivery", customer_return.attention_reason)

    def test_another_companys_user_sees_no_return(self):
        order = self.delivered_order((0, 1))
        data = self.buyer_returns(order)
        self.fetch_returns()
        customer_return = self.customer_return(data)
        company_b = self.env["res.company"].create({"name": "Returns B", "currency_id": self.env.ref("base.PLN").id})
        user_b = new_test_user(self.env, "ret_user_b", groups="allegro_connector.group_allegro_manager",
                               company_id=company_b.id, company_ids=[(6, 0, company_b.ids)])
        Return = self.env["allegro.customer.return"].with_user(user_b)
        self.assertFalse(Return.search([]))
        with self.assertRaises(AccessError):
            customer_return.with_user(user_b).read(["status", "waybill"])
        with self.assertRaises(AccessError):
            customer_return.line_ids.with_user(user_b).read(["comment"])
        with self.assertRaises(AccessError):
            customer_return.with_user(user_b).action_reject()


class TestReturnReceipt(ReturnsCase):
    def test_a_return_prepares_the_receipt_of_the_returned_items_with_the_waybill(self):
        order = self.delivered_order((0, 1), (1, 1))
        data = self.buyer_returns(order, (0, 1), waybill="RET-0042")
        self.fetch_returns()
        customer_return = self.customer_return(data)
        receipt = customer_return.picking_ids
        self.assertEqual(len(receipt), 1)
        self.assertEqual(receipt.picking_type_code, "incoming")
        self.assertEqual(receipt.carrier_tracking_ref, "RET-0042")
        self.assertEqual(receipt.return_id, order.sale_order_id.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing"))
        product = order.line_ids[0].product_id
        self.assertEqual([(m.product_id, m.product_uom_qty) for m in receipt.move_ids], [(product, 1)])
        # The warehouse user sees the receipt and the return it takes back.
        self.assertEqual(receipt.with_user(self.warehouse_user).allegro_customer_return_id.display_name,
                         customer_return.name)

    def test_a_second_return_of_the_same_order_receives_only_its_own_items(self):
        order = self.delivered_order((0, 2), (1, 1))
        first = self.customer_return_of(order, (0, 1))
        second = self.customer_return_of(order, (0, 1), (1, 1))
        self.assertEqual(order.customer_return_ids, first | second)
        product_0, product_1 = order.line_ids.product_id
        self.assertEqual(sorted((m.product_id.id, m.product_uom_qty) for m in first.picking_ids.move_ids),
                         [(product_0.id, 1)])
        self.assertEqual(sorted((m.product_id.id, m.product_uom_qty) for m in second.picking_ids.move_ids),
                         sorted([(product_0.id, 1), (product_1.id, 1)]))

    def customer_return_of(self, order, *pairs):
        data = self.buyer_returns(order, *pairs)
        self.fetch_returns()
        return self.customer_return(data)

    def test_a_return_before_the_delivery_gets_its_receipt_once_the_order_is_delivered(self):
        order = self.imported(**PAID, lineItems=items((3, 1)))
        data = self.buyer_returns(order)
        self.fetch_returns()
        customer_return = self.customer_return(data)
        self.assertFalse(customer_return.picking_ids)
        self.assertIn("no validated delivery", customer_return.attention_reason)
        picking = order.sale_order_id.picking_ids.with_user(self.warehouse_user)
        picking.move_ids.quantity = 1
        picking.move_ids.picked = True
        picking.button_validate()
        self.fetch_returns()
        self.assertEqual(customer_return.picking_ids.move_ids.product_uom_qty, 1)
        self.assertFalse(customer_return.needs_attention)


class TestReturnRejection(ReturnsCase):
    def reject(self, customer_return, user, code="REFUND_REJECTED", reason="Zwrócony towar jest uszkodzony."):
        action = customer_return.with_user(user).action_reject()
        wizard = self.env[action["res_model"]].with_user(user).with_context(action["context"]).create(
            {"code": code, "reason": reason})
        wizard.action_reject()
        self.env.invalidate_all()

    def test_the_manager_rejects_a_return_and_allegros_answer_is_kept(self):
        order = self.delivered_order((0, 1))
        data = self.buyer_returns(order)
        self.fetch_returns()
        customer_return = self.customer_return(data)
        self.reject(customer_return, self.allegro_manager)
        on_allegro = self.emulator.customer_return(data["id"])
        self.assertEqual(on_allegro["status"], "REJECTED")
        self.assertEqual(on_allegro["rejection"]["reason"], "Zwrócony towar jest uszkodzony.")
        self.assertEqual(customer_return.status, "REJECTED")
        self.assertEqual(customer_return.rejection_code, "REFUND_REJECTED")
        self.assertEqual(customer_return.rejection_reason, "Zwrócony towar jest uszkodzony.")
        self.assertIn("Rejected on Allegro", customer_return.rejection_message)
        # Once more: Allegro refuses, and its refusal is shown on the return.
        self.reject(customer_return, self.allegro_manager, code="ITEM_FIXED", reason=False)
        self.assertIn("Allegro refused the rejection", customer_return.rejection_message)
        self.assertIn("422", customer_return.rejection_message)
        self.assertEqual(customer_return.rejection_code, "REFUND_REJECTED")

    def test_an_allegro_user_cannot_reject_a_return(self):
        order = self.delivered_order((0, 1))
        data = self.buyer_returns(order)
        self.fetch_returns()
        customer_return = self.customer_return(data)
        with self.assertRaises(AccessError):
            customer_return.with_user(self.allegro_user).action_reject()
        with self.assertRaises(AccessError):
            customer_return.with_user(self.allegro_user)._reject("NO_RETURN_RIGHT", None)
        with self.assertRaises(AccessError):
            self.env["allegro.return.reject.wizard"].with_user(self.allegro_user).create(
                {"return_id": customer_return.id, "code": "NO_RETURN_RIGHT"})
        self.assertEqual(self.emulator.customer_return(data["id"])["status"], "CREATED")


class TestReturnRefund(ReturnsCase):
    """The whole loop: return, receipt, credit note, refund, commission claim."""

    def setUp(self):
        super().setUp()
        self.shop.invoice_policy = "paid"

    def invoiced_delivered_order(self, *pairs):
        order = self.delivered_order(*pairs, delivery=DELIVERY)
        order._invoices().with_user(self.billing).action_post()
        return order

    def received(self, order, *pairs, quantities=None):
        """The buyer returns ``pairs``; Odoo reads it; the warehouse validates its receipt."""
        data = self.buyer_returns(order, *pairs)
        self.fetch_returns()
        customer_return = self.customer_return(data)
        self.validate_receipt(customer_return.picking_ids, quantities)
        return customer_return

    def refund_posts(self):
        return [r for r in self.emulator.requests if r.path == REFUNDS and r.method == "POST"]

    def test_one_of_two_items_from_return_to_refund_and_claim_each_once(self):
        order = self.invoiced_delivered_order((0, 1), (1, 1))
        first, second = order.line_ids.sorted("id")
        before = self.on_hand(first.product_id), self.on_hand(second.product_id)
        customer_return = self.received(order, (0, 1))
        self.assertEqual(customer_return.picking_ids.state, "done")
        self.assertEqual((self.on_hand(first.product_id), self.on_hand(second.product_id)),
                         (before[0] + 1, before[1]), "the returned item is back in stock, only it")
        self.assertEqual(customer_return.line_ids.received_qty, 1)

        [refund] = customer_return.refund_ids
        self.assertEqual(refund.reason, "REFUND")
        self.assertEqual(refund.customer_return_ref, customer_return.allegro_ref)
        self.assertEqual([(rl.order_line_id, rl.quantity) for rl in refund.line_ids], [(first, 1)])
        self.assertFalse(refund.delivery_amount, "not everything came back: the delivery is not refunded")
        self.assertEqual(refund.state, "to_confirm")
        # The billing clerk posts the credit note, then confirms the refund.
        credit = refund.credit_note_id.with_user(self.billing)
        credit.action_post()
        self.assertEqual(credit.state, "posted")
        self.assertEqual(credit.move_type, "out_refund")
        self.assertEqual(credit.amount_total, refund.amount_total)
        refund.with_user(self.billing).action_confirm()
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        [on_allegro] = self.emulator.refunds
        self.assertEqual(on_allegro["lineItems"], [{"id": first.allegro_ref, "type": "QUANTITY", "quantity": 1}])
        self.assertEqual(float(on_allegro["totalValue"]["amount"]), credit.amount_total)
        [claim] = refund.claim_ids
        self.assertEqual(claim.order_line_id, first)
        self.assertEqual(len(self.emulator.refund_claims), 1)

        # A second look at the same receipt (a retry, a second validation hook) refunds nothing more.
        customer_return._on_receipt_done()
        self.fetch_returns()
        self.send_updates()
        self.assertEqual(customer_return.refund_ids, refund)
        self.assertEqual(customer_return.line_ids.refunded_qty, 1)
        self.assertEqual(len(self.refund_posts()), 1)
        self.assertEqual(len(self.emulator.refund_claims), 1)

    def test_a_lost_answer_on_the_refund_of_a_return_refunds_once(self):
        order = self.invoiced_delivered_order((0, 1), (1, 1))
        customer_return = self.received(order, (1, 1))
        refund = customer_return.refund_ids
        self.emulator.faults.lose_answer(count=1, path_prefix=REFUNDS, method="POST", status=504)
        refund.with_user(self.allegro_manager).action_confirm()
        self.send_updates()
        self.assertEqual(refund.state, "sending")
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        self.assertEqual(len(self.emulator.refunds), 1)
        self.assertEqual(len(self.refund_posts()), 1, "found on Allegro, not asked again")
        self.assertEqual(len(refund.claim_ids), 1)

    def test_a_worker_killed_after_the_refund_request_refunds_once(self):
        order = self.invoiced_delivered_order((0, 1), (1, 1))
        customer_return = self.received(order, (0, 1))
        refund = customer_return.refund_ids
        refund.with_user(self.billing).action_confirm()
        self.kill_worker_after_request(refund.job_id, "allegro.refund", "_record_sent")
        self.assertEqual(len(self.emulator.refunds), 1, "Allegro took the request before the worker died")
        self.send_updates()
        self.assertEqual(refund.state, "done", refund.message)
        self.assertEqual(len(self.emulator.refunds), 1)
        self.assertEqual(len(self.refund_posts()), 1)
        self.assertEqual(customer_return.refund_ids, refund)

    def test_a_receipt_in_two_steps_refunds_each_step_once_and_the_delivery_with_the_last(self):
        order = self.invoiced_delivered_order((0, 2))
        product = order.line_ids.product_id
        data = self.buyer_returns(order, (0, 2))
        self.fetch_returns()
        customer_return = self.customer_return(data)
        self.validate_receipt(customer_return.picking_ids, {product: 1})
        [first] = customer_return.refund_ids
        self.assertEqual((first.line_ids.quantity, first.delivery_amount), (1, 0))
        self.assertEqual(customer_return.line_ids.received_qty, 1)
        backorder = customer_return.picking_ids.filtered(lambda p: p.state != "done")
        self.assertEqual(len(backorder), 1, "the rest waits in a backorder of the same return")
        self.validate_receipt(backorder)
        second = customer_return.refund_ids - first
        self.assertEqual(second.line_ids.quantity, 1)
        self.assertEqual(second.delivery_amount, 11.99, "everything came back: the delivery cost too")
        self.assertEqual(customer_return.line_ids.refunded_qty, 2)
        self.assertAlmostEqual(first.amount_total + second.amount_total, order.paid_amount)
        for refund in first | second:
            refund.with_user(self.billing).action_confirm()
        self.send_updates()
        self.assertEqual((first | second).mapped("state"), ["done", "done"])
        self.assertEqual(len(self.emulator.refunds), 2)

    def test_a_second_return_of_the_same_order_refunds_its_own_items_and_the_delivery(self):
        order = self.invoiced_delivered_order((0, 1), (1, 1))
        first = self.received(order, (0, 1))
        second = self.received(order, (1, 1))
        self.assertEqual(order.customer_return_ids, first | second)
        self.assertEqual(first.refund_ids.line_ids.order_line_id, first.line_ids.order_line_id)
        self.assertEqual(second.refund_ids.line_ids.order_line_id, second.line_ids.order_line_id)
        self.assertFalse(first.refund_ids.delivery_amount)
        self.assertEqual(second.refund_ids.delivery_amount, 11.99)
        self.assertAlmostEqual(first.refund_ids.amount_total + second.refund_ids.amount_total, order.paid_amount)

    def test_a_return_not_shipped_back_is_refunded_at_once_when_the_shop_says_so(self):
        order = self.invoiced_delivered_order((0, 1), (1, 1))
        data = self.buyer_returns(order, (0, 1), shipped_back=False)
        self.fetch_returns()
        waiting = self.customer_return(data)
        self.assertFalse(waiting.shipped_back)
        self.assertTrue(waiting.picking_ids, "by default the refund waits for the receipt")
        self.assertFalse(waiting.refund_ids)

        self.shop.return_unshipped_policy = "refund"
        data = self.buyer_returns(order, (1, 1), shipped_back=False)
        self.fetch_returns()
        at_once = self.customer_return(data)
        self.assertFalse(at_once.picking_ids)
        self.assertEqual(at_once.refund_ids.line_ids.order_line_id, order.line_ids.sorted("id")[1])
        self.fetch_returns()
        self.assertEqual(len(at_once.refund_ids), 1)

    def test_a_rejected_return_received_is_not_refunded(self):
        order = self.invoiced_delivered_order((0, 1))
        data = self.buyer_returns(order)
        self.fetch_returns()
        customer_return = self.customer_return(data)
        action = customer_return.with_user(self.allegro_manager).action_reject()
        self.env[action["res_model"]].with_user(self.allegro_manager).with_context(action["context"]).create(
            {"code": "NO_RETURN_RIGHT"}).action_reject()
        self.env.invalidate_all()
        self.assertEqual(customer_return.status, "REJECTED")
        self.validate_receipt(customer_return.picking_ids)
        self.assertFalse(customer_return.refund_ids)
        self.assertFalse(self.env["allegro.refund"].search([("order_id", "=", order.id)]))

    def test_a_refund_that_cannot_be_prepared_is_shown_and_retried(self):
        self.shop.invoice_policy = "never"
        order = self.delivered_order((0, 1))
        order.sudo().paid_amount = 0  # Allegro says nothing was paid: nothing to give back yet
        customer_return = self.received(order, (0, 1))
        self.assertEqual(customer_return.picking_ids.state, "done", "the warehouse is never stopped")
        self.assertIn("no payment to refund", customer_return.refund_error)
        self.assertFalse(customer_return.line_ids.refunded_qty)
        with self.assertRaises(AccessError):
            customer_return.with_user(self.allegro_user).action_retry_refund()
        order.sudo().paid_amount = order.total_to_pay
        customer_return.with_user(self.billing).action_retry_refund()
        self.assertFalse(customer_return.refund_error)
        self.assertEqual(customer_return.refund_ids.line_ids.quantity, 1)
