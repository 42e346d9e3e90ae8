"""Post-purchase issues (disputes and claims) of Allegro orders.

Each issue is kept once, on its order; its chat goes to the order's chatter
like the buyer's messages, and the seller's answer deadline is an Odoo
activity of the shop's responsible person, done once the seller answered or
the issue closed.
"""

import json

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..allegro_api import errors as api_errors
from ..allegro_api.params import parse_timestamp
from .allegro_rights import ALLEGRO_USER, check_group
from .allegro_thread import _files, text_html

# Allegro lists open issues with these statuses (the poll asks for them only).
OPEN_STATUSES = ("DISPUTE_ONGOING", "DISPUTE_UNRESOLVED", "CLAIM_SUBMITTED")
CLOSED_STATUSES = ("DISPUTE_CLOSED", "CLAIM_ACCEPTED", "CLAIM_REJECTED")


class AllegroIssue(models.Model):
    _name = "allegro.issue"
    _description = "Allegro issue"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "opened_at desc, id desc"

    shop_id = fields.Many2one("allegro.shop", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    allegro_ref = fields.Char("Allegro ID", required=True, readonly=True, copy=False)
    reference = fields.Char("Reference number", readonly=True)
    order_ref = fields.Char("Allegro order ID", readonly=True)
    order_id = fields.Many2one("allegro.order", "Order", readonly=True, index="btree_not_null",
                               ondelete="set null")
    buyer_login = fields.Char("Buyer", readonly=True)
    kind = fields.Char("Type", readonly=True, help="DISPUTE (a discussion) or CLAIM (a complaint), as Allegro says.")
    status = fields.Char("Status code", readonly=True, index=True, help="As Allegro gives it.")
    status_label = fields.Char("Status", compute="_compute_status_label")
    is_open = fields.Boolean("Open", compute="_compute_is_open", store=True)
    subject = fields.Char(readonly=True)
    description = fields.Text("Buyer's description", readonly=True)
    expectations = fields.Text("Buyer's expectations", readonly=True)
    opened_at = fields.Datetime("Opened on", readonly=True)
    due_at = fields.Datetime("Answer due", readonly=True, help="Allegro's deadline for the seller.")
    chat_active = fields.Boolean("Chat open", readonly=True)
    last_message_status = fields.Char("Last message", readonly=True,
                                      help="Who wrote last in the chat, as Allegro says (e.g. SELLER_REPLIED).")
    last_message_at = fields.Char("Chat read up to", readonly=True, copy=False,
                                  help="The chat's last message as last read.")
    message_line_ids = fields.One2many("allegro.message", "issue_id", "Chat", readonly=True)
    answer_activity_id = fields.Many2one("mail.activity", "Answer activity", readonly=True, ondelete="set null")
    raw_payload = fields.Text("Allegro data", readonly=True, groups="allegro_connector.group_allegro_manager")
    sync_error = fields.Text("Read error", readonly=True)

    _shop_ref_unique = models.Constraint("UNIQUE(shop_id, allegro_ref)", "An Allegro issue is kept once.")

    @api.depends("kind", "reference", "order_id")
    def _compute_display_name(self):
        for issue in self:
            kind = self.env._("Complaint") if issue.kind == "CLAIM" else self.env._("Discussion")
            issue.display_name = "%s %s" % (kind, issue.reference or issue.order_id.display_name or issue.allegro_ref)

    @api.depends("status")
    @api.depends_context("lang")
    def _compute_status_label(self):
        labels = {
            "DISPUTE_ONGOING": self.env._("Discussion ongoing"),
            "DISPUTE_UNRESOLVED": self.env._("Unresolved (Allegro advises)"),
            "DISPUTE_CLOSED": self.env._("Discussion closed"),
            "CLAIM_SUBMITTED": self.env._("Complaint submitted"),
            "CLAIM_ACCEPTED": self.env._("Complaint accepted"),
            "CLAIM_REJECTED": self.env._("Complaint rejected"),
        }
        for issue in self:
            issue.status_label = labels.get(issue.status, issue.status)

    @api.depends("status")
    def _compute_is_open(self):
        for issue in self:
            issue.is_open = issue.status not in CLOSED_STATUSES

    # ------------------------------------------------------------------
    # From Allegro
    # ------------------------------------------------------------------

    @api.model
    def _take(self, shop, data, client):
        """Keep an issue as Allegro lists it; its chat is read when it moved."""
        Issue = self.sudo()
        issue = Issue.search([("shop_id", "=", shop.id), ("allegro_ref", "=", data["id"])], limit=1)
        state = data.get("currentState") or {}
        last = (data.get("chat") or {}).get("lastMessage") or {}
        order_ref = (data.get("checkoutForm") or {}).get("id")
        values = {
            "kind": data.get("type"),
            "status": state.get("status"),
            "reference": data.get("referenceNumber"),
            "order_ref": order_ref,
            "buyer_login": (data.get("buyer") or {}).get("login"),
            "subject": data.get("subject") or (data.get("reason") or {}).get("type"),
            "description": data.get("description"),
            "expectations": _expectations(data.get("expectations")),
            "opened_at": parse_timestamp(data.get("openedDate")),
            "due_at": parse_timestamp(state.get("statusDueDate") or data.get("decisionDueDate")),
            "chat_active": bool(state.get("chatActive")),
            "last_message_status": last.get("status"),
            "raw_payload": json.dumps(data, ensure_ascii=False, indent=1),
            "sync_error": False,
        }
        if order_ref and (not issue or not issue.order_id):
            values["order_id"] = self.env["allegro.order"].sudo().search(
                [("shop_id", "=", shop.id), ("allegro_ref", "=", order_ref)], limit=1).id or False
        chat_moved = not issue or issue.last_message_at != last.get("createdAt")
        if issue:
            issue.write(values)
        else:
            issue = Issue.create(dict(values, shop_id=shop.id, allegro_ref=data["id"]))
            issue._document().message_post(
                body=Markup("<p><b>%s</b></p><p>%s</p>") % (
                    self.env._("The buyer opened %(issue)s on Allegro.", issue=issue.display_name),
                    text_html(issue.expectations or "")),
                message_type="comment", subtype_xmlid="mail.mt_note")
        if chat_moved:
            issue._read_chat(client)
            issue.last_message_at = last.get("createdAt")
        issue._plan_answer()
        return issue

    def _document(self):
        return (self.order_id or self).sudo()

    @api.model
    def _take_listed(self, shop, data, client):
        """``_take`` in a savepoint: an issue Odoo cannot read is said on it, the others go on."""
        try:
            with self.env.cr.savepoint():
                return self._take(shop, data, client)
        except api_errors.AllegroError as error:
            if error.retryable:
                raise
            reason = shop._allegro_error_text(error)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            reason = self.env._("Allegro sent data Odoo could not read: %(error)s", error=type(error).__name__)
        issue = self.sudo().search([("shop_id", "=", shop.id), ("allegro_ref", "=", data["id"])], limit=1)
        values = {"sync_error": reason, "raw_payload": json.dumps(data, ensure_ascii=False, indent=1)}
        if issue:
            issue.write(values)
        else:
            issue = self.sudo().create(dict(values, shop_id=shop.id, allegro_ref=data["id"]))
        return issue

    def _read_chat(self, client):
        """The chat's messages not kept yet, each posted once, oldest first."""
        Message = self.env["allegro.message"].sudo()
        known = set(Message.search([("shop_id", "=", self.shop_id.id), ("issue_id", "=", self.id)]).mapped(
            "allegro_ref"))
        for entry in client.get_issue_chat(self.allegro_ref):
            if not isinstance(entry, dict) or not entry.get("id") or entry["id"] in known:
                continue
            author = entry.get("author") or {}
            seller = author.get("role") == "SELLER"
            if seller and self._adopt(entry):
                continue
            message = Message.create({
                "shop_id": self.shop_id.id, "issue_id": self.id, "order_id": self.order_id.id,
                "allegro_ref": entry["id"], "direction": "out" if seller else "in",
                "buyer_login": self.buyer_login, "text": entry.get("text") or "",
                "created_at": parse_timestamp(entry.get("createdAt")) or fields.Datetime.now(),
            })
            message._post_received(_files(client.download_issue_attachment, entry.get("attachments")))

    def _adopt(self, entry):
        """A seller's chat message Odoo is sending (its answer not in yet) is that one."""
        pending = self.message_line_ids.filtered(
            lambda m: m.direction == "out" and not m.allegro_ref and m.text == entry.get("text"))[:1]
        if pending:
            pending.write({"allegro_ref": entry["id"], "state": "sent"})
        return bool(pending)

    def _plan_answer(self):
        """An open issue waiting for the seller is an activity of the shop's
        responsible person, due on Allegro's deadline; answered or closed, it is done."""
        waiting = self.is_open and self.chat_active and self.last_message_status != "SELLER_REPLIED"
        # A done activity is kept archived, as Odoo does: a new wait needs a new one.
        activity = self.answer_activity_id.filtered("active")
        if not waiting:
            if activity:
                activity.sudo().action_feedback(feedback=self.env._("Answered or closed on Allegro."))
            return
        deadline = (self.due_at or fields.Datetime.now()).date()
        if activity:
            if activity.date_deadline != deadline:
                activity.sudo().date_deadline = deadline
            return
        shop = self.shop_id.sudo()
        user = shop.responsible_user_id or shop.user_id or shop.create_uid
        self.answer_activity_id = self._document().activity_schedule(
            "mail.mail_activity_data_todo", date_deadline=deadline, user_id=user.id,
            summary=self.env._("Answer %(issue)s on Allegro", issue=self.display_name),
            note=text_html(self.description or ""),
        )

    def _answered(self):
        self.sudo().write({"last_message_status": "SELLER_REPLIED"})
        self._plan_answer()

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def action_answer(self):
        check_group(self, ALLEGRO_USER, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Answer on Allegro"),
            "res_model": "allegro.issue.answer",
            "view_mode": "form",
            "target": "new",
            "context": {"default_issue_id": self.id},
        }

    def _decide(self, decision, reason):
        """Accept or reject a claim on Allegro (a button: the answer is shown at once)."""
        check_group(self, ALLEGRO_USER, "read")
        issue = self.sudo()
        client = issue.shop_id._allegro_client()
        try:
            client.change_issue_status(issue.allegro_ref, decision, reason)
            issue._take(issue.shop_id, client.get_issue(issue.allegro_ref), client)
        except api_errors.AllegroError as error:
            raise UserError(issue.shop_id._allegro_error_text(error)) from error


def _expectations(entries):
    """The buyer's expectations as a person reads them."""
    lines = []
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        refund = entry.get("refund") or {}
        text = entry.get("name") or ""
        if refund.get("amount"):
            text = "%s %s %s" % (text, refund.get("amount"), refund.get("currency") or "")
        if text.strip():
            lines.append(text.strip())
    return "\n".join(lines)
