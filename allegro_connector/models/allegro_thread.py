"""Buyers' conversations: Allegro's message center threads and their messages.

A message from the buyer is kept once (its Allegro id is unique per shop) and
posted in the chatter of the Allegro order it names, as written by the buyer;
one naming no order goes to the buyer's conversation. A reply written in Odoo
is an outgoing message sent by a job of its own (see ``_send_job``).
"""

import base64
import logging
from datetime import timedelta

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError

from ..allegro_api import errors as api_errors
from ..allegro_api.params import parse_timestamp
from ..const import CHANNEL_MESSAGES, KEY_MESSAGE
from .allegro_rights import ALLEGRO_USER, check_group
from .allegro_update import MAX_ATTEMPTS, _retry_seconds, queued_job_record

_logger = logging.getLogger(__name__)

# A message whose answer was lost is looked for among those created since a
# little before it was written: Allegro's clock and ours need not agree.
CLOCK_MARGIN = timedelta(minutes=5)


def text_html(text):
    """Plain text as chatter HTML, line breaks kept."""
    return Markup("<br/>").join(escape(line) for line in (text or "").split("\n"))


def _files(download, attachments):
    """A message's files as (name, bytes); one Allegro no longer keeps (after 6 months) is left out."""
    files = []
    for attachment in attachments or []:
        if not isinstance(attachment, dict) or not attachment.get("url"):
            continue
        try:
            files.append((attachment.get("fileName") or "attachment", download(url=attachment["url"])))
        except api_errors.AllegroNotFound:
            continue
    return files


