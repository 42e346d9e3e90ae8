import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from odoo import Command, api, fields, models
from odoo.exceptions import LockError, UserError
from odoo.tools import float_compare, float_is_zero, float_repr

from odoo.addons.queue_job.exception import RetryableJobError

from ..allegro_api import errors as api_errors
from ..allegro_api.params import parse_timestamp
from ..const import CHANNEL_UPDATES, KEY_REFUND, REFUND_REASONS
from .allegro_rights import ALLEGRO_MANAGER, ALLEGRO_USER, BILLING, check_any_group
from .allegro_update import MAX_ATTEMPTS, _retry_seconds, queued_job_record

_logger = logging.getLogger(__name__)

REFUND_STATES = [
    ("to_confirm", "To confirm"),
    ("sending", "Being sent"),
    ("done", "Refunded"),
    ("error", "Refused"),
    ("cancelled", "Cancelled"),
]
# Refunds that hold (or may hold) part of the buyer's payment: what is left to refund excludes them.
ACTIVE_STATES = ("to_confirm", "sending", "done")
# Allegro's refund statuses that mean the money will not go back.
FAILED_ALLEGRO_STATUSES = ("CANCELED", "VALIDATE_FAILED")
# Allegro's refund statuses after which nothing changes any more.
FINAL_ALLEGRO_STATUSES = ("SUCCESS",) + FAILED_ALLEGRO_STATUSES
# Refunds read again per run of the scheduled action; the rest wait for the next.
FOLLOW_BATCH = 100
# Who confirms refunds, makes their credit notes and sees them.
CONFIRMER_GROUPS = (BILLING, ALLEGRO_MANAGER)
CONFIRMERS = ",".join(CONFIRMER_GROUPS)
# A refund found on Allegro after a lost answer was made after its confirmation; the two clocks may differ a little.
CLOCK_SKEW = timedelta(minutes=10)


