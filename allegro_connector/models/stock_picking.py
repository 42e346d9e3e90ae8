from odoo import models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def _allegro_order(self):
        # Warehouse staff have no rights on Allegro records: reading the order
        # and queueing its updates is the connector's bookkeeping, elevated.
        return self.sale_id.allegro_order_id.sudo()

    def _action_done(self):
        result = super()._action_done()
        for picking in self.filtered(lambda p: p.picking_type_code == "outgoing" and p._allegro_order()):
            # Warehouse staff have no access to Allegro orders: telling Allegro is
            # the connector's own bookkeeping.
            picking.sudo()._allegro_push_shipment()
        return result

    def _allegro_push_shipment(self):
        """Send the tracking number of the goods this delivery shipped, then
        the mapped status once the whole order has left."""
        order = self._allegro_order()
        if self.carrier_tracking_ref:
            carrier_code, carrier_name = self.carrier_id._allegro_carrier()
            shipped = self.move_ids.filtered(lambda m: m.state == "done" and m.quantity).sale_line_id
            line_items = order.line_ids.filtered(lambda l: l.sale_line_id in shipped).mapped("line_item_id")
            order.env["allegro.push"]._queue_shipment(
                order, self.carrier_tracking_ref, carrier_code, carrier_name, line_items, picking=self
            )
        still_open = self.sale_id.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state not in ("done", "cancel")
        )
        if not still_open:
            event = "delivery_done_pickup" if order.pickup_point_id else "delivery_done"
            order._push_event_status(event, fallback="delivery_done")
            order._apply_invoice_policy("delivered")


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
            picking._allegro_order()._push_event_status("delivery_ready")
        return result
