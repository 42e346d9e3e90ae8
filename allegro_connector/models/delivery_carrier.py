import json

from odoo import fields, models
from odoo.exceptions import UserError

# Allegro's public tracking page of a parcel shipped with Allegro.
TRACKING_URL = "https://allegro.pl/allegrodelivery/sledzenie-paczki?numer=%s"


class DeliveryCarrier(models.Model):
    """Ship with Allegro ("Wysyłam z Allegro") as an Odoo shipping provider.

    The parcel is ordered from Allegro by a job after the delivery is
    validated (see ``allegro.parcel``): validating never waits on Allegro.
    """

    _inherit = "delivery.carrier"

    delivery_type = fields.Selection(
        selection_add=[("allegro", "Allegro shipping")], ondelete={"allegro": "set default"})
    allegro_parcel_weight = fields.Float(
        "Default parcel weight (kg)", default=1.0,
        help="Weight of a parcel whose package and products have no weight.")
    allegro_parcel_length = fields.Integer("Default parcel length (cm)", default=30)
    allegro_parcel_width = fields.Integer("Default parcel width (cm)", default=20)
    allegro_parcel_height = fields.Integer(
        "Default parcel height (cm)", default=10,
        help="Sizes of a parcel whose package has no package type with sizes.")
    allegro_label_format = fields.Selection(
        [("PDF", "PDF"), ("ZPL", "ZPL (label printers)")], "Label format", default="PDF")
    allegro_label_page_size = fields.Selection(
        [("A4", "A4"), ("A6", "A6")], "Label page size", default="A6", help="Page size of PDF labels.")

    def allegro_rate_shipment(self, order):
        """The price the buyer paid on Allegro: an Allegro order is never priced again."""
        allegro_order = order.sudo().allegro_order_id
        if allegro_order:
            price = allegro_order.delivery_cost
        else:
            price = sum(order.order_line.filtered("is_delivery").mapped("price_unit"))
        return {"success": True, "price": price, "error_message": False, "warning_message": False}

    def allegro_send_shipping(self, pickings):
        """Record the parcels and queue their creation on Allegro; the
        tracking numbers and labels come with the job."""
        results = []
        for picking in pickings:
            self.env["allegro.parcel"]._order_for(picking)
            results.append({"exact_price": picking.sale_id.sudo().allegro_order_id.delivery_cost or 0.0,
                            "tracking_number": False})
        return results

    def allegro_get_tracking_link(self, picking):
        waybills = [w.strip() for w in (picking.carrier_tracking_ref or "").split(",") if w.strip()]
        if len(waybills) > 1:
            # Several parcels: Odoo shows one link per tracking number.
            return json.dumps([[waybill, TRACKING_URL % waybill] for waybill in waybills])
        return TRACKING_URL % waybills[0] if waybills else False

    def allegro_cancel_shipment(self, pickings):
        for picking in pickings:
            parcels = picking.sudo().allegro_parcel_ids.filtered(lambda p: p.state == "done")
            if not parcels:
                raise UserError(self.env._("Delivery %(picking)s has no parcel on Allegro to cancel.",
                                           picking=picking.display_name))
            parcels._cancel_on_allegro(picking)
