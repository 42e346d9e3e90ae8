from odoo import Command, api, fields, models

from ..const import REFUND_REASONS


class AllegroRefundWizard(models.TransientModel):
    """The Refund action of an Allegro order: what to give back to the buyer without a return (a
    cancelled paid order, a missing item, an overpayment). The amounts are checked when it is made."""

    _name = "allegro.refund.wizard"
    _description = "Refund an Allegro order"

    order_id = fields.Many2one("allegro.order", required=True, readonly=True)
    currency_id = fields.Many2one(related="order_id.currency_id")
    reason = fields.Selection(REFUND_REASONS, required=True, default="REFUND")
    line_ids = fields.One2many("allegro.refund.wizard.line", "wizard_id", "Items")
    delivery = fields.Boolean("Refund the delivery cost")
    delivery_left = fields.Monetary("Delivery cost left to refund", compute="_compute_left")
    paid_left = fields.Monetary("Left of the payment", compute="_compute_left")
    overpaid_left = fields.Monetary("Overpayment left to refund", compute="_compute_left")
    overpaid = fields.Monetary("Overpayment to refund")
    amount_total = fields.Monetary("Refund", compute="_compute_amount_total")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        order = self.env["allegro.order"].browse(values.get("order_id") or self.env.context.get("default_order_id"))
        if not order:
            return values
        quantities, delivery, _total = order._refunded()
        # A cancelled order is refunded in full; otherwise the seller picks what to give back.
        whole = order.status == "CANCELLED"
        values["line_ids"] = [Command.create({
            "order_line_id": line.id,
            "quantity": line.quantity - quantities.get(line, 0) if whole else 0,
        }) for line in order.sudo().line_ids if line.quantity > quantities.get(line, 0)]
        if whole:
            values.update(reason="CANCELLED_BY_BUYER", delivery=order.delivery_cost > delivery)
        return values

    @api.depends("order_id")
    def _compute_left(self):
        for wizard in self:
            _quantities, delivery, total = wizard.order_id._refunded() if wizard.order_id else ({}, 0, 0)
            wizard.delivery_left = max(wizard.order_id.delivery_cost - delivery, 0)
            wizard.paid_left = max(wizard.order_id.paid_amount - total, 0)
            wizard.overpaid_left = wizard.order_id._overpaid_left() if wizard.order_id else 0

    @api.depends("line_ids.quantity", "delivery", "delivery_left", "overpaid")
    def _compute_amount_total(self):
        for wizard in self:
            wizard.amount_total = sum(line.unit_price * line.quantity for line in wizard.line_ids) + (
                wizard.delivery_left if wizard.delivery else 0) + wizard.overpaid

    @api.onchange("reason")
    def _onchange_reason(self):
        if self.reason == "OVERPAID" and not self.overpaid:
            self.overpaid = self.overpaid_left

    def action_refund(self):
        self.ensure_one()
        refund = self.env["allegro.refund"]._prepare(
            self.order_id, {line.order_line_id.id: line.quantity for line in self.line_ids if line.quantity},
            reason=self.reason, delivery=self.delivery, overpaid=self.overpaid)
        return {"type": "ir.actions.act_window", "res_model": "allegro.refund", "res_id": refund.id,
                "view_mode": "form"}


class AllegroRefundWizardLine(models.TransientModel):
    _name = "allegro.refund.wizard.line"
    _description = "Item to refund"

    wizard_id = fields.Many2one("allegro.refund.wizard", required=True, ondelete="cascade")
    order_line_id = fields.Many2one("allegro.order.line", "Item", required=True, readonly=True)
    currency_id = fields.Many2one(related="order_line_id.currency_id")
    offer_name = fields.Char(related="order_line_id.offer_name")
    bought = fields.Integer(related="order_line_id.quantity", string="Bought")
    unit_price = fields.Monetary(related="order_line_id.unit_price")
    quantity = fields.Integer("To refund")
