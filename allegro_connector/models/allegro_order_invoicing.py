from odoo import api, fields, models
from odoo.exceptions import UserError

from .allegro_rights import BILLING, check_group

# Orders the scheduled invoicing handles per run; the rest wait for the next.
INVOICE_BATCH = 200


class AllegroOrderInvoicing(models.AbstractModel):
    """Invoices of Allegro orders: drafted (or posted) by policy, linked, sent to Allegro.
    Part of ``allegro.order``."""

    _name = "allegro.order.invoicing"
    _description = "Allegro order invoicing"

    def _invoices(self):
        return (self.sale_order_id.invoice_ids | self.invoice_ids).filtered(
            lambda m: m.move_type in ("out_invoice", "out_refund"))

    def action_open_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("account.action_move_out_invoice_type")
        action["domain"] = [("id", "in", self._invoices().ids)]
        action["context"] = {"default_move_type": "out_invoice"}
        return action

    def action_create_invoice(self):
        self.ensure_one()
        check_group(self, BILLING, "read")
        invoice = self._create_invoice()
        return {"type": "ir.actions.act_window", "res_model": "account.move", "res_id": invoice.id,
                "view_mode": "form"}

    def action_link_invoice(self):
        self.ensure_one()
        check_group(self, BILLING, "read")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Link an existing invoice"),
            "res_model": "allegro.link.invoice.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_order_id": self.id},
        }

    # ------------------------------------------------------------------
    # Policy
    # ------------------------------------------------------------------

    def _apply_invoice_policy(self, trigger):
        """Create the invoice when the shop's policy says this is the moment.

        ``trigger`` is "paid" (a revision arrived paid) or "delivered".
        The invoice is made with the rights of the user who acted; one who may
        not invoice leaves it to the scheduled action."""
        # Called from the connector's bookkeeping too (a delivery validated):
        # the invoice is made by the person, not by the elevated environment.
        orders = self.sudo(False)
        if not (orders.env.su or orders.env.user.has_group(BILLING)):
            if orders.sudo().filtered(lambda o: o._invoice_due(trigger)):
                self.env.ref("allegro_connector.ir_cron_apply_invoice_policy")._trigger()
            return
        for order in orders:
            if order._invoice_due(trigger):
                order._create_invoice()

    def _invoice_due(self, trigger):
        """Whether the shop's policy asks for the invoice of this order now."""
        self.ensure_one()
        # The shop's policy is read by whoever acts (an accountant need not see the shop).
        shop = self.shop_id.sudo()
        sale = self.sale_order_id
        if (
            shop.invoice_policy != trigger
            or not sale
            or sale.state != "sale"
            or self.status == "CANCELLED"
            or self.amount_mismatch
            or self._invoices()
        ):
            return False
        return trigger != "paid" or self.payment_status == "paid"

    @api.model
    def _cron_apply_invoice_policy(self):
        """Invoice every order its shop's policy says to that has no invoice
        yet, not only those a revision or a delivery just touched: a policy
        switched on later catches up. At most INVOICE_BATCH orders per run,
        each in its own savepoint so one refused invoice does not stop the rest."""
        orders = self.search(
            [
                ("shop_id.invoice_policy", "!=", "never"),
                ("sale_order_id.state", "=", "sale"),
                ("sale_order_id.invoice_status", "=", "to invoice"),
                # Invoiced already (a credit note makes Odoo read its lines as to invoice again).
                ("sale_order_id.invoice_ids", "=", False),
                ("invoice_ids", "=", False),
                ("status", "!=", "CANCELLED"),
                ("amount_mismatch", "=", False),
            ],
            limit=INVOICE_BATCH,
            order="bought_at, id",
        )
        for order in orders:
            # Invoices, notes and flags in the shop's language, not the scheduled action's.
            order = order.with_context(lang=order.shop_id._allegro_lang())
            trigger = order.shop_id.invoice_policy
            if trigger == "delivered" and not order._delivered():
                continue
            try:
                with self.env.cr.savepoint():
                    order._apply_invoice_policy(trigger)
            except UserError as error:
                order._flag(order.env._("The invoice could not be created: %(error)s", error=error))

    def _delivered(self):
        outgoing = self.sale_order_id.picking_ids.filtered(lambda p: p.picking_type_code == "outgoing")
        states = set(outgoing.mapped("state"))
        return "done" in states and states <= {"done", "cancel"}

    def _create_invoice(self):
        self.ensure_one()
        sale = self.sale_order_id
        if not sale or sale.state != "sale":
            raise UserError(self.env._("Confirm the sale order of %(order)s first.", order=self.display_name))
        invoice = sale.with_context(mail_create_nolog=True, mail_create_nosubscribe=True)._create_invoices(
            final=True
        )
        invoice.write({"allegro_order_id": self.id, "ref": "Allegro %s" % self.allegro_ref})
        if self.shop_id.sudo().invoice_post:
            invoice.action_post()
            self._register_allegro_payment(invoice)
        return invoice

    def _register_allegro_payment(self, invoice):
        """Allegro collected the money: record it against the shop's journal (unless the wallet's own
        operation books that payment, matched to the invoice: paying it here too would pay it twice)."""
        shop = self.shop_id.sudo()
        journal = shop.payment_journal_id
        if not journal or shop.book_allegro_money or self.payment_status != "paid" or invoice.state != "posted":
            return
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"journal_id": journal.id, "payment_date": (self.paid_at or fields.Datetime.now()).date()}
                 )._create_payments()

    def _on_invoice_posted(self, invoice):
        """Send the PDF when the buyer asked for an invoice; close if asked."""
        if self.invoice_required and not invoice.allegro_invoice_ref:
            if invoice._allegro_waits_for_ksef():
                invoice.allegro_upload_state = "ksef"
            else:
                invoice._queue_allegro_upload()
        if self.shop_id.close_on_invoice:
            self.closed = True
