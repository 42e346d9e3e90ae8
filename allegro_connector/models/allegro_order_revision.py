from odoo import fields, models

REVISION_OUTCOMES = [
    ("applied", "Applied to the sale order"),
    ("flagged", "Flagged: the sale order was confirmed already"),
    ("recorded", "Recorded"),
]


class AllegroOrderRevision(models.Model):
    """What changed in an Allegro order from one revision to the next."""

    _name = "allegro.order.revision"
    _description = "Allegro Order Revision"
    _order = "order_id, id desc"
    _rec_name = "revision"

    order_id = fields.Many2one("allegro.order", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="order_id.company_id", store=True)
    revision = fields.Char(readonly=True)
    previous_revision = fields.Char(readonly=True)
    received_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    change_kinds = fields.Char("Changed", readonly=True)
    changes = fields.Text(readonly=True)
    outcome = fields.Selection(REVISION_OUTCOMES, readonly=True)
