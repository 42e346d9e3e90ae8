"""What a sale cost on Allegro: the fees naming the order, and the sale net of them."""

from odoo import api, fields, models


class AllegroOrder(models.Model):
    _inherit = "allegro.order"

    fee_ids = fields.One2many("allegro.billing.entry", "allegro_order_id", "Fees", readonly=True)
    fee_total = fields.Monetary(
        "Allegro fees", compute="_compute_fee_total", store=True,
        help="What Allegro charged for this sale (commissions, delivery fees), net of fee refunds.")
    net_of_fees = fields.Monetary(
        "After Allegro fees", compute="_compute_fee_total", store=True,
        help="What the buyer paid, less Allegro's fees for the sale.")

    @api.depends("fee_ids.amount", "total_to_pay")
    def _compute_fee_total(self):
        for order in self:
            # Fees are negative on Allegro.
            order.fee_total = -sum(order.fee_ids.mapped("amount"))
            order.net_of_fees = order.total_to_pay - order.fee_total
