from odoo import fields, models


class AllegroShopToken(models.Model):
    """OAuth secrets of one Allegro shop.

    They live apart from ``allegro.shop`` because a token refresh is committed
    on a cursor of its own (Allegro rotates refresh tokens, so a new pair must
    survive whatever happens to the caller's transaction). That cursor locks
    this row only, so it never waits on - or deadlocks with - a transaction
    that is busy editing the shop record itself.
    """

    _name = "allegro.shop.token"
    _description = "Allegro Shop Tokens"

    shop_id = fields.Many2one(
        "allegro.shop", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    access_token = fields.Char(copy=False)
    refresh_token = fields.Char(copy=False)
    expires_at = fields.Datetime(copy=False)
    device_code = fields.Char(copy=False)

    _shop_unique = models.Constraint(
        "UNIQUE(shop_id)", "A shop has one set of tokens."
    )
