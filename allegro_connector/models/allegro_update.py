import json
import logging
import uuid
from collections import defaultdict
from contextlib import nullcontext
from datetime import timedelta

import psycopg2

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.queue_job.exception import RetryableJobError

from ..allegro_api import errors as api_errors
from ..allegro_api.client import MAX_OFFERS_PER_COMMAND
from ..const import CHANNEL_INVOICES, CHANNEL_OFFERS, CHANNEL_UPDATES, FULFILLMENT_STATUSES, KEY_UPDATE, MARKETPLACES
from .allegro_rights import ALLEGRO_USER, check_group

_logger = logging.getLogger(__name__)

# Attempts of one update before it is given up (each a job retry; the waits
# between them come from the job function's retry pattern).
MAX_ATTEMPTS = 12
# The queue_job channel of each kind of update: invoices (a PDF to render and
# upload) cannot hold back statuses and tracking numbers.
CHANNELS = {
    "status": CHANNEL_UPDATES,
    "shipment": CHANNEL_UPDATES,
    "invoice": CHANNEL_INVOICES,
    "offer_quantity": CHANNEL_OFFERS,
    "offer_price": CHANNEL_OFFERS,
    "offer_publication": CHANNEL_OFFERS,
}
# The kinds of update that are batch commands on offers, and the client's name of each.
OFFER_COMMANDS = {"offer_quantity": "quantity", "offer_price": "price", "offer_publication": "publication"}
# How soon the results of a command Allegro is still carrying out are read again.
COMMAND_RECHECK_DELAY = timedelta(seconds=10)
# Seconds before the job tries again when another job holds the same order.
ORDER_BUSY_RETRY = 5



def queued_job_record(job):
    """The queue.job of what ``with_delay()`` gave back: a Job when queued now, the existing
    queue.job when one with the same identity key was waiting."""
    return job.db_record() if hasattr(job, "db_record") else job

class StaleRevision(UserError):
    """Allegro has a newer version of the order than the one the update was based on."""


class OrderBusy(RetryableJobError):
    """Another update of the same order is being sent. Waiting for its turn is
    not a failed attempt: however long the other one takes, this update keeps
    all its attempts for Allegro's own answers."""

    def __init__(self, message):
        super().__init__(message, seconds=ORDER_BUSY_RETRY, ignore_retry=True)


