from odoo import fields, models

from ..models.allegro_rights import BILLING, check_group


class AllegroLinkInvoiceWizard(models.TransientModel):
    """Tie an invoice issued by hand to an Allegro order instead of making a new one."""

    _name = "allegro.link.invoice.wizard"
    _description = "Link an invoice to an Allegro order"

    order_id = fields.Many2one("allegro.order", required=True)
    company_id = fields.Many2one(related="order_id.company_id")
    move_id = fields.Many2one(
        "account.move", "Invoice", required=True, check_company=True,
        domain="[('move_type', '=', 'out_invoice'), ('allegro_order_id', '=', False), "
               "('company_id', '=', company_id), ('state', '!=', 'cancel')]",
    )

    def action_link(self):
        self.ensure_one()
        check_group(self.order_id, BILLING, "read")
        self.move_id.write({"allegro_order_id": self.order_id.id})
        # The accountant reads Allegro orders only: the note and the upload
        # queued on the order are the connector's bookkeeping.
        order = self.order_id.sudo()
        order.message_post(
            body=self.env._("Invoice %(invoice)s linked to this order.", invoice=self.move_id.display_name),
            subtype_xmlid="mail.mt_note",
        )
        if self.move_id.state == "posted":
            order._on_invoice_posted(self.move_id.sudo())
        return {"type": "ir.actions.act_window_close"}
