import json
import uuid

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..allegro_api import errors as api_errors
from ..allegro_api.client import MAX_PICKUP_SHIPMENTS
from ..models.allegro_parcel import FOLLOW_SECONDS, _command_errors


class AllegroPickupWizard(models.TransientModel):
    """Order a courier pickup for the Allegro parcels of the selected
    deliveries: Allegro proposes the times, the person picks one; the
    handover protocol follows."""

    _name = "allegro.pickup.wizard"
    _description = "Order an Allegro pickup"

    picking_ids = fields.Many2many("stock.picking", string="Deliveries", readonly=True)
    parcel_ids = fields.Many2many("allegro.parcel", string="Parcels", compute="_compute_parcel_ids",
                                  compute_sudo=True)
    slot_ids = fields.One2many("allegro.pickup.slot", "wizard_id", "Pickup times", readonly=True)
    slot_id = fields.Many2one("allegro.pickup.slot", "Pickup time", domain="[('wizard_id', '=', id)]")
    address = fields.Text(readonly=True, help="Where the courier comes, JSON.")

    @api.depends("picking_ids")
    def _compute_parcel_ids(self):
        for wizard in self:
            wizard.parcel_ids = wizard.picking_ids.allegro_parcel_ids.filtered(lambda p: p.state == "done")

    @api.model
    def _open_for(self, pickings):
        """Read Allegro's pickup times for the deliveries and show them."""
        pickings.check_access("write")
        parcels = pickings.sudo().allegro_parcel_ids.filtered(lambda p: p.state == "done")
        if not parcels:
            raise UserError(self.env._("None of the selected deliveries has a parcel created with Allegro."))
        if len(parcels.shop_id) > 1:
            raise UserError(self.env._("Order one pickup per Allegro shop: the deliveries belong to several."))
        if len(parcels) > MAX_PICKUP_SHIPMENTS:
            raise UserError(self.env._("A pickup takes at most %(count)s parcels.", count=MAX_PICKUP_SHIPMENTS))
        address = self._address(parcels)
        client = parcels.shop_id._allegro_client()
        try:
            answer = client.get_pickup_proposals(parcels.mapped("allegro_ref"), address)
        except api_errors.AllegroError as error:
            raise UserError(parcels.shop_id._allegro_error_text(error)) from error
        # A time every parcel can be picked up at.
        times = None
        for group in answer or []:
            for proposal in group.get("proposals") or []:
                offered = {(t.get("date"), t.get("minTime"), t.get("maxTime"))
                           for t in proposal.get("pickupTimes") or []}
                times = offered if times is None else times & offered
        if not times:
            raise UserError(self.env._("Allegro proposes no pickup time for all these parcels together."))
        wizard = self.create({
            "picking_ids": [(6, 0, pickings.ids)],
            "address": json.dumps(address),
            "slot_ids": [(0, 0, {"date": date, "min_time": start, "max_time": end})
                         for date, start, end in sorted(times)],
        })
        wizard.slot_id = wizard.slot_ids[:1]
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Order an Allegro pickup"),
        }

    def _address(self, parcels):
        """The warehouse's address, as the parcels' sender."""
        picking = parcels[:1].picking_id
        suggested = {}
        try:
            suggested = json.loads(parcels[:1].sender or "{}")
        except ValueError:
            pass
        address = parcels[:1]._sender_address(suggested)
        missing = [key for key in ("street", "city", "postalCode", "countryCode", "email", "phone")
                   if not address.get(key)]
        if missing:
            raise UserError(self.env._("The address of warehouse %(warehouse)s lacks: %(fields)s.",
                                       warehouse=picking.picking_type_id.warehouse_id.display_name,
                                       fields=", ".join(missing)))
        return address

    def action_confirm(self):
        """Order the pickup at the chosen time, then fetch the handover protocol."""
        self.ensure_one()
        if not self.slot_id:
            raise UserError(self.env._("Choose a pickup time."))
        self.picking_ids.check_access("write")
        parcels = self.sudo().parcel_ids
        shop = parcels.shop_id
        client = shop._allegro_client()
        command_id = str(uuid.uuid4())
        pickup_time = {"date": self.slot_id.date, "minTime": self.slot_id.min_time, "maxTime": self.slot_id.max_time}
        shipment_ids = parcels.mapped("allegro_ref")
        try:
            answer = client.create_pickup(command_id, shipment_ids, json.loads(self.address), pickup_time)
            answer = client.follow_command(answer, lambda: client.get_pickup_command(command_id), FOLLOW_SECONDS)
            if answer.get("status") == "ERROR":
                raise UserError(self.env._("Allegro did not order the pickup: %(reason)s",
                                           reason=_command_errors(answer)))
            if answer.get("status") != "SUCCESS":
                raise UserError(self.env._("Allegro is still ordering the pickup: try again in a moment."))
            parcels.write({"pickup_ref": answer.get("pickupId"), "carrier_pickup_ref": answer.get("carrierPickupId")})
            protocol = client.get_protocol(shipment_ids)
        except api_errors.AllegroError as error:
            raise UserError(shop._allegro_error_text(error)) from error
        when = "%s %s-%s" % (self.slot_id.date, self.slot_id.min_time or "", self.slot_id.max_time or "")
        note = self.env._("Courier pickup %(number)s ordered on Allegro for %(when)s.",
                          number=answer.get("carrierPickupId") or answer.get("pickupId"), when=when)
        if not protocol:
            for picking in self.picking_ids:
                picking.message_post(body=note)
            return {"type": "ir.actions.client", "tag": "display_notification", "params": {
                "type": "success", "sticky": True,
                "message": note + " " + self.env._("This carrier has no handover protocol."),
                "next": {"type": "ir.actions.act_window_close"},
            }}
        attachment = self.env["ir.attachment"].create({
            "name": self.env._("Allegro handover protocol %(date)s.pdf", date=self.slot_id.date),
            "raw": protocol,
            "mimetype": "application/pdf",
        })
        for picking in self.picking_ids:
            copy = attachment.copy({"res_model": "stock.picking", "res_id": picking.id})
            picking.message_post(body=note, attachment_ids=copy.ids)
        return {"type": "ir.actions.act_url", "url": "/web/content/%s?download=true" % attachment.id,
                "target": "self"}


class AllegroPickupSlot(models.TransientModel):
    _name = "allegro.pickup.slot"
    _description = "Allegro pickup time"
    _order = "date, min_time"

    wizard_id = fields.Many2one("allegro.pickup.wizard", required=True, ondelete="cascade")
    date = fields.Char(required=True)
    min_time = fields.Char("From")
    max_time = fields.Char("To")

    @api.depends("date", "min_time", "max_time")
    def _compute_display_name(self):
        for slot in self:
            slot.display_name = "%s %s-%s" % (slot.date, slot.min_time or "", slot.max_time or "")
