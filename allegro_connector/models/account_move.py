from odoo import api, fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    allegro_order_id = fields.Many2one(
        "allegro.order", "Allegro order", copy=False, index="btree_not_null", readonly=True,
        help="The Allegro order this invoice is for.",
    )
    sales_channel = fields.Selection(
        [("direct", "Direct"), ("allegro", "Allegro")], compute="_compute_sales_channel", store=True,
    )
    allegro_invoice_id = fields.Char("Invoice ID on Allegro", copy=False, readonly=True)
    allegro_upload_state = fields.Selection(
        [("pending", "To send"), ("done", "On Allegro"), ("failed", "Refused")],
        string="Sent to Allegro", copy=False, readonly=True,
        help="The buyer asked for an invoice: its PDF goes to the Allegro order.",
    )
    allegro_upload_message = fields.Text("Allegro's answer", copy=False, readonly=True)

    @api.depends("allegro_order_id")
    def _compute_sales_channel(self):
        for move in self:
            move.sales_channel = "allegro" if move.allegro_order_id else "direct"

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        for move in posted.filtered(lambda m: m.allegro_order_id and m.move_type == "out_invoice"):
            # Posting is the accountant's act; queueing the upload to Allegro
            # and closing the order follow from it, whatever their Allegro rights.
            move.allegro_order_id.sudo()._on_invoice_posted(move.sudo())
        return posted
