from odoo import api, fields, models


class AllegroDeliveryMethod(models.Model):
    """An Allegro delivery method and the Odoo carrier that ships it."""

    _name = "allegro.delivery.method"
    _description = "Allegro Delivery Method"
    _order = "name"

    allegro_ref = fields.Char("Allegro method ID", required=True, index=True)
    name = fields.Char(required=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    carrier_id = fields.Many2one(
        "delivery.carrier",
        check_company=True,
        help="Carrier of sale orders using this method; its product makes the delivery line. "
        "Empty: the shop's delivery product is used.",
    )
    pickup_point = fields.Boolean(
        help="Parcels go to a pickup point or parcel locker rather than to the buyer's door."
    )

    _method_company_unique = models.Constraint(
        "UNIQUE(allegro_ref, company_id)", "A delivery method is mapped once per company."
    )

    @api.model
    def _for_order(self, order):
        """The method of an Allegro order; remembered the first time it is seen."""
        company = order.shop_id.company_id
        method_id = order.delivery_method_ref or "unknown"
        return order._lookup(("delivery_method", company.id, method_id),
                             lambda: self._find_or_create(order, company, method_id))

    def _find_or_create(self, order, company, method_id):
        method = self.search([("allegro_ref", "=", method_id), ("company_id", "=", company.id)], limit=1)
        if method:
            return method, True
        # Remembering a method met in an order is bookkeeping; mapping it is a manager's.
        return self.sudo().create({
            "allegro_ref": method_id,
            "name": order.delivery_method_name or self.env._("Delivery"),
            "company_id": company.id,
            "pickup_point": bool(order.pickup_point_ref),
        }).sudo(False), False
