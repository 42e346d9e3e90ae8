from odoo import api, fields, models

from ..const import OTHER_CARRIER


class AllegroCarrier(models.Model):
    """A carrier Allegro knows, for tracking numbers (GET /order/carriers)."""

    _name = "allegro.carrier"
    _description = "Allegro Carrier"
    _order = "name"

    allegro_ref = fields.Char("Allegro carrier ID", required=True, index=True)
    name = fields.Char(required=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)

    _code_unique = models.Constraint("UNIQUE(allegro_ref, company_id)", "An Allegro carrier is listed once per company.")

    @api.model
    def _update_from(self, company, carriers):
        """The company's list of carriers, as one of its shops read it from Allegro."""
        known = {c.allegro_ref: c for c in self.search([("company_id", "=", company.id)])}
        for carrier in carriers:
            if carrier.get("id") in known:
                known[carrier["id"]].name = carrier.get("name") or carrier["id"]
            elif carrier.get("id"):
                self.create({"allegro_ref": carrier["id"], "name": carrier.get("name") or carrier["id"],
                             "company_id": company.id})


class DeliveryCarrier(models.Model):
    _inherit = "delivery.carrier"

    allegro_carrier_id = fields.Many2one(
        "allegro.carrier",
        "Allegro carrier",
        check_company=True,
        help="Carrier named to Allegro with this carrier's tracking numbers. Empty: 'other', with this "
        "carrier's name.",
    )

    def _allegro_carrier(self):
        """(Allegro carrier id, carrier name or None) for a tracking number."""
        if self.allegro_carrier_id and self.allegro_carrier_id.allegro_ref != OTHER_CARRIER:
            return self.allegro_carrier_id.allegro_ref, None
        return OTHER_CARRIER, (self.name or self.env._("Other carrier"))[:30]
