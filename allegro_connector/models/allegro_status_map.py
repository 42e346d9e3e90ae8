from odoo import api, fields, models, tools

from ..const import SELLER_SETTABLE_STATUSES

# What happens in Odoo that can set an Allegro fulfillment status.
ODOO_EVENTS = [
    ("order_confirmed", "Sale order confirmed"),
    ("delivery_ready", "Delivery ready (goods reserved)"),
    ("delivery_done", "Delivery validated"),
    ("delivery_done_pickup", "Delivery validated, pickup-point method"),
    ("order_cancelled", "Sale order cancelled"),
]
# What Allegro reports that can make Odoo act.
ALLEGRO_EVENTS = [
    ("buyer_cancelled", "Buyer or Allegro cancelled the order"),
    ("address_changed", "Buyer changed the delivery address"),
]
ODOO_ACTIONS = [
    ("apply", "Apply in Odoo when nothing has shipped, flag the order otherwise"),
    ("flag", "Only flag the order for a person"),
    ("ignore", "Do nothing"),
]


class AllegroStatusMap(models.Model):
    """One line of the status mapping, global or for one shop.

    Outgoing lines say which Allegro fulfillment status an Odoo event sets;
    incoming lines say what Odoo does when Allegro reports something. A shop's
    own line wins over the global line of the same event.
    """

    _name = "allegro.status.map"
    _description = "Allegro Status Mapping"
    _order = "direction desc, sequence, id"

    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    shop_id = fields.Many2one("allegro.shop", ondelete="cascade", help="Empty: every shop.")
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    direction = fields.Selection(
        [("outgoing", "Odoo to Allegro"), ("incoming", "Allegro to Odoo")], required=True, default="outgoing"
    )
    odoo_event = fields.Selection(ODOO_EVENTS, "When in Odoo")
    allegro_status = fields.Selection(SELLER_SETTABLE_STATUSES, "Set on Allegro")
    allegro_event = fields.Selection(ALLEGRO_EVENTS, "When on Allegro")
    odoo_action = fields.Selection(ODOO_ACTIONS, "Do in Odoo")

    _outgoing_complete = models.Constraint(
        "CHECK(direction != 'outgoing' OR (odoo_event IS NOT NULL AND allegro_status IS NOT NULL))",
        "An Odoo-to-Allegro line needs an Odoo event and an Allegro status.",
    )
    _incoming_complete = models.Constraint(
        "CHECK(direction != 'incoming' OR (allegro_event IS NOT NULL AND odoo_action IS NOT NULL))",
        "An Allegro-to-Odoo line needs an Allegro event and an Odoo action.",
    )
    _no_returned = models.Constraint(
        "CHECK(allegro_status IS NULL OR allegro_status != 'RETURNED')",
        "Allegro does not let sellers set the status Returned.",
    )

    @api.depends("direction", "odoo_event", "allegro_status", "allegro_event", "odoo_action")
    def _compute_display_name(self):
        labels = {name: dict(self._fields[name]._description_selection(self.env)) for name in
                  ("odoo_event", "allegro_status", "allegro_event", "odoo_action")}
        for line in self:
            if line.direction == "outgoing":
                line.display_name = "%s → %s" % (labels["odoo_event"].get(line.odoo_event),
                                                 labels["allegro_status"].get(line.allegro_status))
            else:
                line.display_name = "%s → %s" % (labels["allegro_event"].get(line.allegro_event),
                                                 labels["odoo_action"].get(line.odoo_action))

    @api.model
    @tools.ormcache("shop_id", "field", "value", "result_field")
    def _mapped_value(self, shop_id, field, value, result_field):
        """What the line applying to a shop says for an event, its own line
        before the global one. Cached: asked for every order imported."""
        lines = self.sudo().search([(field, "=", value), ("shop_id", "in", [shop_id, False])])
        return (lines.filtered("shop_id")[:1] or lines[:1])[result_field] or False

    @api.model
    @tools.ormcache("odoo_event")
    def _event_mapped(self, odoo_event):
        """Whether any shop maps this Odoo event to an Allegro status."""
        return bool(self.sudo().search_count([("odoo_event", "=", odoo_event)], limit=1))

    @api.model
    def _outgoing_status(self, shop, odoo_event):
        return self._mapped_value(shop.id, "odoo_event", odoo_event, "allegro_status")

    @api.model
    def _incoming_action(self, shop, allegro_event):
        return self._mapped_value(shop.id, "allegro_event", allegro_event, "odoo_action") or "apply"

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()
