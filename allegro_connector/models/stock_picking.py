from odoo import api, fields, models
from odoo.exceptions import UserError

from ..allegro_api.client import MAX_WAYBILL_LENGTH


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def _allegro_order(self):
        # Warehouse staff have no rights on Allegro records: reading the order
        # and queueing its updates is the connector's bookkeeping, elevated.
        return self.sale_id.sudo().allegro_order_id

    def _allegro_waybills(self):
        """The tracking numbers of this delivery, one per parcel.

        Odoo keeps the numbers of a multi-parcel delivery in one field,
        separated by commas; each goes to Allegro as a shipment of its own.
        Checked before the delivery is done, so that a number Allegro cannot
        take is fixed by the person validating, not found failing later."""
        ref = self.carrier_tracking_ref
        if not ref or not ref.strip():
            return []
        waybills = [part.strip() for part in ref.split(",")]
        problems = []
        for number, waybill in enumerate(waybills, 1):
            if not waybill:
                problems.append(self.env._("parcel %(number)s has an empty tracking number", number=number))
            elif len(waybill) > MAX_WAYBILL_LENGTH:
                problems.append(self.env._(
                    "tracking number %(waybill)s is %(length)s characters long (Allegro takes %(max)s at most)",
                    waybill=waybill, length=len(waybill), max=MAX_WAYBILL_LENGTH))
            elif any(char.isspace() or not char.isprintable() for char in waybill):
                problems.append(self.env._(
                    "tracking number %(waybill)s contains spaces or invisible characters", waybill=waybill))
        if problems:
            raise UserError(self.env._(
                "Delivery %(picking)s cannot be sent to Allegro: %(problems)s. Separate the tracking numbers of "
                "several parcels with commas.", picking=self.display_name, problems="; ".join(problems)))
        return list(dict.fromkeys(waybills))  # a number typed twice is one parcel

    def _action_done(self):
        for picking in self.filtered(lambda p: p.picking_type_code == "outgoing" and p._allegro_order()):
            picking._allegro_waybills()
        result = super()._action_done()
        for picking in self.filtered(lambda p: p.picking_type_code == "outgoing" and p._allegro_order()):
            picking._allegro_update_shipment()
        # A buyer's return received: the refund of what came back follows.
        self.filtered(lambda p: p.state == "done").sudo().allegro_customer_return_id._on_receipt_done()
        return result

    def _allegro_update_shipment(self):
        """Send the tracking number of the goods this delivery shipped, then
        the mapped status once the whole order has left."""
        order = self._allegro_order()
        self._allegro_queue_waybills(order, self._allegro_waybills())
        still_open = self.sale_id.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state not in ("done", "cancel")
        )
        if not still_open:
            event = "delivery_done_pickup" if order.pickup_point_ref else "delivery_done"
            order._update_event_status(event, fallback="delivery_done")
            order._apply_invoice_policy("delivered")

    def _allegro_queue_waybills(self, order, waybills):
        """Queue one shipment update per tracking number of this delivery."""
        if not waybills:
            return
        carrier_code, carrier_name = self.carrier_id._allegro_carrier()
        shipped = self.move_ids.filtered(lambda m: m.state == "done" and m.quantity).sale_line_id
        line_items = order.line_ids.filtered(lambda l: l.sale_line_id in shipped).mapped("allegro_ref")
        for waybill in waybills:
            order.env["allegro.update"]._queue_shipment(
                order, waybill, carrier_code, carrier_name, line_items, picking=self)

    allegro_customer_return_id = fields.Many2one(
        "allegro.customer.return", "Allegro return", readonly=True, index="btree_not_null", ondelete="set null",
        help="The buyer's return this receipt takes back; validating it prepares the refund.")

    # Ship with Allegro: the parcels of this delivery (allegro.parcel does the work)

    allegro_parcel_ids = fields.One2many("allegro.parcel", "picking_id", "Allegro parcels", readonly=True)
    allegro_shipping_error = fields.Text(
        "Allegro shipping problem", compute="_compute_allegro_shipping_error", compute_sudo=True,
        help="Why Allegro did not create the parcel of this delivery.")

    @api.depends("allegro_parcel_ids.state", "allegro_parcel_ids.message")
    def _compute_allegro_shipping_error(self):
        for picking in self:
            last = picking.allegro_parcel_ids.sorted("id")[-1:]
            picking.allegro_shipping_error = last.message if last.state == "error" else False

    def send_to_shipper(self):
        if self.carrier_id.delivery_type != "allegro":
            return super().send_to_shipper()
        # The parcel is ordered by a job: no tracking number yet to announce.
        self.ensure_one()
        result = self.carrier_id.send_shipping(self)[0]
        self.carrier_price = result["exact_price"]
        return True

    def action_allegro_retry_shipping(self):
        """Order the parcel again, once the problem Allegro named is fixed."""
        for picking in self:
            if picking.state != "done" or picking.carrier_id.delivery_type != "allegro":
                raise UserError(self.env._("Only a validated delivery shipped with Allegro can be retried."))
            self.env["allegro.parcel"]._order_for(picking)
        return True

    def action_allegro_print_labels(self):
        """The labels of the selected deliveries' Allegro parcels, in one file."""
        self.check_access("read")
        parcels = self.sudo().allegro_parcel_ids.filtered(lambda p: p.state == "done")
        if not parcels:
            raise UserError(self.env._("None of the selected deliveries has a parcel created with Allegro."))
        content = parcels._labels()
        if not content:
            raise UserError(self.env._("Allegro has no label for these parcels (cancelled?)."))
        pdf = content.startswith(b"%PDF")
        attachment = self.env["ir.attachment"].create({
            "name": "%s.%s" % (self.env._("Allegro labels"), "pdf" if pdf else "zpl"),
            "raw": content,
            "mimetype": "application/pdf" if pdf else "text/plain",
        })
        return {"type": "ir.actions.act_url", "url": "/web/content/%s?download=true" % attachment.id,
                "target": "self"}


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_assign(self, force_qty=False):
        result = super()._action_assign(force_qty=force_qty)
        if not self.env["allegro.status.map"]._event_mapped("delivery_ready"):
            return result  # off by default: spare every reservation the lookup
        ready = self.picking_id.filtered(
            lambda p: p.state == "assigned" and p.picking_type_code == "outgoing" and p.sale_id.allegro_order_id
        )
        for picking in ready:
            picking._allegro_order()._update_event_status("delivery_ready")
        return result