class AllegroUpdate(models.Model):
    """A change to send to Allegro: a fulfillment status, a tracking number or
    an invoice of an order; or a command on offers (their quantity, price or
    publication), made by the stock and price sync.

    Validating a delivery or confirming an order records the update and
    queues one job (OCA queue_job) that sends it in a transaction of its own:
    nobody waits on Allegro for those. Buttons that ask for an answer (a
    seller's cancel, Retry, the bulk status change) send at once and show it.
    The record is what the seller sees: its state, Allegro's answer and a
    Retry button; the job does the work, with retries. Offer commands are
    sent by the stock job in its own transaction, and left to their job when
    Allegro is busy or has not carried them out yet.
    """

    _name = "allegro.update"
    _description = "Allegro Update"
    _order = "id desc"

    order_id = fields.Many2one("allegro.order", ondelete="cascade", index="btree_not_null", readonly=True)
    # Set on create (an order's update: its order's shop).
    shop_id = fields.Many2one("allegro.shop", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    sale_order_id = fields.Many2one(related="order_id.sale_order_id")
    kind = fields.Selection(
        [("status", "Fulfillment status"), ("shipment", "Tracking number"), ("invoice", "Invoice"),
         ("offer_quantity", "Offer quantity"), ("offer_price", "Offer price"),
         ("offer_publication", "Offer publication")],
        required=True, readonly=True,
    )
    offer_ids = fields.Many2many("allegro.offer", string="Offers", readonly=True)
    offer_count = fields.Integer("Number of offers", compute="_compute_offer_count")
    command_ref = fields.Char(
        "Command ID", readonly=True, copy=False,
        help="The id Odoo gave the command on Allegro: an attempt whose answer was lost is found by it, "
        "never made a second time.")
    quantity = fields.Integer(readonly=True)
    price = fields.Char(readonly=True, help="The amount as Allegro takes it.")
    currency = fields.Char(readonly=True)
    marketplace = fields.Selection(MARKETPLACES, readonly=True)
    publication_action = fields.Selection([("END", "End"), ("ACTIVATE", "Activate")], "Publication",
                                          readonly=True)
    sent_at = fields.Datetime("Taken by Allegro", readonly=True, copy=False,
                              help="When Allegro took the command; its results are read until it has carried it out.")
    move_id = fields.Many2one("account.move", "Invoice", readonly=True, index="btree_not_null")
    fulfillment_status = fields.Selection(FULFILLMENT_STATUSES, readonly=True)
    picking_id = fields.Many2one("stock.picking", readonly=True, index="btree_not_null")
    carrier_code = fields.Char("Allegro carrier", readonly=True)
    carrier_name = fields.Char(readonly=True)
    waybill = fields.Char("Tracking number", readonly=True)
    line_item_ids = fields.Text("Line items", readonly=True, help="Allegro line item ids, JSON.")
    allegro_ref = fields.Char("Allegro ID", readonly=True, copy=False,
                              help="Id Allegro gave the shipment or invoice entry.")
    state = fields.Selection(
        [("pending", "To send"), ("done", "Sent"), ("failed", "Failed"), ("cancelled", "Cancelled")],
        default="pending", required=True, readonly=True, index=True,
    )
    job_id = fields.Many2one("queue.job", "Job", readonly=True, copy=False, index="btree_not_null",
                             ondelete="set null")
    job_state = fields.Selection(related="job_id.state", string="Job state")
    attempts = fields.Integer(related="job_id.retry", string="Attempts")
    next_attempt_at = fields.Datetime(related="job_id.eta", string="Next attempt")
    job_message = fields.Text(related="job_id.result", string="Last attempt",
                              help="Why the last attempt has to be repeated (Allegro busy or down).")
    last_error = fields.Text(readonly=True)
    maybe_sent = fields.Boolean(
        "May have reached Allegro", readonly=True, copy=False,
        help="An attempt ended without Allegro's answer: what Allegro holds is read before sending again.")
    done_at = fields.Datetime(readonly=True)

    @api.depends("kind", "fulfillment_status", "waybill", "move_id", "order_id", "offer_ids", "quantity", "price",
                 "currency", "marketplace", "publication_action")
    @api.depends_context("lang")
    def _compute_display_name(self):
        statuses = dict(self._fields["fulfillment_status"]._description_selection(self.env))
        for update in self:
            if update.kind in OFFER_COMMANDS:
                update.display_name = update._command_name()
                continue
            what = {"status": statuses.get(update.fulfillment_status), "shipment": update.waybill,
                    "invoice": update.move_id.name}[update.kind]
            update.display_name = "%s: %s" % (update.order_id.display_name, what)

    def _command_name(self):
        count = len(self.offer_ids)
        if self.kind == "offer_quantity":
            return self.env._("Quantity %(quantity)s → %(count)s offers", quantity=self.quantity, count=count)
        if self.kind == "offer_price":
            return self.env._("Price %(price)s %(currency)s on %(marketplace)s", price=self.price,
                              currency=self.currency, marketplace=self.marketplace)
        if self.publication_action == "END":
            return self.env._("End %(count)s offers", count=count)
        return self.env._("Activate %(count)s offers", count=count)

    @api.depends("offer_ids")
    def _compute_offer_count(self):
        for update in self:
            update.offer_count = len(update.offer_ids)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("shop_id") and vals.get("order_id"):
                vals["shop_id"] = self.env["allegro.order"].browse(vals["order_id"]).sudo().shop_id.id
        return super().create(vals_list)

    # ------------------------------------------------------------------
    # Queueing
    # ------------------------------------------------------------------

    @api.model
    def _queue_status(self, orders, status, enqueue=True):
        """Queue a status change once per order (an identical pending one stays)."""
        updates = self
        pending_by_order = self.search(
            [("order_id", "in", orders.ids), ("kind", "=", "status"), ("state", "=", "pending")]
        ).grouped("order_id")
        to_create = []
        for order in orders:
            pending = pending_by_order.get(order, self)
            same = pending.filtered(lambda p: p.fulfillment_status == status)
            # One whose job is running may be on its way to Allegro already:
            # it is let finish, and the new status follows it (the order's lock
            # keeps them in turn), sent with the revision it gives the order.
            running = pending.filtered(lambda p: p.sudo().job_id.state == "started")
            (pending - same - running)._cancel(self.env._("Replaced by a newer status."))
            if same:
                updates |= same
            else:
                to_create.append({"order_id": order.id, "kind": "status", "fulfillment_status": status})
        # One create for a whole import batch.
        new = self._create_checked(to_create)
        if enqueue:
            new._enqueue()
        return updates | new

    @api.model
    def _queue_shipment(self, order, waybill, carrier_code, carrier_name=None, line_item_ids=None, picking=None,
                        enqueue=True):
        update = self._create_checked({
            "order_id": order.id,
            "kind": "shipment",
            "waybill": waybill,
            "carrier_code": carrier_code,
            "carrier_name": carrier_name,
            "line_item_ids": json.dumps(line_item_ids or []),
            "picking_id": picking.id if picking else False,
        })
        if enqueue:
            update._enqueue()
        return update

    @api.model
    def _queue_invoice(self, order, invoice):
        update = self._create_checked({"order_id": order.id, "kind": "invoice", "move_id": invoice.id})
        update._enqueue()
        return update

    @api.model
    def _queue_offer_change(self, shop, change, offers):
        """The updates telling Allegro one change of these offers, one per command of at most
        1,000 offers: ``change`` is ``("quantity", n)``, ``("end", None)``, ``("activate", None)``
        or ``("price", (marketplace, amount, currency))``. Not sent here (see ``_send_now``)."""
        kind, value = change
        if kind == "quantity":
            values = {"kind": "offer_quantity", "quantity": value}
        elif kind == "price":
            marketplace, amount, currency = value
            values = {"kind": "offer_price", "marketplace": marketplace, "price": amount, "currency": currency}
        else:
            values = {"kind": "offer_publication", "publication_action": "END" if kind == "end" else "ACTIVATE"}
        self._drop_replaced_offers(shop, values, offers)
        # The command's id is Odoo's, kept with it: a repeat after a lost answer reads that command.
        return self.sudo().create([
            dict(values, shop_id=shop.id, command_ref=str(uuid.uuid4()),
                 offer_ids=[Command.set(offers[start:start + MAX_OFFERS_PER_COMMAND].ids)])
            for start in range(0, len(offers), MAX_OFFERS_PER_COMMAND)
        ]).with_env(self.env)

    @api.model
    def _drop_replaced_offers(self, shop, values, offers):
        """Older updates of the same kind not sent yet no longer send a value to these offers:
        sent after the newer one, they would put a stale quantity (or price, or publication)
        back. An update left with no offer is cancelled. One whose job is running may be on
        its way to Allegro already, which carries commands out in turn: it is let finish."""
        domain = [("shop_id", "=", shop.id), ("kind", "=", values["kind"]), ("state", "=", "pending"),
                  ("sent_at", "=", False), ("offer_ids", "in", offers.ids)]
        if values["kind"] == "offer_price":
            domain.append(("marketplace", "=", values["marketplace"]))
        for older in self.sudo().search(domain).filtered(lambda p: p.job_id.state != "started"):
            left = older.offer_ids - offers
            if left:
                older.offer_ids = [Command.set(left.ids)]
            else:
                older._cancel(self.env._("Replaced by a newer change of its offers."))

    @api.model
    def _create_checked(self, vals_list):
        """Updates are made by the connector alone (people have no right to
        create them): made with its rights, once what they point at is checked."""
        updates = self.sudo().create(vals_list).with_env(self.env)
        updates._check_targets()
        return updates

    def _check_targets(self):
        """An update may send only its own order's documents: its invoice is
        the order's, its delivery the sale order's. A person making or
        retrying it (rather than the connector's bookkeeping after their own
        act) must also be able to change the order and read the invoice and
        delivery, in their companies."""
        for update in self.sudo():
            if (update.move_id and update.move_id.allegro_order_id != update.order_id) or (
                    update.picking_id and update.picking_id.sale_id.allegro_order_id != update.order_id):
                raise AccessError(self.env._(
                    "The update %(update)s points at a document of another order.", update=update.display_name))
        if self.env.su or not self:
            return
        check_group(self.order_id, ALLEGRO_USER)
        for documents in (self.move_id, self.picking_id):
            if documents:
                documents.check_access("read")

    def _enqueue(self, eta=None):
        """One job per update; its identity key keeps a second one from being
        queued while the first waits or runs."""
        for update in self:
            delayed = update.with_delay(
                channel=CHANNELS[update.kind],
                identity_key=KEY_UPDATE % update.id,
                max_retries=MAX_ATTEMPTS,
                eta=eta,
                description=self.env._("Allegro: %(update)s", update=update.display_name),
            )
            job = delayed._send_offer_job() if update.kind in OFFER_COMMANDS else delayed._send_job()
            update.sudo().job_id = queued_job_record(job)

    def _cancel(self, reason):
        self.sudo().write({"state": "cancelled", "last_error": reason})
        jobs = self.sudo().job_id.filtered(lambda j: j.state in ("pending", "enqueued", "wait_dependencies"))
        jobs.button_cancelled()

    def action_retry(self):
        """Send again at once (a button press), the outcome shown on the update."""
        check_group(self, ALLEGRO_USER, "read")
        self._check_targets()
        retry = self.filtered(lambda p: p.state in ("failed", "pending"))
        retry.sudo().write({"state": "pending", "last_error": False})
        retry._send_now()

    def action_cancel(self):
        check_group(self, ALLEGRO_USER, "read")
        self.filtered(lambda p: p.state in ("failed", "pending"))._cancel(self.env._("Cancelled on request."))

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    def _send_job(self):
        """The job of one update (runs as the user who queued it)."""
        self.ensure_one()
        # The user's right to make this change was checked when it was queued
        # (e.g. validating the delivery); sending it and keeping its outcome is
        # the connector's own bookkeeping, so it runs as superuser. What it
        # writes (notes, flags, Allegro's answer) is in the shop's language.
        update = self.sudo()
        update = update.with_context(lang=update.shop_id._allegro_lang())
        if update.state != "pending":
            states = dict(update._fields["state"]._description_selection(update.env))
            return update.env._("Nothing to send: the update is %(state)s.", state=states[update.state])
        if update._replaced():
            # It was let finish when replaced, but its worker died: sent now,
            # it would take the order back from the status that followed it.
            reason = update.env._("Replaced by a newer status.")
            update._cancel(reason)
            return reason
        # A first attempt sends at once. A later one (after a timeout, a 5xx
        # or a worker that died) may follow an attempt Allegro processed
        # without our knowing: it looks at what Allegro holds first.
        uuid = self.env.context.get("job_uuid")
        job = uuid and self.env["queue.job"].sudo().search([("uuid", "=", uuid)], limit=1)
        try:
            finished = update._send(repeat=update.maybe_sent or bool(job and job.retry))
        except (api_errors.AllegroError, UserError) as error:
            text = update.shop_id._allegro_error_text(error)
            if not getattr(error, "retryable", False):
                if isinstance(error, api_errors.AllegroError):
                    # queue_job keeps the first argument of the exception as the
                    # reason: Allegro's messages, without the client's English.
                    raise UserError(text) from error
                raise
            # Allegro busy (429), down (5xx) or not answering: the job is
            # postponed by Retry-After, else by the retry pattern.
            raise RetryableJobError(text, seconds=_retry_seconds(error)) from error
        if not finished:
            # A job of its own reads it again: this one ends, its work kept.
            update._enqueue(eta=COMMAND_RECHECK_DELAY)
            return update.env._("Allegro is still carrying it out: its results are read again shortly.")
        if update.state == "pending":
            update._mark_done()
        return update.last_error if update.state == "failed" else update.env._("Sent.")

    def _send_offer_job(self):
        """The job of an offer command: the same sending, under a job function of its own on the
        offers' channel, beside the stock jobs."""
        return self._send_job()

    def _replaced(self):
        """A status update is outdated once a newer one of its order is queued or sent."""
        return self.kind == "status" and bool(self.search_count([
            ("order_id", "=", self.order_id.id), ("kind", "=", "status"), ("id", ">", self.id),
            ("state", "in", ("pending", "done")),
        ], limit=1))

    def _on_job_failed(self, exc_message=None, exc_name=None, **_fail_values):
        """queue_job calls this, on a cursor of its own, when the job failed
        for good: Allegro refused, the retries ran out, or anything else broke."""
        for update in self.sudo().filtered(lambda p: p.state == "pending"):
            update = update.with_context(lang=update.shop_id._allegro_lang())
            update._record_failure(exc_message or exc_name or update.env._("Unknown error"))

    def _send_now(self, retry_later=True, repeat=True):
        """Send at once, in this transaction (a button press, or the stock
        job for its offer commands): each update in a savepoint, so one
        refused leaves the others and the caller's work. A temporary failure
        leaves the update to its job, which waits as long as Allegro asks,
        or, without ``retry_later``, cancels it (the caller acts on the
        outcome now). ``repeat``: an earlier attempt may have got through."""
        for update in self.sudo().filtered(lambda p: p.state == "pending").sorted("id"):
            # An offer command writes nothing before Allegro took it and must keep what it wrote
            # after (its id is used): no savepoint, whose flush would also lock the offers' rows
            # for as long as Allegro is asked (see allegro.shop._send_offer_updates).
            guard = nullcontext() if update.kind in OFFER_COMMANDS else self.env.cr.savepoint()
            try:
                with guard:
                    finished = update._send(repeat=repeat)
            except psycopg2.errors.TransactionRollbackError:
                raise  # another transaction changed the same rows: the caller's job runs again
            except Exception as error:  # noqa: BLE001 - whatever breaks fails this update alone
                if isinstance(error, RetryableJobError) or getattr(error, "retryable", False):
                    # Its job, if it sends it later, looks on Allegro first
                    # (not after a 429 or a wait for the order: nothing left then).
                    update.maybe_sent = not isinstance(error, OrderBusy) and getattr(error, "status", None) != 429
                    if not retry_later:
                        update._cancel(self.env._("Allegro did not answer: %(error)s. Try again later.",
                                                  error=update.shop_id._allegro_error_text(error)))
                        continue
                    update.last_error = update.shop_id._allegro_error_text(error)
                    if not update.job_id or update.job_id.state in ("done", "failed", "cancelled"):
                        update._enqueue(eta=_retry_seconds(error))
                    continue
                update._record_failure(update.shop_id._allegro_error_text(error))
                continue
            if not finished:
                if not update.job_id or update.job_id.state in ("done", "failed", "cancelled"):
                    update._enqueue(eta=COMMAND_RECHECK_DELAY)
                continue
            if update.state == "pending":
                update._mark_done()
            update.sudo().job_id.filtered(lambda j: j.state in ("pending", "enqueued")).button_done()

    def _send(self, repeat=False):
        """Send the update; ``repeat``: an earlier attempt may have got through.
        False while Allegro has not carried it out yet (an offer command, whose
        results are read later)."""
        if self.kind in OFFER_COMMANDS:
            return self._deliver_offer_command(self.shop_id._allegro_client(), repeat)
        order = self.order_id
        # Updates of one order one at a time: a status needs the revision the
        # previous update produced. Another job holding the order tries later.
        if not order.try_lock_for_update(allow_referencing=True):
            raise OrderBusy(self.env._("Another update of this order is being sent."))
        client = self.shop_id._allegro_client()
        if self.kind == "invoice":
            self._send_invoice(client, repeat)
        elif self.kind == "shipment":
            self._send_shipment(client, repeat)
        else:
            self._send_status(client)
        return True

    def _send_status(self, client):
        """Set the status at the revision we hold. Our change gives the order
        a new revision, which the journal brings with its next import: no
        read here. Only when Allegro refuses our revision as outdated is the
        order read, to tell our own earlier changes (an attempt whose answer
        was lost included) from somebody else's."""
        order = self.order_id
        revision = order.revision
        for _attempt in range(3):
            try:
                client.set_fulfillment_status(order.allegro_ref, self.fulfillment_status, revision=revision)
                self._note_status_set()
                return
            except api_errors.AllegroConflict:
                form = client.get_checkout_form(order.allegro_ref)
            status = (form.get("fulfillment") or {}).get("status")
            ours = self._changed_only_by_us(form)
            # What Allegro holds is taken in any case, so the seller sees it.
            self.env["allegro.importer"]._take_forms(order.shop_id, [form])
            if status == self.fulfillment_status:
                return  # an earlier attempt of ours got through: the import took it
            if not ours:
                break
            revision = form.get("revision")
        raise StaleRevision(self.env._(
            "Allegro has a newer version of this order (status now: %(status)s). It was read "
            "again; retry to send %(wanted)s anyway.",
            status=self._status_label(status), wanted=self._status_label(self.fulfillment_status),
        ))

    def _note_status_set(self):
        """Show the status Allegro now holds; its new revision comes with the journal."""
        self.order_id.sudo().fulfillment_status = self.fulfillment_status

    def _changed_only_by_us(self, form):
        """True when ``form`` differs from the copy we hold only by the
        fulfillment status we set ourselves (and its revision and time)."""
        order = self.order_id.sudo()
        try:
            held = json.loads(order.raw_payload or "{}")
        except ValueError:
            return False
        ignored = ("revision", "updatedAt", "fulfillment")

        def content(payload):
            return {key: value for key, value in payload.items() if key not in ignored}

        sent = self.search([("order_id", "=", order.id), ("kind", "=", "status"), ("state", "=", "done")],
                           order="done_at desc, id desc", limit=1)
        status = (form.get("fulfillment") or {}).get("status")
        return content(form) == content(held) and status in (order.fulfillment_status, sent.fulfillment_status)

    def _send_shipment(self, client, repeat):
        """Allegro has no idempotency key for shipments, and an attempt that
        timed out, got a 5xx or died with its worker may have been processed:
        a repeat reads what Allegro holds first, so a tracking number goes once."""
        form_id = self.order_id.allegro_ref
        # Allegro lists the tracking numbers of its own parcels on the order by itself.
        by_allegro = self.env["allegro.parcel"]._ships_waybill(self.picking_id, self.waybill)
        held = (client.get_shipments(form_id) or {}).get("shipments") or [] if repeat or by_allegro else []
        for shipment in held:
            if shipment.get("waybill") == self.waybill and (
                    by_allegro or shipment.get("carrierId") == self.carrier_code):
                self.allegro_ref = shipment.get("id")
                return
        if by_allegro:
            raise RetryableJobError(self.env._("Allegro does not list the parcel on the order yet."))
        created = client.add_shipment(form_id, self.carrier_code, self.waybill, carrier_name=self.carrier_name,
                                      line_item_ids=json.loads(self.line_item_ids or "[]") or None)
        self.allegro_ref = (created or {}).get("id")

    def _send_invoice(self, client, repeat):
        """Allegro takes an invoice in two steps: its entry, then the PDF.

        On a repeat, an entry made by an attempt whose answer was lost is
        found on Allegro (by its number) and used, never made a second time."""
        invoice = self.move_id
        if not invoice:
            raise UserError(self.env._("The invoice of this update was deleted in Odoo."))
        form_id = self.order_id.allegro_ref
        entry = None
        held = (client.get_invoices(form_id) or {}).get("invoices") or [] if repeat else []
        for existing in held:
            if existing.get("id") == invoice.allegro_invoice_ref or existing.get("invoiceNumber") == invoice.name:
                entry = existing
                break
        if entry is None:
            invoice.allegro_invoice_ref = client.create_invoice(
                form_id, "%s.pdf" % invoice.name.replace("/", "_"), invoice_number=invoice.name
            )
        else:
            invoice.allegro_invoice_ref = entry["id"]
        if not (entry and (entry.get("file") or {}).get("uploadedAt")):
            pdf = self.env["ir.actions.report"]._render_qweb_pdf("account.account_invoices", invoice.ids)[0]
            try:
                client.upload_invoice_file(form_id, invoice.allegro_invoice_ref, pdf)
            except api_errors.AllegroConflict:
                pass  # the file is there already: a previous attempt got through
        self.allegro_ref = invoice.allegro_invoice_ref
        invoice.write({"allegro_upload_state": "done", "allegro_upload_message": False})

    def _deliver_offer_command(self, client, repeat):
        """Send the command once, under the id Odoo gave it, then read what Allegro made of it.
        A repeat reads that command on Allegro first: one an attempt whose answer was lost got
        through is never made a second time."""
        if not self.offer_ids:
            raise UserError(self.env._("The offers of this update were deleted in Odoo."))
        api_kind = OFFER_COMMANDS[self.kind]
        if not self.sent_at:
            taken = False
            if repeat:
                try:
                    client.get_offer_command(api_kind, self.command_ref)
                    taken = True
                except api_errors.AllegroNotFound:
                    pass
            if not taken:
                self._put_command(client)
            self._note_sent()
        return self._read_tasks(client)

    def _put_command(self, client):
        offer_ids = self.offer_ids.mapped("allegro_ref")
        if self.kind == "offer_quantity":
            client.change_offer_quantity(self.command_ref, offer_ids, self.quantity)
        elif self.kind == "offer_price":
            client.change_offer_price(self.command_ref, offer_ids, self.price, self.currency,
                                      marketplace_id=self.marketplace)
        else:
            client.change_offer_publication(self.command_ref, offer_ids, self.publication_action)

    def _note_sent(self):
        self.write({"sent_at": fields.Datetime.now(), "maybe_sent": False})
        if self.kind == "offer_quantity":
            # Allegro's stock moves by what Odoo sets: so does the count of its purchases
            # (taken back if Allegro refuses), even when the result is read later.
            for offer in self.offer_ids.sudo():
                offer.stock_base += self.quantity - offer.allegro_stock

    def _read_tasks(self, client):
        """Apply the command's task results to its offers; a refused task is shown on its offer.
        A task Odoo cannot read (no offer, a status it does not know) is shown on its offer when
        it names one, and skipped: the other tasks go on. False while some are still NEW.

        The update is done when Allegro carried the change out for at least one offer (the
        refusals said on it), failed when it refused them all."""
        tasks = client.get_offer_command_tasks(OFFER_COMMANDS[self.kind], self.command_ref).get("tasks") or []
        if any(task.get("status") == "NEW" for task in tasks):
            return False
        results = defaultdict(dict)  # status -> {offer id: task}
        for task in tasks:
            offer_id = str(((task or {}).get("offer") or {}).get("id") or "")
            if not offer_id:
                _logger.warning("Allegro update %s: command %s has a task without an offer: %r",
                                self.id, self.command_ref, task)
                continue
            results[task.get("status") if task.get("status") in ("SUCCESS", "FAIL") else "?"][offer_id] = task
        # Offers a newer update took over since are left to it.
        offers = {o.allegro_ref: o for o in self.offer_ids.sudo()}
        now = self.env.cr.now()
        for offer_id in results["SUCCESS"]:
            offer = offers.get(offer_id)
            if not offer:
                continue
            if self.kind == "offer_price":
                prices = dict(offer.marketplace_prices or {}, **{self.marketplace: self.price})
                offer.write({"marketplace_prices": prices, "sync_error": False})
            elif self.kind == "offer_quantity":
                offer.write({"allegro_stock": self.quantity, "read_at": now, "sync_error": False})
            elif self.publication_action == "END":
                offer.write({"status": "ENDED", "ended_by_sync": True, "sync_error": False})
            else:
                offer.write({"status": "ACTIVE", "ended_by_sync": False, "sync_error": False})
        if self.kind == "offer_quantity":
            for offer_id in list(results["FAIL"]) + list(results["?"]):
                if offer_id in offers:
                    offers[offer_id].stock_base -= self.quantity - offers[offer_id].allegro_stock
        for offer_id, task in results["FAIL"].items():
            if offer_id in offers:
                offers[offer_id].sync_error = _task_error(task) or self.env._("Refused by Allegro")
        for offer_id, task in results["?"].items():
            if offer_id in offers:
                offers[offer_id].sync_error = self.env._(
                    "Allegro answered with a task status Odoo does not know (%(status)s): the change may not "
                    "have been made. It is sent again at the next reconciliation.", status=task.get("status"))
        not_done = {**results["FAIL"], **results["?"]}
        if not not_done:
            self._mark_done()
            return True
        _logger.info("Allegro update %s: command %s refused for %d offer(s)", self.id, self.command_ref,
                     len(not_done))
        reasons = sorted({offers[i].sync_error for i in not_done if i in offers})
        summary = self.env._("Refused for %(refused)s of %(total)s offers: %(reasons)s", refused=len(not_done),
                             total=sum(len(r) for r in results.values()), reasons="; ".join(reasons))
        if results["SUCCESS"]:
            self._mark_done(summary)
        else:
            self._record_failure(summary)
        return True

    def _refresh_order(self):
        try:
            # Taking Allegro's new revision is the connector's bookkeeping: the
            # user who changed the status may not edit order lines or buyers.
            with self.env.cr.savepoint():
                self.order_id.sudo().action_refresh_from_allegro()
        except (api_errors.AllegroError, UserError) as error:
            # The next import brings the order up to date anyway.
            _logger.info("Allegro order %s not re-read: %s", self.order_id.id, error)

    def _mark_done(self, note=False):
        """``note``: what went wrong for part of it (offers Allegro refused)."""
        self.write({"state": "done", "done_at": fields.Datetime.now(), "last_error": note})
        if self.order_id:
            self.order_id.message_post(body=self._done_message(), subtype_xmlid="mail.mt_note")

    def _done_message(self):
        if self.kind == "invoice":
            return self.env._("Invoice %(invoice)s sent to Allegro.", invoice=self.move_id.name)
        if self.kind == "shipment":
            return self.env._("Tracking number %(waybill)s sent to Allegro.", waybill=self.waybill)
        return self.env._("Allegro status set to %(status)s.", status=self._status_label(self.fulfillment_status))

    def _status_label(self, status):
        """The status as the user reads it, in their language."""
        return dict(self._fields["fulfillment_status"]._description_selection(self.env)).get(status)

    def _record_failure(self, message):
        """The update failed for good: say why on it, on its invoice, and flag the order."""
        self.write({"state": "failed", "last_error": message})
        if self.move_id:
            self.move_id.write({"allegro_upload_state": "failed", "allegro_upload_message": message})
        if self.kind == "status":
            self._refresh_order()  # show the seller what Allegro holds now
        self.order_id._flag(self.env._("Allegro refused an update (%(what)s): %(error)s",
                                       what=self.display_name, error=message))
        _logger.info("Allegro update %s failed: %s", self.id, message)


def _retry_seconds(error):
    """The wait Allegro asked for (Retry-After of a 429 or 503), None when it did not say."""
    retry_after = getattr(error, "retry_after", None)
    return max(1, int(float(retry_after))) if retry_after else None


def _task_error(task):
    errors = task.get("errors") or []
    return "; ".join(e.get("userMessage") or e.get("message") or "" for e in errors) or task.get("message")
