import json
import logging
import math
import uuid
from datetime import timedelta


from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import split_every
from odoo.tools.pdf import merge_pdf

from odoo.addons.queue_job.exception import RetryableJobError

from ..allegro_api import errors as api_errors
from ..allegro_api.client import COMMAND_EXISTS
from ..const import CHANNEL_UPDATES, KEY_PARCEL
from .allegro_update import queued_job_record

_logger = logging.getLogger(__name__)

# Seconds a button (cancel, pickup) waits, honouring Retry-After, for a command
# Allegro is still carrying out; the parcel's job never waits, it comes back later.
FOLLOW_SECONDS = 10
# Attempts of one parcel's job (Allegro busy, down, or still at work).
MAX_ATTEMPTS = 20
# Shipments per label request.
LABELS_PER_REQUEST = 100
PARCEL_STATES = [
    ("pending", "Being created"),
    ("done", "Created"),
    ("error", "Refused"),
    ("cancelled", "Cancelled"),
]


def _command_errors(answer):
    """Allegro's reasons for a command that ended in ERROR, as one line."""
    reasons = [e.get("userMessage") or e.get("message") or e.get("code") for e in answer.get("errors") or []]
    return "; ".join(filter(None, reasons))


def _retry_seconds(retry_after):
    return max(1, math.ceil(retry_after)) if retry_after else None


