from odoo import api, fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    allegro_order_id = fields.Many2one(
        "allegro.order", "Allegro order", readonly=True, copy=False, index="btree_not_null"
    )
    allegro_shop_id = fields.Many2one(
        "allegro.shop",
        "Allegro shop",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Shop whose Allegro order this sale order was made from.",
    )
    sales_channel = fields.Selection(
        [("direct", "Direct"), ("allegro", "Allegro")],
        compute="_compute_sales_channel",
        store=True,
        index=True,
    )

    @api.depends("allegro_shop_id")
    def _compute_sales_channel(self):
        for order in self:
            order.sales_channel = "allegro" if order.allegro_shop_id else "direct"

    def _prepare_confirmation_values(self):
        values = super()._prepare_confirmation_values()
        if self.allegro_order_id:
            # The order date stays the moment the buyer bought on Allegro.
            values.pop("date_order", None)
        return values

    def action_open_allegro_order(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "allegro.order",
            "res_id": self.allegro_order_id.id,
            "view_mode": "form",
        }
