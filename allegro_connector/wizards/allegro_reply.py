"""Write to the buyer on Allegro: a reply about an order, an answer in an issue.

Both record an outgoing message, shown in the order's chatter at once, and
queue the job that sends it (see ``allegro.message._send_job``)."""

from markupsafe import Markup

from odoo import fields, models
from odoo.exceptions import UserError

from ..allegro_api.client import MAX_ISSUE_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH
from ..models.allegro_rights import ALLEGRO_USER, check_group
from ..models.allegro_thread import text_html


def _queue_message(env, document, values, attachments):
    """The outgoing message, in the chatter of ``document`` with its files, and its job."""
    # The files the user uploaded in the wizard, moved to the document (never someone else's).
    attachments = attachments.sudo().filtered(lambda a: a.create_uid == env.user)
    attachments.write({"res_model": document._name, "res_id": document.id})
    message = env["allegro.message"].sudo().create(dict(values, direction="out", state="pending"))
    header = env._("Sent to the buyer on Allegro (%(login)s)", login=message.buyer_login or "")
    post = document.sudo().message_post(
        body=Markup("<p><b>%s</b></p><p>%s</p>") % (header, text_html(message.text)),
        author_id=env.user.partner_id.id, message_type="comment", subtype_xmlid="mail.mt_note",
        attachment_ids=attachments.ids)
    message.write({"mail_message_id": post.id, "attachment_ids": [(6, 0, post.attachment_ids.ids)]})
    message._enqueue()
    return message


class AllegroReplyWizard(models.TransientModel):
    _name = "allegro.reply.wizard"
    _description = "Reply to buyer on Allegro"

    order_id = fields.Many2one("allegro.order", required=True, readonly=True)
    buyer_login = fields.Char(related="order_id.buyer_login", string="Buyer")
    text = fields.Text("Message", required=True,
                       help="Sent to the buyer through Allegro's message center (at most 2,000 characters, "
                       "no links outside Allegro).")
    attachment_ids = fields.Many2many("ir.attachment", string="Attachments",
                                      help="PNG, GIF, BMP, TIFF, JPEG or PDF, at most 5 MB each.")

    def action_send(self):
        self.ensure_one()
        order = self.order_id
        check_group(order, ALLEGRO_USER, "read")
        text = (self.text or "").strip()
        if not text:
            raise UserError(self.env._("Write the message first."))
        if len(text) > MAX_MESSAGE_LENGTH:
            raise UserError(self.env._("Allegro takes at most %(count)s characters.", count=MAX_MESSAGE_LENGTH))
        if not order.buyer_login:
            raise UserError(self.env._("This order names no buyer to write to."))
        _queue_message(self.env, order, {
            "shop_id": order.shop_id.id, "order_id": order.id, "thread_id": order._thread().id,
            "buyer_login": order.buyer_login, "text": text,
        }, self.attachment_ids)
        return {"type": "ir.actions.act_window_close"}


class AllegroIssueAnswer(models.TransientModel):
    _name = "allegro.issue.answer"
    _description = "Answer an Allegro issue"

    issue_id = fields.Many2one("allegro.issue", required=True, readonly=True)
    issue_kind = fields.Char(related="issue_id.kind")
    text = fields.Text("Message", required=True)
    message_type = fields.Selection(
        [("REGULAR", "Message"), ("END_REQUEST", "Ask the buyer to end the discussion"),
         ("RETURN_REQUIRED_SELLER_LABEL", "Return needed: seller's label"),
         ("RETURN_REQUIRED_CUSTOM", "Return needed: buyer sends it"),
         ("RETURN_NOT_REQUIRED", "No return needed")],
        "Kind", required=True, default="REGULAR")
    decision = fields.Selection(
        [("ACCEPTED_REPAIR", "Accept: repair"), ("ACCEPTED_REFUND", "Accept: refund"),
         ("ACCEPTED_EXCHANGE", "Accept: exchange"),
         ("REJECTED_PRODUCT_CONFORMS_TO_CONTRACT", "Reject: the product conforms to the contract"),
         ("REJECTED_PRODUCT_NOT_RETURNED", "Reject: the product was not returned"),
         ("REJECTED_PRODUCT_DAMAGED_BY_USER", "Reject: damaged by the buyer"),
         ("REJECTED_MINOR_DEFECT", "Reject: minor defect"), ("REJECTED_OTHER", "Reject: other reason")],
        "Decision on the complaint",
        help="Accept or reject the complaint on Allegro, with the message as its reason.")
    attachment_ids = fields.Many2many("ir.attachment", string="Attachments")

    def action_send(self):
        self.ensure_one()
        issue = self.issue_id
        check_group(issue, ALLEGRO_USER, "read")
        text = (self.text or "").strip()
        if not text:
            raise UserError(self.env._("Write the message first."))
        if len(text) > MAX_ISSUE_MESSAGE_LENGTH:
            raise UserError(self.env._("Allegro takes at most %(count)s characters.",
                                       count=MAX_ISSUE_MESSAGE_LENGTH))
        if self.decision:
            if issue.kind != "CLAIM":
                raise UserError(self.env._("Only a complaint is accepted or rejected."))
            issue._decide(self.decision, text)
            return {"type": "ir.actions.act_window_close"}
        _queue_message(self.env, issue._document(), {
            "shop_id": issue.shop_id.id, "issue_id": issue.id, "order_id": issue.order_id.id,
            "buyer_login": issue.buyer_login, "text": text, "issue_message_type": self.message_type,
        }, self.attachment_ids)
        return {"type": "ir.actions.act_window_close"}