class AllegroRefund(models.Model):
    """A refund of (part of) an Allegro order's payment to the buyer.

    Prepared by a return received in the warehouse or by the Refund action of
    the order, with the credit note reversing the refunded lines of the
    invoice. A person with the billing or Allegro manager right confirms it
    (unless the shop sends refunds at once), then its job asks Allegro. The
    id of that request (``command_ref``) is chosen and kept before it is
    sent: after a lost answer or a worker that died, the job looks for the
    refund on Allegro before asking again, so the buyer gets the money once.
    """

    _name = "allegro.refund"
    _description = "Allegro Refund"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    order_id = fields.Many2one("allegro.order", "Allegro order", required=True, readonly=True, index=True,
                               ondelete="restrict")
    shop_id = fields.Many2one("allegro.shop", required=True, readonly=True, index=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="order_id.currency_id", store=True)
    sale_order_id = fields.Many2one(related="order_id.sale_order_id")
    buyer_login = fields.Char(related="order_id.buyer_login")
    reason = fields.Char(
        "Reason code", required=True, readonly=True,
        help="Allegro's code of the refund's reason; one Odoo does not know is kept as Allegro gave it.")
    reason_label = fields.Char("Reason", compute="_compute_reason_label")
    line_ids = fields.One2many("allegro.refund.line", "refund_id", "Items", readonly=True)
    delivery_amount = fields.Monetary(
        "Delivery cost refunded", readonly=True,
        help="Refunded when the buyer gives back everything, as the law requires.")
    overpaid_amount = fields.Monetary(
        "Overpayment refunded", readonly=True,
        help="What the buyer paid over the order's total, given back: never invoiced, so on no credit note.")
    amount_total = fields.Monetary("Total", compute="_compute_amount_total", store=True)
    customer_return_ref = fields.Char(
        "Allegro return ID", readonly=True, index="btree_not_null",
        help="The buyer's return on Allegro this refund is for; empty for a refund without a return.")
    customer_return_id = fields.Many2one("allegro.customer.return", "Return", readonly=True,
                                         index="btree_not_null", ondelete="set null")
    state = fields.Selection(REFUND_STATES, default="to_confirm", required=True, readonly=True, index=True,
                             tracking=True)
    command_ref = fields.Char(
        "Command ID", required=True, readonly=True, copy=False, default=lambda self: str(uuid.uuid4()),
        help="The id Odoo gave the refund request, kept before it is sent: a request whose answer was lost "
        "is looked for on Allegro, never made a second time.")
    refund_ref = fields.Char("Allegro refund ID", readonly=True, copy=False, index="btree_not_null")
    allegro_status = fields.Char("Status on Allegro", readonly=True, copy=False)
    # Invoices are the accountants' (and the managers' who confirm refunds).
    credit_note_id = fields.Many2one("account.move", "Credit note", readonly=True, copy=False,
                                     index="btree_not_null", groups=CONFIRMERS)
    credit_note_state = fields.Selection(related="credit_note_id.state", string="Credit note status",
                                         groups=CONFIRMERS)
    message = fields.Text(
        "Problem", readonly=True, copy=False,
        help="Allegro's refusal, or what kept Odoo from making the credit note.")
    claim_ids = fields.Many2many("allegro.refund.claim", string="Commission claims", readonly=True, copy=False)
    confirmed_by_id = fields.Many2one("res.users", "Confirmed by", readonly=True, copy=False)
    confirmed_at = fields.Datetime("Confirmed on", readonly=True, copy=False)
    done_at = fields.Datetime("Refunded on", readonly=True, copy=False)
    look_up_first = fields.Boolean(
        "May have reached Allegro", readonly=True, copy=False,
        help="An attempt ended without Allegro's answer: Allegro's refunds are read before sending again.")
    job_id = fields.Many2one("queue.job", "Job", readonly=True, copy=False, ondelete="set null",
                             groups=ALLEGRO_MANAGER)

    _command_unique = models.Constraint("UNIQUE(command_ref)", "A command id is used for one refund only.")

    @api.depends("order_id", "amount_total")
    def _compute_display_name(self):
        for refund in self:
            refund.display_name = self.env._("Refund %(number)s of %(order)s", number=refund.id or "",
                                             order=refund.order_id.display_name)

    @api.depends("reason")
    @api.depends_context("lang")
    def _compute_reason_label(self):
        labels = dict(self.env["allegro.refund.wizard"]._fields["reason"]._description_selection(self.env))
        for refund in self:
            refund.reason_label = labels.get(refund.reason, refund.reason)

    @api.depends("line_ids.amount", "delivery_amount", "overpaid_amount")
    def _compute_amount_total(self):
        for refund in self:
            refund.amount_total = sum(refund.line_ids.mapped("amount")) + refund.delivery_amount \
                + refund.overpaid_amount

    # ------------------------------------------------------------------
    # Preparing
    # ------------------------------------------------------------------

    @api.model
    def _prepare(self, order, quantities, *, reason, delivery=False, overpaid=0.0, customer_return_ref=False):
        """Record the refund of ``quantities`` (``{allegro.order.line id: quantity}``) of ``order``,
        of its delivery cost with ``delivery`` and of ``overpaid`` (money paid over its total), then
        make its credit note and follow the shop's policy (sent at once, or left for a person to
        confirm). Returns the refund.

        Never more than the buyer paid and is left to refund: a clear UserError otherwise. The caller
        needs to read the order (the connector's own calls run as superuser)."""
        order.ensure_one()
        order = order.with_env(self.env)
        if not self.env.su:
            check_any_group(order, (ALLEGRO_USER, BILLING), "read")
        order = order.sudo()
        if reason not in dict(REFUND_REASONS):
            raise UserError(self.env._("Allegro takes no refund for the reason %(reason)s.", reason=reason))
        if not order.payment_ref or float_is_zero(order.paid_amount, precision_rounding=order.currency_id.rounding):
            raise UserError(self.env._("Order %(order)s has no payment to refund.", order=order.display_name))
        try:
            # Two refunds of one order prepared at once would each see what the other takes.
            order.lock_for_update(allow_referencing=True)
        except LockError:
            raise UserError(self.env._(
                "Order %(order)s is being changed by someone else: try again in a moment.",
                order=order.display_name)) from None
        refunded_quantities, refunded_delivery, refunded_total = order._refunded()
        lines = []
        for line_id, quantity in quantities.items():
            if not quantity:
                continue
            line = self.env["allegro.order.line"].sudo().browse(int(line_id)).exists()
            if not line or line.order_id != order:
                raise UserError(self.env._("The item %(line)s is not one of order %(order)s.",
                                           line=line_id, order=order.display_name))
            if quantity != int(quantity) or quantity < 0:
                raise UserError(self.env._("Refund whole items of %(item)s.", item=line.offer_name))
            available = line.quantity - refunded_quantities.get(line, 0)
            if quantity > available:
                raise UserError(self.env._(
                    "At most %(available)s × %(item)s can be refunded: the buyer bought %(bought)s, "
                    "%(refunded)s refunded already.", available=max(available, 0), item=line.offer_name,
                    bought=line.quantity, refunded=refunded_quantities.get(line, 0)))
            lines.append((line, int(quantity)))
        delivery_amount = 0.0
        if delivery:
            delivery_amount = order.currency_id.round(order.delivery_cost - refunded_delivery)
            if delivery_amount <= 0:
                raise UserError(self.env._("The delivery cost of %(order)s is refunded already, or there was none.",
                                           order=order.display_name))
        currency = order.currency_id
        overpaid = currency.round(overpaid or 0.0)
        if float_compare(overpaid, 0.0, precision_rounding=currency.rounding) < 0:
            raise UserError(self.env._("An overpayment to refund cannot be negative."))
        overpaid_left = order._overpaid_left()
        if float_compare(overpaid, overpaid_left, precision_rounding=currency.rounding) > 0:
            raise UserError(self.env._(
                "The buyer of %(order)s overpaid %(left)s %(currency)s that is not refunded yet: %(amount)s "
                "%(currency)s is more.", order=order.display_name, currency=currency.name,
                left=float_repr(overpaid_left, currency.decimal_places),
                amount=float_repr(overpaid, currency.decimal_places)))
        total = sum(currency.round(line.unit_price * quantity) for line, quantity in lines) + delivery_amount \
            + overpaid
        if currency.is_zero(total):
            raise UserError(self.env._("Nothing to refund: choose items, the delivery cost or an overpayment."))
        left = order.paid_amount - refunded_total
        if float_compare(total, left, precision_rounding=currency.rounding) > 0:
            raise UserError(self.env._(
                "A refund of %(amount)s %(currency)s is more than is left of the buyer's payment: "
                "%(left)s %(currency)s (paid %(paid)s, refunded already %(refunded)s).",
                amount=float_repr(total, currency.decimal_places), currency=currency.name,
                left=float_repr(max(left, 0), currency.decimal_places),
                paid=float_repr(order.paid_amount, currency.decimal_places),
                refunded=float_repr(refunded_total, currency.decimal_places)))
        refund = self.sudo().create({
            "order_id": order.id,
            "shop_id": order.shop_id.id,
            "reason": reason,
            "line_ids": [Command.create({"order_line_id": line.id, "quantity": quantity})
                         for line, quantity in lines],
            "delivery_amount": delivery_amount,
            "overpaid_amount": overpaid,
            "customer_return_ref": customer_return_ref or False,
        })
        refund = refund.with_context(lang=refund.shop_id._allegro_lang())
        refund._make_credit_note()
        order.message_post(body=self.env._(
            "Refund of %(amount)s %(currency)s prepared (%(reason)s).",
            amount=float_repr(refund.amount_total, currency.decimal_places), currency=currency.name,
            reason=refund.reason_label), subtype_xmlid="mail.mt_note")
        if refund.shop_id.refund_policy == "auto":
            refund._start_sending()
        else:
            refund._ask_confirmation()
        return refund.with_env(self.env)

    def _ask_confirmation(self):
        """An activity for the shop's salesperson when they may confirm refunds; the others find it
        under the refunds to confirm."""
        user = self.shop_id.user_id
        if user and (user.has_group(BILLING) or user.has_group(ALLEGRO_MANAGER)):
            self.activity_schedule("mail.mail_activity_data_todo", user_id=user.id, summary=self.env._(
                "Confirm the refund to the buyer"))

    # ------------------------------------------------------------------
    # The credit note
    # ------------------------------------------------------------------

    def _make_credit_note(self):
        """Odoo's reversal of the order's posted invoice, cut to the refunded items and quantities (and the
        delivery when refunded): the invoice's taxes, so that its total is the refund's. Posted when the
        shop posts its invoices; a billing clerk posts a draft the usual way. Without an invoice, none:
        the refund says so."""
        self.ensure_one()
        order = self.order_id
        if not self.line_ids and not self.delivery_amount:
            self.message = self.env._("No credit note: an overpayment was never invoiced.")
            return self.env["account.move"]
        sale_lines = self.line_ids.order_line_id.sale_line_id
        invoices = order._invoices().filtered(lambda m: m.move_type == "out_invoice" and m.state == "posted")
        invoice = invoices.filtered(lambda m: sale_lines <= m.invoice_line_ids.sale_line_ids)[-1:] if sale_lines \
            else invoices[-1:]
        if not invoice:
            drafts = order._invoices().filtered(lambda m: m.move_type == "out_invoice" and m.state == "draft")
            self.message = self.env._(
                "No credit note: the order's invoice is not posted yet. Post it, then make the credit note "
                "from this refund.") if drafts else self.env._("No credit note: the order has no invoice.")
            return self.env["account.move"]
        invoice = invoice.sudo().with_company(invoice.company_id)
        credit = invoice._reverse_moves([{
            "invoice_date": fields.Date.context_today(self),
            "date": fields.Date.context_today(self),
            "ref": self.env._("Allegro refund of %(invoice)s", invoice=invoice.name),
            "allegro_order_id": order.id,
        }])
        quantities = {line.order_line_id.sale_line_id: line.quantity for line in self.line_ids
                      if line.order_line_id.sale_line_id}
        commands = []
        for line in credit.invoice_line_ids.filtered(lambda l: l.display_type == "product"):
            sale_line = line.sale_line_ids[:1]
            if sale_line and sale_line in quantities:
                commands.append(Command.update(line.id, {"quantity": quantities[sale_line]}))
            elif sale_line.is_delivery and self.delivery_amount:
                if line.currency_id.compare_amounts(line.price_total, self.delivery_amount):
                    commands.append(Command.update(line.id, {"quantity": 1, "price_unit": self.delivery_amount}))
            else:
                commands.append(Command.delete(line.id))
        credit.write({"invoice_line_ids": commands})
        self.credit_note_id = credit
        message = False
        if credit.currency_id.compare_amounts(credit.amount_total, self.amount_total - self.overpaid_amount):
            message = self.env._(
                "The credit note's total (%(credit)s) differs from the refund: check it before it is posted.",
                credit=float_repr(credit.amount_total, credit.currency_id.decimal_places))
        elif self.shop_id.invoice_post:
            credit.action_post()
        self.message = message
        credit.message_post(body=self.env._("Credit note of the Allegro refund of order %(order)s.",
                                            order=order.display_name))
        return credit

    def action_make_credit_note(self):
        """Make the credit note missing when the refund was prepared (the invoice was not posted yet)."""
        check_any_group(self, CONFIRMER_GROUPS, "read")
        for refund in self.sudo().filtered(lambda r: not r.credit_note_id and r.state != "cancelled"):
            credit = refund._make_credit_note()
            if not credit:
                raise UserError(refund.message)
        return self.action_open_credit_note() if len(self) == 1 else True

    def action_open_credit_note(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": "account.move", "res_id": self.credit_note_id.id,
                "view_mode": "form"}

    # ------------------------------------------------------------------
    # Confirming and sending
    # ------------------------------------------------------------------

    def action_confirm(self):
        """Send the money back to the buyer: the billing or Allegro manager right."""
        check_any_group(self, CONFIRMER_GROUPS, "read")
        refunds = self.filtered(lambda r: r.state == "to_confirm")
        if not refunds:
            raise UserError(self.env._("Only refunds waiting for confirmation can be confirmed."))
        refunds.sudo().write({"confirmed_by_id": self.env.uid, "confirmed_at": fields.Datetime.now()})
        refunds.sudo().activity_ids.action_feedback(feedback=self.env._("Confirmed."))
        refunds.sudo()._start_sending()
        return True

    def action_retry(self):
        """Send a refused refund again (e.g. after Allegro was fixed): Allegro is read first."""
        check_any_group(self, CONFIRMER_GROUPS, "read")
        refunds = self.filtered(lambda r: r.state == "error")
        refunds.sudo().write({"look_up_first": True})
        refunds.sudo()._start_sending()
        return True

    def action_cancel(self):
        """Give up a refund not sent yet; its draft credit note goes with it."""
        check_any_group(self, CONFIRMER_GROUPS, "read")
        for refund in self.sudo():
            if refund.state not in ("to_confirm", "error"):
                raise UserError(self.env._("A refund being sent or sent cannot be cancelled."))
            if refund.credit_note_id.state == "draft":
                refund.credit_note_id.button_cancel()
            refund.write({"state": "cancelled"})
            refund.activity_ids.unlink()
        return True

    def _start_sending(self):
        self.write({"state": "sending", "message": False})
        self.filtered(lambda r: not r.confirmed_at).write({"confirmed_at": fields.Datetime.now()})
        self._enqueue()

    def _enqueue(self):
        for refund in self:
            job = refund.with_delay(
                channel=CHANNEL_UPDATES, identity_key=KEY_REFUND % refund.id, max_retries=MAX_ATTEMPTS,
                description=self.env._("Allegro: %(refund)s", refund=refund.display_name),
            )._send_job()
            refund.job_id = queued_job_record(job)

    def _send_job(self):
        """The job of one refund: ask Allegro once. A repeat (a retry after a lost answer, a worker that
        died after the request) first looks for the refund Allegro may have made then."""
        self.ensure_one()
        # The person's right was checked when they confirmed; the request is the connector's work.
        refund = self.sudo()
        refund = refund.with_context(lang=refund.shop_id._allegro_lang())
        if refund.state != "sending":
            return refund.env._("Nothing to send: the refund is no longer being sent.")
        job_uuid = self.env.context.get("job_uuid")
        job = job_uuid and self.env["queue.job"].sudo().search([("uuid", "=", job_uuid)], limit=1)
        client = refund.shop_id._allegro_client()
        try:
            found = refund._find_on_allegro(client) if refund.look_up_first or (job and job.retry) else None
            answer = found or refund._request(client)
        except api_errors.AllegroError as error:
            text = refund.shop_id._allegro_error_text(error)
            if error.retryable:
                raise RetryableJobError(text, seconds=_retry_seconds(error)) from error
            refund._record_refusal(text)
            return text
        except ValueError as error:  # what the client refuses to send
            refund._record_refusal(str(error))
            return str(error)
        refund._record_sent(answer)
        return refund.env._("Refunded on Allegro: %(ref)s", ref=refund.refund_ref)

    def _request(self, client):
        order = self.order_id
        currency = self.currency_id
        def price(amount):
            return {"amount": float_repr(amount, currency.decimal_places), "currency": currency.name} \
                if amount else None

        return client.create_refund(
            self.command_ref, order.payment_ref, order.allegro_ref, self.reason,
            line_items=[{"id": line.order_line_id.allegro_ref, "quantity": line.quantity} for line in self.line_ids],
            delivery=price(self.delivery_amount), overpaid=price(self.overpaid_amount))

    def _find_on_allegro(self, client):
        """The refund an earlier attempt made, or None: Allegro's refunds do not show the request's id, so
        it is the order's refund with the same reason, items and total, made since the confirmation and
        not known to Odoo as another refund."""
        known = set(self.search([("order_id", "=", self.order_id.id), ("refund_ref", "!=", False)])
                    .mapped("refund_ref"))
        since = (self.confirmed_at or self.create_date) - CLOCK_SKEW
        items = sorted((line.order_line_id.allegro_ref, line.quantity) for line in self.line_ids)
        total = Decimal(float_repr(self.amount_total, self.currency_id.decimal_places))
        for found in client.iter_refunds(order_id=self.order_id.allegro_ref):
            if found.get("id") in known or found.get("reason") != self.reason:
                continue
            try:
                same_total = Decimal(str((found.get("totalValue") or {}).get("amount"))) == total
            except ArithmeticError:
                continue
            made = parse_timestamp(found.get("createdAt"))
            lines = sorted((li.get("id"), li.get("quantity")) for li in found.get("lineItems") or [])
            if same_total and lines == items and made and made >= since:
                _logger.info("Allegro refund %s: the earlier attempt made %s", self.id, found["id"])
                return found
        return None

    def _record_sent(self, answer):
        status = answer.get("status")
        values = {"refund_ref": answer.get("id"), "allegro_status": status, "look_up_first": False}
        if status in FAILED_ALLEGRO_STATUSES:
            self.write(dict(values, state="error"))
            self._note_refusal(self.env._("Allegro did not make the refund (status %(status)s).", status=status))
            return
        self.write(dict(values, state="done", done_at=fields.Datetime.now(), message=False))
        currency = self.currency_id
        self.order_id.message_post(body=self.env._(
            "%(amount)s %(currency)s refunded to the buyer on Allegro.",
            amount=float_repr(self.amount_total, currency.decimal_places), currency=currency.name),
            subtype_xmlid="mail.mt_note")
        self._register_refund_payment()
        self.env["allegro.refund.claim"]._claim_for(self)

    def _register_refund_payment(self):
        """Allegro paid the buyer back: the posted credit note is paid from the journal the shop's Allegro
        payments go into, as its invoice was paid into it."""
        for refund in self.filtered(lambda r: r.state == "done"):
            credit = refund.credit_note_id
            shop = refund.shop_id.sudo()
            journal = shop.payment_journal_id
            # A shop booking its wallet gets the refund from Allegro's own operation, matched to the credit note.
            if not journal or shop.book_allegro_money or credit.state != "posted" \
                    or credit.payment_state not in ("not_paid", "partial"):
                continue
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=credit.ids
            ).create({"journal_id": journal.id, "payment_date": (refund.done_at or fields.Datetime.now()).date()}
                     )._create_payments()

    @api.model
    def _cron_follow(self):
        """Read again the refunds Allegro took but has not finished (their money still on its way): one it
        gives up shows as refused on the refund and the order."""
        refunds = self.sudo().search([("state", "=", "done"), ("refund_ref", "!=", False),
                                      ("allegro_status", "not in", FINAL_ALLEGRO_STATUSES)],
                                     limit=FOLLOW_BATCH, order="write_date, id")
        for shop, shop_refunds in refunds.grouped("shop_id").items():
            shop = shop._in_allegro_lang()
            client = shop._allegro_client()
            for refund in shop_refunds.with_env(shop.env):
                try:
                    found = next(iter(client.iter_refunds(refund_id=refund.refund_ref)), None)
                except api_errors.AllegroError as error:
                    _logger.info("Allegro refund %s not read: %s", refund.refund_ref, error)
                    if error.retryable:
                        break  # Allegro busy or away: the next run goes on
                    continue
                status = (found or {}).get("status")
                if not status or status == refund.allegro_status:
                    continue
                refund.allegro_status = status
                if status in FAILED_ALLEGRO_STATUSES:
                    refund.state = "error"
                    refund._note_refusal(refund.env._("Allegro did not make the refund (status %(status)s).",
                                                      status=status))

    def _record_refusal(self, text):
        self.write({"state": "error", "look_up_first": False})
        self._note_refusal(text)

    def _note_refusal(self, text):
        self.message = text
        self.order_id.message_post(body=self.env._(
            "Allegro refused the refund of %(amount)s %(currency)s: %(error)s",
            amount=float_repr(self.amount_total, self.currency_id.decimal_places), currency=self.currency_id.name,
            error=text), subtype_xmlid="mail.mt_note")
        self.order_id._flag(self.env._("Allegro refused a refund: %(error)s", error=text))

    def _on_job_failed(self, exc_message=None, exc_name=None, **_fail_values):
        """The job gave up (Allegro did not answer through all attempts): shown on the refund; a retry
        reads Allegro first, as the request may have reached it."""
        for refund in self.sudo().filtered(lambda r: r.state == "sending"):
            refund = refund.with_context(lang=refund.shop_id._allegro_lang())
            refund.write({"state": "error", "look_up_first": True})
            refund._note_refusal(exc_message or exc_name or refund.env._("Unknown error"))


class AllegroRefundLine(models.Model):
    _name = "allegro.refund.line"
    _description = "Allegro Refund Item"

    refund_id = fields.Many2one("allegro.refund", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="refund_id.company_id", store=True)
    currency_id = fields.Many2one(related="refund_id.currency_id")
    order_line_id = fields.Many2one("allegro.order.line", "Item", required=True, readonly=True,
                                    ondelete="restrict", index=True)
    offer_name = fields.Char(related="order_line_id.offer_name")
    quantity = fields.Integer(required=True, readonly=True)
    unit_price = fields.Monetary(related="order_line_id.unit_price")
    amount = fields.Monetary(compute="_compute_amount", store=True)

    @api.depends("quantity", "order_line_id.unit_price")
    def _compute_amount(self):
        for line in self:
            line.amount = line.currency_id.round(line.order_line_id.unit_price * line.quantity) \
                if line.currency_id else line.order_line_id.unit_price * line.quantity

