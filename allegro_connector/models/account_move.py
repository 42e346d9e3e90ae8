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
    allegro_invoice_ref = fields.Char("Invoice ID on Allegro", copy=False, readonly=True)
    allegro_upload_state = fields.Selection(
        [("ksef", "Waiting for KSeF"), ("pending", "To send"), ("done", "On Allegro"), ("failed", "Refused")],
        string="Sent to Allegro", copy=False, readonly=True,
        help="The buyer asked for an invoice: its PDF goes to the Allegro order (once KSeF accepted it, "
        "for companies sending invoices to KSeF).",
    )
    allegro_upload_message = fields.Text("Allegro's answer", copy=False, readonly=True)
    # Allegro's fees booked on this bill or entry (see allegro.billing.entry).
    allegro_fee_shop_id = fields.Many2one(
        "allegro.shop", "Allegro fees of", readonly=True, copy=False, index="btree_not_null")
    allegro_fee_period = fields.Char("Allegro invoice period", readonly=True, copy=False)

    @api.depends("allegro_order_id")
    def _compute_sales_channel(self):
        for move in self:
            move.sales_channel = "allegro" if move.allegro_order_id else "direct"

    @api.model_create_multi
    def create(self, vals_list):
        moves = super().create(vals_list)
        moves._link_allegro_order()
        return moves

    def _link_allegro_order(self):
        """An invoice made the normal Odoo way (Create invoice on the sale
        order, invoicing many orders at once) belongs to the Allegro order of
        its sale order, like one the connector drafts."""
        for move in self.filtered(lambda m: not m.allegro_order_id and m.move_type in ("out_invoice", "out_refund")):
            # Reading which Allegro order a sale order comes from is the
            # connector's bookkeeping, whatever the invoicing user may read.
            orders = move.sudo().invoice_line_ids.sale_line_ids.order_id.allegro_order_id
            if len(orders) == 1:
                move.allegro_order_id = orders.id

    def _post(self, soft=True):
        self._link_allegro_order()
        posted = super()._post(soft=soft)
        for move in posted.filtered(lambda m: m.allegro_order_id and m.move_type == "out_invoice"):
            # Posting is the accountant's act; queueing the upload to Allegro
            # and closing the order follow from it, whatever their Allegro rights.
            move.allegro_order_id.sudo()._on_invoice_posted(move.sudo())
        # Wallet operations booked before their invoice or credit note was posted are matched now.
        self.env["allegro.payment.operation"]._match_order_invoices(
            posted.filtered(lambda m: m.move_type in ("out_invoice", "out_refund") and m.allegro_order_id))
        credit_notes = posted.filtered(lambda m: m.allegro_order_id and m.move_type == "out_refund")
        if credit_notes:
            # The money went back through Allegro: the connector pays the credit note as it paid the invoice.
            self.env["allegro.refund"].sudo().search([("credit_note_id", "in", credit_notes.ids)]
                                                     )._register_refund_payment()
        return posted

    def _allegro_waits_for_ksef(self):
        """Companies sending invoices to KSeF (l10n_pl_edi) give Allegro the
        PDF once KSeF accepted it, so the buyer's copy carries the KSeF number."""
        self.ensure_one()
        return (
            "l10n_pl_edi_status" in self._fields
            and self.company_id.l10n_pl_edi_register
            and self.l10n_pl_edi_status != "accepted"
        )

    def write(self, vals):
        result = super().write(vals)
        if vals.get("l10n_pl_edi_status") == "accepted":
            for move in self.filtered(lambda m: m.allegro_upload_state == "ksef" and m.allegro_order_id):
                move.sudo()._queue_allegro_upload()
        return result

    def _queue_allegro_upload(self):
        self.allegro_upload_state = "pending"
        self.env["allegro.update"]._queue_invoice(self.allegro_order_id, self)
