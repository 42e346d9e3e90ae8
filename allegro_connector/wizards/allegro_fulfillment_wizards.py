from odoo import api, fields, models
from odoo.exceptions import UserError

from ..const import OTHER_CARRIER, SELLER_SETTABLE_STATUSES
from ..models.allegro_rights import ALLEGRO_USER, check_group


class AllegroStatusWizard(models.TransientModel):
    """Change the Allegro status of the selected orders, then show how each fared."""

    _name = "allegro.status.wizard"
    _description = "Change Allegro status"

    order_ids = fields.Many2many("allegro.order", string="Orders")
    status = fields.Selection(
        SELLER_SETTABLE_STATUSES, string="New status", required=True
    )
    result_ids = fields.Many2many("allegro.update", string="Results", readonly=True)
    done = fields.Boolean(readonly=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        model = self.env.context.get("active_model")
        ids = self.env.context.get("active_ids") or []
        if model == "sale.order":
            orders = self.env["sale.order"].browse(ids).allegro_order_id
        else:
            orders = self.env["allegro.order"].browse(ids)
        values["order_ids"] = [(6, 0, orders.ids)]
        return values

    def action_apply(self):
        self.ensure_one()
        if not self.order_ids:
            raise UserError(self.env._("Select Allegro orders first."))
        # Before the loop: its savepoints would turn a refusal into a failed line.
        check_group(self.order_ids, ALLEGRO_USER)
        updates = self.env["allegro.update"]
        for order in self.order_ids:
            try:
                with self.env.cr.savepoint():
                    updates |= order._set_allegro_status(self.status)
            except UserError as error:
                updates |= self.env["allegro.update"]._create_checked({
                    "order_id": order.id, "kind": "status", "fulfillment_status": self.status,
                    "state": "failed", "last_error": str(error),
                })
        self.write({"result_ids": [(6, 0, updates.ids)], "done": True})
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }


class AllegroTrackingWizard(models.TransientModel):
    """Add a tracking number to an Allegro order by hand."""

    _name = "allegro.tracking.wizard"
    _description = "Add tracking number"

    order_id = fields.Many2one("allegro.order", required=True)
    company_id = fields.Many2one(related="order_id.company_id")
    carrier_id = fields.Many2one("allegro.carrier", "Carrier", check_company=True,
                                 help="Empty: other carrier, named below.")
    carrier_name = fields.Char("Carrier name", size=30)
    waybill = fields.Char("Tracking number", required=True, size=64)
    line_ids = fields.Many2many("allegro.order.line", string="Items in the parcel",
                                help="Empty: the whole order.")
    mark_sent = fields.Boolean("Mark as sent", default=True,
                               help="Also set the order to Sent on Allegro (handed over to the carrier).")

    def action_apply(self):
        self.ensure_one()
        check_group(self.order_id, ALLEGRO_USER)
        code = self.carrier_id.allegro_ref or OTHER_CARRIER
        name = self.carrier_name if code == OTHER_CARRIER else None
        if code == OTHER_CARRIER and not name:
            raise UserError(self.env._("Name the carrier: Allegro needs it for 'other' carriers."))
        updates = self.env["allegro.update"]._queue_shipment(
            self.order_id, self.waybill.strip(), code, name, self.line_ids.mapped("allegro_ref"), enqueue=False
        )
        updates._send_now()
        if self.mark_sent and updates.state == "done":
            updates |= self.order_id._set_allegro_status("SENT")
        return self.order_id._notify_updates(updates)
