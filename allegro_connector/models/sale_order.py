from odoo import fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    allegro_shop_id = fields.Many2one(
        "allegro.shop",
        "Allegro shop",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Shop whose Allegro order this sale order was made from.",
    )