class AllegroThread(models.Model):
    """One buyer's conversation with the shop (Allegro keeps one thread per buyer)."""

    _name = "allegro.thread"
    _description = "Allegro conversation"
    _inherit = ["mail.thread"]
    _order = "last_message_at desc, id desc"
    _rec_name = "buyer_login"

    shop_id = fields.Many2one("allegro.shop", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    allegro_ref = fields.Char("Allegro ID", required=True, readonly=True, copy=False)
    buyer_login = fields.Char("Buyer", readonly=True)
    partner_id = fields.Many2one("res.partner", "Contact", readonly=True, index="btree_not_null")
    order_id = fields.Many2one("allegro.order", "Last order", readonly=True, index="btree_not_null",
                               help="The last order a message of this conversation named.")
    read = fields.Boolean(readonly=True, default=True, help="Whether the seller read the buyer's last message.")
    last_message_at = fields.Datetime("Last message", readonly=True)
    # Allegro's time as it gives it, to the millisecond (a Datetime field keeps whole seconds).
    read_position = fields.Char(
        "Read up to", readonly=True, copy=False,
        help="The newest message read from Allegro: the next read starts after it.")
    message_line_ids = fields.One2many("allegro.message", "thread_id", "Messages on Allegro", readonly=True)
    sync_error = fields.Text("Read error", readonly=True, help="Why the last read of this conversation failed.")
    awaiting_answer = fields.Boolean(
        "Buyer waiting for an answer", compute="_compute_awaiting_answer", store=True,
        help="The buyer wrote last.")

    _shop_ref_unique = models.Constraint("UNIQUE(shop_id, allegro_ref)", "An Allegro conversation is kept once.")

    @api.depends("message_line_ids.direction", "message_line_ids.state", "message_line_ids.created_at")
    def _compute_awaiting_answer(self):
        for thread in self:
            thread.awaiting_answer = _buyer_wrote_last(thread.message_line_ids)

    @api.model
    def _take(self, shop, data):
        """The conversation of a listed thread, made or brought up to date."""
        thread = self.sudo().search([("shop_id", "=", shop.id), ("allegro_ref", "=", data["id"])], limit=1)
        login = (data.get("interlocutor") or {}).get("login")
        values = {}
        if "read" in data:
            values["read"] = bool(data["read"])
        if data.get("lastMessageDateTime"):
            values["last_message_at"] = parse_timestamp(data["lastMessageDateTime"])
        if login and (not thread or not thread.partner_id):
            orders = self.env["allegro.order"].sudo().search(
                [("shop_id", "=", shop.id), ("buyer_login", "=", login), ("sale_order_id", "!=", False)],
                order="bought_at desc", limit=1)
            if orders:
                values["partner_id"] = orders.partner_id.id
        if thread:
            thread.write(values)
            return thread
        return self.sudo().create(dict(values, shop_id=shop.id, allegro_ref=data["id"], buyer_login=login))

    def action_mark_read(self):
        """Mark the conversations read, on Allegro first."""
        check_group(self, ALLEGRO_USER, "read")
        for thread in self.sudo().filtered(lambda t: not t.read):
            try:
                thread.shop_id._allegro_client().mark_thread_read(thread.allegro_ref)
            except api_errors.AllegroError as error:
                raise UserError(thread.shop_id._allegro_error_text(error)) from error
            thread.read = True
        return True


def _buyer_wrote_last(messages):
    """Whether the newest of these messages (a refused reply does not count) is the buyer's."""
    counted = messages.filtered(lambda m: m.state != "failed")
    if not counted:
        return False
    # To the second, then in the order they were recorded: a reply written in Odoo within the
    # second of the buyer's message (whose time Allegro gives to the millisecond) still follows it.
    last = max(counted, key=lambda m: ((m.created_at or fields.Datetime.now()).replace(microsecond=0), m.id or 0))
    return last.direction == "in"


class AllegroMessage(models.Model):
    """One message of a conversation or of an issue's chat, either way."""

    _name = "allegro.message"
    _description = "Allegro message"
    _order = "created_at desc, id desc"

    shop_id = fields.Many2one("allegro.shop", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    thread_id = fields.Many2one("allegro.thread", "Conversation", ondelete="cascade", index="btree_not_null",
                                readonly=True)
    issue_id = fields.Many2one("allegro.issue", "Issue", ondelete="cascade", index="btree_not_null", readonly=True)
    order_id = fields.Many2one("allegro.order", "Order", ondelete="set null", index="btree_not_null", readonly=True)
    allegro_ref = fields.Char("Allegro ID", readonly=True, copy=False)
    direction = fields.Selection([("in", "From the buyer"), ("out", "From the seller")], required=True,
                                 readonly=True)
    buyer_login = fields.Char("Buyer", readonly=True)
    text = fields.Text(readonly=True)
    issue_message_type = fields.Char("Message type", readonly=True)
    created_at = fields.Datetime("Written on", readonly=True, default=fields.Datetime.now)
    state = fields.Selection(
        [("received", "Received"), ("pending", "To send"), ("sent", "Sent"), ("failed", "Refused")],
        required=True, readonly=True, default="received", index=True)
    error = fields.Text("Allegro's answer", readonly=True)
    attachment_ids = fields.Many2many("ir.attachment", string="Attachments", readonly=True)
    mail_message_id = fields.Many2one("mail.message", "Chatter message", readonly=True, ondelete="set null")
    job_id = fields.Many2one("queue.job", "Job", readonly=True, copy=False, ondelete="set null")

    _shop_ref_unique = models.Constraint("UNIQUE(shop_id, allegro_ref)", "An Allegro message is kept once.")

    @api.depends("direction", "buyer_login", "created_at")
    def _compute_display_name(self):
        directions = dict(self._fields["direction"]._description_selection(self.env))
        for message in self:
            message.display_name = "%s (%s)" % (directions.get(message.direction), message.buyer_login or "")

    # ------------------------------------------------------------------
    # Into the chatter
    # ------------------------------------------------------------------

    def _document(self):
        """Where the message shows: its order, else its issue, else its conversation."""
        return self.order_id or self.issue_id or self.thread_id

    def _post_received(self, files=()):
        """Post a message read from Allegro in its document's chatter, with its files:
        the buyer's as written by the buyer (their contact, else a label naming them),
        the seller's own (written on Allegro) as a note."""
        document = self._document().sudo().with_context(mail_create_nosubscribe=True, mail_post_autofollow=False)
        attachments = [(name, data) for name, data in files]
        if self.direction == "in":
            partner = self.order_id.partner_id or self.thread_id.partner_id
            label = self.env._("Buyer on Allegro (%(login)s)", login=self.buyer_login or "?")
            header = self.env._("Message from the buyer on Allegro") if not self.issue_id else self.env._(
                "Message in the Allegro issue %(issue)s", issue=self.issue_id.display_name)
            post = document.message_post(
                body=Markup("<p><b>%s</b></p><p>%s</p>") % (header, text_html(self.text)),
                author_id=partner.id or False, email_from=False if partner else label,
                message_type="comment", subtype_xmlid="mail.mt_comment", attachments=attachments)
        else:
            header = self.env._("Sent to the buyer on Allegro (%(login)s)", login=self.buyer_login or "")
            post = document.message_post(body=Markup("<p><b>%s</b></p><p>%s</p>") % (header, text_html(self.text)),
                                         message_type="comment", subtype_xmlid="mail.mt_note",
                                         attachments=attachments)
        self.write({"mail_message_id": post.id, "attachment_ids": [(6, 0, post.attachment_ids.ids)]})

    # ------------------------------------------------------------------
    # Out: a reply to send
    # ------------------------------------------------------------------

    def _enqueue(self, eta=None):
        for message in self:
            job = message.with_delay(
                channel=CHANNEL_MESSAGES, identity_key=KEY_MESSAGE % message.id, max_retries=MAX_ATTEMPTS, eta=eta,
                description=self.env._("Allegro: message to %(buyer)s", buyer=message.buyer_login or ""),
            )._send_job()
            record = queued_job_record(job)
            message.sudo().job_id = record

    def _send_job(self):
        """Send one reply. Allegro takes no idempotency key for messages: a
        repeat (the job retried after a lost answer, or a worker that died after
        its request) looks for the message on Allegro before sending it again."""
        self.ensure_one()
        message = self.sudo()
        message = message.with_context(lang=message.shop_id._allegro_lang())
        if message.state != "pending":
            return message.env._("Nothing to send: the message was sent already.")
        uuid = self.env.context.get("job_uuid")
        job = uuid and self.env["queue.job"].sudo().search([("uuid", "=", uuid)], limit=1)
        client = message.shop_id._allegro_client()
        try:
            sent = message._find_sent(client) if job and job.retry else None
            if sent is None:
                sent = message._deliver(client)
        except api_errors.AllegroError as error:
            text = message.shop_id._allegro_error_text(error)
            if error.retryable:
                raise RetryableJobError(text, seconds=_retry_seconds(error)) from error
            message._refused(text)
            return text
        message._sent(sent)
        return message.env._("Sent.")

    def _deliver(self, client):
        attachment_ids = []
        for attachment in self.attachment_ids:
            data = base64.b64decode(attachment.datas or b"")
            if self.issue_id:
                attachment_ids.append(client.add_issue_attachment(attachment.name, data))
            else:
                attachment_ids.append(client.add_attachment(attachment.name, data))
        if self.issue_id:
            return client.send_issue_message(self.issue_id.allegro_ref, self.text,
                                             message_type=self.issue_message_type or "REGULAR",
                                             attachment_ids=attachment_ids)
        if self.thread_id:
            return client.send_message(self.thread_id.allegro_ref, self.text, attachment_ids=attachment_ids)
        # No conversation with this buyer yet: the seller writes first, about the order.
        return client.start_thread(self.order_id.buyer_login, self.order_id.allegro_ref, self.text,
                                   attachment_ids=attachment_ids)

    def _find_sent(self, client):
        """The message as Allegro holds it if an earlier attempt got through, else None."""
        since = self.create_date - CLOCK_MARGIN
        if self.issue_id:
            for entry in client.get_issue_chat(self.issue_id.allegro_ref):
                author = entry.get("author") or {}
                created = parse_timestamp(entry.get("createdAt"))
                if author.get("role") == "SELLER" and entry.get("text") == self.text and (
                        not created or created >= since):
                    return entry
            return None
        thread_ref = self.thread_id.allegro_ref
        if not thread_ref:
            # A first message: its conversation is the buyer's, if Allegro made it.
            for thread in client.iter_threads(since=since):
                if (thread.get("interlocutor") or {}).get("login") == self.order_id.buyer_login:
                    thread_ref = thread.get("id")
                    break
        if not thread_ref:
            return None
        return client.find_sent_message(thread_ref, self.text, since)

    def _sent(self, sent):
        sent = sent if isinstance(sent, dict) else {}
        # A poll that read it back meanwhile gave it its id already (see allegro.message.reader).
        values = {"state": "sent", "error": False, "allegro_ref": sent.get("id") or self.allegro_ref or False}
        if not self.thread_id and not self.issue_id and (sent.get("thread") or {}).get("id"):
            values["thread_id"] = self.env["allegro.thread"]._take(
                self.shop_id, {"id": sent["thread"]["id"],
                               "interlocutor": {"login": self.order_id.buyer_login}}).id
        self.write(values)
        if self.issue_id:
            self.issue_id._answered()

    def _refused(self, reason):
        """Allegro refused the message: its reason shows on the order."""
        self.write({"state": "failed", "error": reason})
        self._document().sudo().message_post(
            body=Markup("<p><b>%s</b></p><p>%s</p>") % (
                self.env._("Allegro refused the message to the buyer:"), text_html(reason)),
            message_type="comment", subtype_xmlid="mail.mt_note")
        if self.order_id:
            self.order_id._flag(self.env._("Allegro refused a message to the buyer: %(reason)s", reason=reason))

    def _on_job_failed(self, exc_message=None, exc_name=None, **_fail_values):
        for message in self.sudo().filtered(lambda m: m.state == "pending"):
            message = message.with_context(lang=message.shop_id._allegro_lang())
            message._refused(exc_message or exc_name or message.env._("Unknown error"))
