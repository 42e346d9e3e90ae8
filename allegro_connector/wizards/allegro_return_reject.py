from odoo import fields, models

from ..const import REJECTION_CODES
from ..models.allegro_rights import ALLEGRO_MANAGER, check_group


class AllegroReturnRejectWizard(models.TransientModel):
    """Refuse the refund of a buyer's return on Allegro, with one of Allegro's codes."""

    _name = "allegro.return.reject.wizard"
    _description = "Reject an Allegro return"

    return_id = fields.Many2one("allegro.customer.return", "Return", required=True, readonly=True)
    code = fields.Selection(REJECTION_CODES, "Why", required=True, default="REFUND_REJECTED")
    reason = fields.Char("Explanation for the buyer", size=250,
                         help="Needed when the refund is rejected; Allegro shows it to the buyer.")

    def action_reject(self):
        self.ensure_one()
        check_group(self.return_id, ALLEGRO_MANAGER, "read")
        self.return_id._reject(self.code, self.reason)
        return {"type": "ir.actions.act_window_close"}