class AllegroParcel(models.Model):
    """A parcel ordered with Ship with Allegro for a delivery.

    Made when the delivery is validated, before any request: its command id
    is the idempotency key of the create command, so that a repeat after a
    lost answer or a worker that died asks for the same parcel, never a
    second one. Its job orders it, then puts the tracking numbers, the label
    and the tracking link on the delivery. A retry after a refusal is a new
    parcel, with a command of its own.
    """

    _name = "allegro.parcel"
    _description = "Allegro Parcel"
    _order = "id desc"

    picking_id = fields.Many2one("stock.picking", "Delivery", required=True, readonly=True, index=True,
                                 ondelete="cascade")
    order_id = fields.Many2one("allegro.order", "Allegro order", readonly=True, index="btree_not_null")
    shop_id = fields.Many2one("allegro.shop", readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    carrier_id = fields.Many2one("delivery.carrier", "Shipping method", readonly=True)
    command_ref = fields.Char("Command ID", required=True, readonly=True, copy=False,
                             default=lambda self: str(uuid.uuid4()),
                             help="Id of the create command sent to Allegro, chosen by Odoo: a repeat asks for the "
                             "same parcel.")
    state = fields.Selection(PARCEL_STATES, default="pending", required=True, readonly=True, index=True)
    allegro_ref = fields.Char("Allegro shipment ID", readonly=True, copy=False, index="btree_not_null")
    waybills = fields.Char("Tracking numbers", readonly=True, copy=False)
    carrier_code = fields.Char("Carrier", readonly=True, help="The carrier Allegro gave the parcel to.")
    message = fields.Text("Allegro's message", readonly=True)
    sender = fields.Text(readonly=True, help="The sender's address sent to Allegro, JSON.")
    label_id = fields.Many2one("ir.attachment", "Label", readonly=True, ondelete="set null")
    pickup_ref = fields.Char("Allegro pickup ID", readonly=True, copy=False)
    carrier_pickup_ref = fields.Char("Carrier's pickup number", readonly=True, copy=False)
    job_id = fields.Many2one("queue.job", "Job", readonly=True, copy=False, ondelete="set null")

    _command_unique = models.Constraint("UNIQUE(command_ref)", "A command id is used for one parcel only.")

    @api.depends("picking_id", "waybills")
    def _compute_display_name(self):
        for parcel in self:
            parcel.display_name = " ".join(filter(None, [parcel.picking_id.display_name, parcel.waybills]))

    # ------------------------------------------------------------------
    # Ordering a parcel
    # ------------------------------------------------------------------

    @api.model
    def _order_for(self, picking):
        """Record a parcel for the delivery and queue the job that orders it.

        Called when a delivery is validated (or a refused parcel retried): the
        person's right on the delivery is checked, the rest is the
        connector's (warehouse staff have no rights on Allegro records)."""
        picking.sudo(False).check_access("write")
        picking = picking.sudo()
        if picking.allegro_parcel_ids.filtered(lambda p: p.state in ("pending", "done")):
            raise UserError(self.env._("A parcel is already ordered from Allegro for delivery %(picking)s.",
                                       picking=picking.display_name))
        order = picking._allegro_order()
        parcel = self.sudo().create({
            "picking_id": picking.id,
            "order_id": order.id,
            "shop_id": order.shop_id.id,
            "company_id": picking.company_id.id,
            "carrier_id": picking.carrier_id.id,
        })
        if not order:
            parcel._record_error(self.env._("Only deliveries of Allegro orders can ship with Allegro."))
            return parcel
        parcel._enqueue()
        picking.message_post(body=self.env._(
            "Parcel ordered from Allegro; its tracking number and label follow in a moment."))
        return parcel

    def _enqueue(self, job="_create_job", wait=None):
        """Queue the parcel's job (``wait``: seconds before it may run); the
        identity key keeps one job of each kind per parcel waiting."""
        eta = wait and fields.Datetime.now() + timedelta(seconds=wait)
        for parcel in self:
            queued = getattr(parcel.with_delay(
                channel=CHANNEL_UPDATES,
                identity_key="%s-%s" % (KEY_PARCEL % parcel.id, job),
                max_retries=MAX_ATTEMPTS,
                eta=eta,
                description=self.env._("Allegro: parcel for %(picking)s", picking=parcel.picking_id.display_name),
            ), job)()
            record = queued_job_record(queued)
            parcel.job_id = record

    def _create_job(self):
        """The job of one parcel: send the create command. What Allegro has not
        finished yet is read by a job of its own (``_follow_job``), so that no
        worker waits and what this attempt wrote (the sender) is kept."""
        self.ensure_one()
        parcel = self._as_connector()
        if parcel.state != "pending":
            return parcel.env._("Nothing to do: the parcel is no longer being created.")
        uuid_ = self.env.context.get("job_uuid")
        job = uuid_ and self.env["queue.job"].sudo().search([("uuid", "=", uuid_)], limit=1)

        def create(client):
            answer = None
            if job and job.retry:
                # An earlier attempt may have sent the command: read it rather than send it again.
                try:
                    answer = client.get_shipment_command(parcel.command_ref)
                except api_errors.AllegroNotFound:
                    answer = None
            return answer if answer is not None else parcel._send_create_command(client)
        return parcel._take_answer(create, follow_later=True)

    def _follow_job(self):
        """Read the create command again, as Allegro's Retry-After asks, until it ends."""
        self.ensure_one()
        parcel = self._as_connector()
        if parcel.state != "pending":
            return parcel.env._("Nothing to do: the parcel is no longer being created.")
        return parcel._take_answer(lambda client: client.get_shipment_command(parcel.command_ref))

    def _as_connector(self):
        # The person's right was checked when the delivery was validated;
        # talking to Allegro is the connector's work, written in the shop's language.
        parcel = self.sudo()
        return parcel.with_context(lang=parcel.shop_id._allegro_lang())

    def _take_answer(self, ask, follow_later=False):
        """Ask Allegro about the create command (``ask(client)``) and act on its answer."""
        client = self.shop_id._allegro_client()
        try:
            answer = ask(client)
            if answer.get("status") == "ERROR":
                self._record_error(_command_errors(answer) or self.env._("Allegro refused the parcel."))
                return self.message
            if answer.get("status") != "SUCCESS":
                if follow_later:
                    self._enqueue(job="_follow_job", wait=_retry_seconds(answer.retry_after))
                    return self.env._("Allegro is creating the parcel.")
                raise RetryableJobError(self.env._("Allegro is still creating the parcel."),
                                        seconds=_retry_seconds(answer.retry_after))
            self._record_created(client, answer["shipmentId"])
        except api_errors.AllegroError as error:
            text = self.shop_id._allegro_error_text(error)
            if error.retryable:
                raise RetryableJobError(text, seconds=_retry_seconds(error.retry_after)) from error
            self._record_error(text)
            return text
        return self.env._("Parcel created: %(waybills)s", waybills=self.waybills)

    def _send_create_command(self, client):
        shipment_input = self._shipment_input(client)
        self.sender = json.dumps(shipment_input["sender"])
        try:
            return client.create_shipment(self.command_ref, shipment_input)
        except api_errors.AllegroValidationError as error:
            if COMMAND_EXISTS not in error.codes:
                raise
            # Sent by an attempt whose worker died before it could keep the answer.
            return client.get_shipment_command(self.command_ref)

    def _shipment_input(self, client):
        """The create body: Allegro's proposal for the order (service,
        receiver, pickup point, cash on delivery, insurance), with the
        delivery's own packages, the warehouse's address and the label format."""
        # The proposal holds all the create body needs: the deprecated list of
        # delivery services (removed in Q1 2027) is not read.
        proposal = client.get_delivery_proposals(self.order_id.allegro_ref) or {}
        shipment_input = dict(proposal.get("suggestedInput") or {})
        shipment_input["sender"] = self._sender_address(shipment_input.get("sender") or {})
        shipment_input["packages"] = self._packages()
        shipment_input["labelFormat"] = self.carrier_id.allegro_label_format or "PDF"
        shipment_input["referenceNumber"] = self.picking_id.name
        return shipment_input

    def _sender_address(self, suggested):
        """The warehouse's address, completed by the sender Allegro suggests
        (the seller's shipping settings) where the warehouse lacks a field."""
        partner = self.picking_id.picking_type_id.warehouse_id.partner_id or self.company_id.partner_id
        ours = {
            "company": partner.commercial_company_name or partner.name,
            "name": partner.name,
            "street": " ".join(filter(None, [partner.street, partner.street2])),
            "postalCode": partner.zip,
            "city": partner.city,
            "countryCode": partner.country_id.code,
            "email": partner.email,
            "phone": partner.phone,
        }
        return dict(suggested, **{key: value for key, value in ours.items() if value})

    def _packages(self):
        """One package per Odoo package of the delivery (its package type's
        sizes, its weight), and one for the goods in no package; what is not
        known comes from the shipping method's default parcel."""
        picking = self.picking_id
        carrier = self.carrier_id
        Template = self.env["product.template"]
        length_uom = Template._get_length_uom_id_from_ir_config_parameter()
        weight_uom = Template._get_weight_uom_id_from_ir_config_parameter()
        cm, kg = self.env.ref("uom.product_uom_cm"), self.env.ref("uom.product_uom_kgm")
        default_sizes = (carrier.allegro_parcel_length or 30, carrier.allegro_parcel_width or 20,
                         carrier.allegro_parcel_height or 10)

        def package(sizes, weight):
            weight = weight_uom._compute_quantity(weight, kg) if weight else 0.0
            return {
                "type": "PACKAGE",
                "length": {"value": sizes[0], "unit": "CENTIMETER"},
                "width": {"value": sizes[1], "unit": "CENTIMETER"},
                "height": {"value": sizes[2], "unit": "CENTIMETER"},
                "weight": {"value": round(weight or carrier.allegro_parcel_weight or 1.0, 3), "unit": "KILOGRAMS"},
            }

        packages = []
        for odoo_package in picking.move_line_ids.result_package_id:
            package_type = odoo_package.package_type_id
            sizes = [package_type.packaging_length, package_type.width, package_type.height]
            if all(sizes):
                sizes = [max(1, math.ceil(length_uom._compute_quantity(size, cm))) for size in sizes]
            else:
                sizes = default_sizes
            packages.append(package(sizes, odoo_package.shipping_weight or odoo_package.weight))
        loose = picking.move_line_ids.filtered(lambda line: not line.result_package_id)
        if loose or not packages:
            weight = picking.weight_bulk if packages else (picking.shipping_weight or picking.weight)
            packages.append(package(default_sizes, weight))
        return packages

    def _record_created(self, client, shipment_id):
        """Put the parcel's tracking numbers, label and link on the delivery,
        and send the tracking numbers to the order as for any delivery."""
        self.allegro_ref = shipment_id
        shipment = client.get_shipment(shipment_id) or {}
        waybills = [p["waybill"] for p in shipment.get("packages") or [] if p.get("waybill")]
        carrier = self.carrier_id
        page_size = carrier.allegro_label_page_size if carrier.allegro_label_format != "ZPL" else None
        label = client.get_labels([shipment_id], page_size=page_size)
        picking = self.picking_id
        self.write({"state": "done", "waybills": ",".join(waybills), "carrier_code": shipment.get("carrier"),
                    "message": False})
        picking.carrier_tracking_ref = ",".join(waybills)
        attachments = self.env["ir.attachment"]
        if label:
            extension = "zpl" if carrier.allegro_label_format == "ZPL" else "pdf"
            attachments = self.env["ir.attachment"].create({
                "name": "%s-%s.%s" % (carrier._get_delivery_label_prefix(), "-".join(waybills) or shipment_id,
                                      extension),
                "raw": label,
                "res_model": "stock.picking",
                "res_id": picking.id,
                "mimetype": "application/pdf" if extension == "pdf" else "text/plain",
            })
            self.label_id = attachments
        picking.message_post(
            body=self.env._("Parcel created on Allegro, tracking number %(waybills)s.",
                            waybills=", ".join(waybills)),
            attachment_ids=attachments.ids)
        # The request to look at an earlier refusal is answered by this parcel.
        picking.activity_ids.filtered(lambda a: a.summary == self._refusal_summary()).action_feedback(
            feedback=self.env._("The parcel was created on Allegro."))
        if self.order_id:
            picking._allegro_queue_waybills(self.order_id, waybills)

    def _refusal_summary(self):
        return self.env._("Allegro refused the parcel")

    def _record_error(self, message):
        """Allegro refused the parcel: say why on the delivery, ask the person
        who validated it to fix and retry; nothing else is held back."""
        self.write({"state": "error", "message": message})
        picking = self.picking_id
        text = self.env._("Allegro did not create the parcel: %(reason)s", reason=message)
        picking.message_post(body=text)
        picking.activity_schedule("mail.mail_activity_data_warning", summary=self._refusal_summary(), note=text,
                                  user_id=self.create_uid.id or self.env.uid)
        _logger.info("Allegro parcel %s refused: %s", self.id, message)

    @api.model
    def _ships_waybill(self, picking, waybill):
        """Whether Allegro made this tracking number for a parcel of the delivery
        (Allegro then lists it on the order by itself)."""
        if not picking or not waybill:
            return False
        parcels = self.sudo().search([("picking_id", "=", picking.id), ("state", "=", "done")])
        return any(waybill in (parcel.waybills or "").split(",") for parcel in parcels)

    # ------------------------------------------------------------------
    # Cancelling, labels
    # ------------------------------------------------------------------

    def _cancel_on_allegro(self, picking):
        """Cancel the parcels now (the person waits for Allegro's answer);
        a refusal raises with Allegro's reason and changes nothing."""
        picking.sudo(False).check_access("write")
        for parcel in self.sudo():
            client = parcel.shop_id._allegro_client()
            command_id = str(uuid.uuid4())
            try:
                answer = client.cancel_shipment(command_id, parcel.allegro_ref)
                answer = client.follow_command(answer, lambda: client.get_cancel_command(command_id),
                                               FOLLOW_SECONDS)
            except api_errors.AllegroError as error:
                raise UserError(parcel.shop_id._allegro_error_text(error)) from error
            if answer.get("status") == "ERROR":
                raise UserError(self.env._("Allegro did not cancel parcel %(waybills)s: %(reason)s",
                                           waybills=parcel.waybills, reason=_command_errors(answer)))
            if answer.get("status") != "SUCCESS":
                raise UserError(self.env._("Allegro is still cancelling parcel %(waybills)s: try again in a "
                                           "moment.", waybills=parcel.waybills))
            parcel.state = "cancelled"

    def _labels(self):
        """The labels of these parcels as one file: one request per shop and
        page size (up to LABELS_PER_REQUEST parcels each), merged."""
        files = []
        for (shop, page_size), parcels in self.sudo().grouped(
                lambda p: (p.shop_id, p.carrier_id.allegro_label_page_size)).items():
            client = shop._allegro_client()
            for shipment_ids in split_every(LABELS_PER_REQUEST, parcels.mapped("allegro_ref")):
                try:
                    content = client.get_labels(list(shipment_ids), page_size=page_size)
                except api_errors.AllegroError as error:
                    raise UserError(shop._allegro_error_text(error)) from error
                if content:
                    files.append(content)
        if not files:
            return None
        if len(files) == 1:
            return files[0]
        return merge_pdf(files)
