from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    allegro_buyer_ref = fields.Char(
        "Allegro buyer ID",
        copy=False,
        index="btree_not_null",
        help="Allegro's id of this buyer: their later orders reuse this contact.",
    )
