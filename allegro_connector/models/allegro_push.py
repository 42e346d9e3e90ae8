import json
import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..allegro_api import errors as api_errors
from .allegro_order import FULFILLMENT_STATUSES
from .allegro_rights import ALLEGRO_USER, check_group

_logger = logging.getLogger(__name__)

# Waits between attempts after a temporary failure (Allegro down, 429, 5xx).
RETRY_DELAYS = [timedelta(minutes=m) for m in (1, 5, 15, 60, 180)]
MAX_ATTEMPTS = 12
BATCH_SIZE = 50


class AllegroPush(models.Model):
    """A change to send to Allegro: a fulfillment status or a tracking number.

    Warehouse and sales staff never wait on Allegro: their action queues a
    push, a scheduled action sends it, and temporary failures are retried
    with backoff, so nothing is lost while Allegro is down.
    """

    _name = "allegro.push"
    _description = "Allegro Update"
    _order = "id desc"

    order_id = fields.Many2one("allegro.order", required=True, ondelete="cascade", index=True, readonly=True)
    shop_id = fields.Many2one(related="order_id.shop_id", store=True)
    company_id = fields.Many2one(related="order_id.company_id", store=True)
    sale_order_id = fields.Many2one(related="order_id.sale_order_id")
    kind = fields.Selection(
        [("status", "Fulfillment status"), ("shipment", "Tracking number"), ("invoice", "Invoice")],
        required=True, readonly=True,
    )
    move_id = fields.Many2one("account.move", "Invoice", readonly=True, index="btree_not_null")
    fulfillment_status = fields.Selection(FULFILLMENT_STATUSES, readonly=True)
    picking_id = fields.Many2one("stock.picking", readonly=True, index="btree_not_null")
    carrier_code = fields.Char("Allegro carrier", readonly=True)
    carrier_name = fields.Char(readonly=True)
    waybill = fields.Char("Tracking number", readonly=True)
    line_item_ids = fields.Text("Line items", readonly=True, help="Allegro line item ids, JSON.")
    state = fields.Selection(
        [("pending", "To send"), ("done", "Sent"), ("failed", "Failed"), ("cancelled", "Cancelled")],
        default="pending", required=True, readonly=True, index=True,
    )
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(default=fields.Datetime.now, readonly=True, index=True)
    last_error = fields.Text(readonly=True)
    done_at = fields.Datetime(readonly=True)

    @api.depends("kind", "fulfillment_status", "waybill", "move_id", "order_id")
    def _compute_display_name(self):
        statuses = dict(self._fields["fulfillment_status"]._description_selection(self.env))
        for push in self:
            what = {"status": statuses.get(push.fulfillment_status), "shipment": push.waybill,
                    "invoice": push.move_id.name}[push.kind]
            push.display_name = "%s: %s" % (push.order_id.display_name, what)

    # ------------------------------------------------------------------
    # Queueing
    # ------------------------------------------------------------------

    @api.model
    def _queue_status(self, orders, status):
        """Queue a status change once per order (an identical pending one stays)."""
        pushes = self
        pending_by_order = self.search(
            [("order_id", "in", orders.ids), ("kind", "=", "status"), ("state", "=", "pending")]
        ).grouped("order_id")
        for order in orders:
            pending = pending_by_order.get(order, self)
            same = pending.filtered(lambda p: p.fulfillment_status == status)
            (pending - same).write({"state": "cancelled", "last_error": self.env._("Replaced by a newer status.")})
            pushes |= same or self.create({"order_id": order.id, "kind": "status", "fulfillment_status": status})
        pushes._trigger_sending()
        return pushes

    @api.model
    def _queue_shipment(self, order, waybill, carrier_code, carrier_name=None, line_item_ids=None, picking=None):
        push = self.create({
            "order_id": order.id,
            "kind": "shipment",
            "waybill": waybill,
            "carrier_code": carrier_code,
            "carrier_name": carrier_name,
            "line_item_ids": json.dumps(line_item_ids or []),
            "picking_id": picking.id if picking else False,
        })
        push._trigger_sending()
        return push

    @api.model
    def _queue_invoice(self, order, invoice):
        push = self.create({"order_id": order.id, "kind": "invoice", "move_id": invoice.id})
        push._trigger_sending()
        return push

    def _trigger_sending(self):
        """Wake the sending cron once per transaction, however many updates
        it queues (an import queues one per order)."""
        if not self:
            return
        precommit = self.env.cr.precommit
        if "allegro_push_trigger" not in precommit.data:
            precommit.data["allegro_push_trigger"] = True
            cron = self.env.ref("allegro_connector.ir_cron_send_pushes", raise_if_not_found=False)
            if cron:
                precommit.add(cron._trigger)

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    @api.model
    def _cron_send(self):
        due = self.search([("state", "=", "pending"), ("next_attempt_at", "<=", fields.Datetime.now())],
                          order="id", limit=BATCH_SIZE)
        due._send()
        if self.search_count([("state", "=", "pending"), ("next_attempt_at", "<=", fields.Datetime.now())],
                             limit=1):
            self._trigger_sending()

    def action_retry(self):
        check_group(self, ALLEGRO_USER)
        self.filtered(lambda p: p.state in ("failed", "pending")).write(
            {"state": "pending", "next_attempt_at": fields.Datetime.now()})
        self._send()

    def action_cancel(self):
        check_group(self, ALLEGRO_USER)
        self.filtered(lambda p: p.state in ("failed", "pending")).state = "cancelled"

    def _send(self):
        """Send each push; its state and Allegro's answer stay on it."""
        clients = {}
        unreachable = set()
        for push in self.filtered(lambda p: p.state == "pending").sorted("id"):
            shop = push.shop_id
            order = push.order_id
            if shop in unreachable:
                continue  # Allegro did not answer this shop just now: try later
            try:
                client = clients.get(shop) or clients.setdefault(shop, shop._allegro_client())
                push._send_one(client)
            except api_errors.AllegroConflict as error:
                if push.kind != "status":
                    push._record_failure(error)
                    continue
                # Allegro has a newer revision: read it rather than overwrite it.
                push._refresh_order()
                push._record_failure(UserError(self.env._(
                    "Allegro has a newer version of this order (status now: %(status)s). It was read "
                    "again; retry to send %(wanted)s anyway.",
                    status=push._status_label(order.fulfillment_status),
                    wanted=push._status_label(push.fulfillment_status),
                )))
                continue
            except (api_errors.AllegroError, UserError) as error:
                push._record_failure(error)
                if getattr(error, "retryable", False):
                    unreachable.add(shop)
                continue
            push.write({"state": "done", "done_at": fields.Datetime.now(), "last_error": False,
                        "attempts": push.attempts + 1})
            order.message_post(body=push._done_message(), subtype_xmlid="mail.mt_note")
            if push.kind == "status":
                # Our change gave the order a new revision: take it, so that
                # the next update is not refused as outdated.
                push._refresh_order()

    def _send_one(self, client):
        order = self.order_id
        if self.kind == "invoice":
            self._send_invoice(client)
        elif self.kind == "shipment":
            client.add_shipment(order.external_id, self.carrier_code, self.waybill,
                                carrier_name=self.carrier_name,
                                line_item_ids=json.loads(self.line_item_ids or "[]") or None)
        else:
            client.set_fulfillment_status(order.external_id, self.fulfillment_status, revision=order.revision)

    def _send_invoice(self, client):
        """Allegro takes an invoice in two steps: its entry, then the PDF.

        The entry's id is kept on the invoice at once, so that a failed
        upload is retried alone (a second entry would be refused)."""
        invoice = self.move_id
        if not invoice.allegro_invoice_id:
            invoice.allegro_invoice_id = client.create_invoice(
                self.order_id.external_id, "%s.pdf" % invoice.name.replace("/", "_"), invoice_number=invoice.name
            )
        pdf = self.env["ir.actions.report"]._render_qweb_pdf("account.account_invoices", invoice.ids)[0]
        try:
            client.upload_invoice_file(self.order_id.external_id, invoice.allegro_invoice_id, pdf)
        except api_errors.AllegroConflict:
            pass  # the file is there already: a previous attempt got through
        invoice.write({"allegro_upload_state": "done", "allegro_upload_message": False})

    def _refresh_order(self):
        try:
            # Taking Allegro's new revision is the connector's bookkeeping: the
            # user who changed the status may not edit order lines or buyers.
            self.order_id.sudo().action_refresh_from_allegro()
        except (api_errors.AllegroError, UserError) as error:
            # The next import brings the order up to date anyway.
            _logger.info("Allegro order %s not re-read: %s", self.order_id.id, error)

    def _done_message(self):
        if self.kind == "invoice":
            return self.env._("Invoice %(invoice)s sent to Allegro.", invoice=self.move_id.name)
        if self.kind == "shipment":
            return self.env._("Tracking number %(waybill)s sent to Allegro.", waybill=self.waybill)
        return self.env._("Allegro status set to %(status)s.", status=self._status_label(self.fulfillment_status))

    def _status_label(self, status):
        """The status as the user reads it, in their language."""
        return dict(self._fields["fulfillment_status"]._description_selection(self.env)).get(status)

    def _record_failure(self, error):
        attempts = self.attempts + 1
        values = {"attempts": attempts, "last_error": str(error)}
        if self.move_id:
            self.move_id.allegro_upload_message = str(error)
        if getattr(error, "retryable", False) and attempts < MAX_ATTEMPTS:
            delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
            retry_after = getattr(error, "retry_after", None)
            if retry_after:
                delay = max(delay, timedelta(seconds=float(retry_after)))
            values["next_attempt_at"] = fields.Datetime.now() + delay
        else:
            values["state"] = "failed"
            if self.move_id:
                self.move_id.allegro_upload_state = "failed"
            self.order_id._flag(self.env._("Allegro refused an update (%(what)s): %(error)s",
                                           what=self.display_name, error=error))
        self.write(values)
        _logger.info("Allegro update %s failed (attempt %s): %s", self.id, attempts, error)
