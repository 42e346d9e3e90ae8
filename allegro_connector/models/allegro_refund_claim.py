import logging
from datetime import timedelta

from odoo import api, fields, models

from odoo.addons.queue_job.exception import RetryableJobError

from ..allegro_api import errors as api_errors
from ..allegro_api.client import CLAIM_EXISTS
from ..const import CHANNEL_UPDATES, CLAIM_STATES_OF, CLAIM_WINDOW_DAYS, CLAIMABLE_REFUND_REASONS, KEY_REFUND_CLAIM
from .allegro_update import MAX_ATTEMPTS, _retry_seconds, queued_job_record

_logger = logging.getLogger(__name__)

CLAIM_STATES = [
    ("due", "To file"),
    ("filed", "Filed"),
    ("accepted", "Accepted"),
    ("refused", "Refused"),
    ("cancelled", "Cancelled"),
    ("expired", "Too late"),
]
# Claims whose status is read per run of the scheduled action; the rest wait for the next.
FOLLOW_BATCH = 100


class AllegroRefundClaim(models.Model):
    """The claim of Allegro's commission back for an item refunded to the buyer.

    Allegro takes one claim per item of an order (line item), whatever its
    status, within its window after the purchase: one record per item, filed
    by a job once its first refund is made, with the quantity refunded by then.
    A repeat after a lost answer, or a claim Allegro filed by itself, is found
    on Allegro by its item, never filed a second time. A scheduled action
    follows Allegro's decision.
    """

    _name = "allegro.refund.claim"
    _description = "Allegro Commission Refund Claim"
    _order = "id desc"
    _rec_name = "offer_name"

    order_line_id = fields.Many2one("allegro.order.line", "Item", required=True, readonly=True, index=True,
                                    ondelete="restrict")
    order_id = fields.Many2one(related="order_line_id.order_id", store=True, index=True)
    shop_id = fields.Many2one(related="order_line_id.order_id.shop_id", store=True)
    company_id = fields.Many2one(related="order_line_id.order_id.company_id", store=True, index=True)
    offer_name = fields.Char(related="order_line_id.offer_name", string="Offer")
    line_item_ref = fields.Char(related="order_line_id.allegro_ref")
    refund_ids = fields.Many2many("allegro.refund", string="Refunds", readonly=True)
    quantity = fields.Integer(required=True, readonly=True)
    state = fields.Selection(CLAIM_STATES, default="due", required=True, readonly=True, index=True)
    deadline = fields.Datetime("File by", readonly=True,
                               help="Allegro takes a claim until this many days after the purchase.")
    claim_ref = fields.Char("Allegro claim ID", readonly=True, copy=False, index="btree_not_null")
    allegro_status = fields.Char("Status on Allegro", readonly=True)
    claim_type = fields.Char("Filed by", readonly=True, help="MANUAL: by the seller; AUTOMATIC: by Allegro.")
    currency_id = fields.Many2one(related="order_line_id.currency_id")
    commission = fields.Monetary("Commission", readonly=True)
    filed_at = fields.Datetime("Filed on", readonly=True)
    message = fields.Text("Allegro's answer", readonly=True)
    job_id = fields.Many2one("queue.job", "Job", readonly=True, copy=False, ondelete="set null",
                             groups="allegro_connector.group_allegro_manager")

    _line_unique = models.Constraint("UNIQUE(order_line_id)", "Allegro takes one commission claim per item.")

    # ------------------------------------------------------------------
    # Which refunds qualify
    # ------------------------------------------------------------------

    @api.model
    def _claim_for(self, refund):
        """The claims of the items a refund made on Allegro gave back: one per item, a new one due, one
        not filed yet taking the new quantity. Refunds of money alone (overpaid, paid too little) claim
        nothing, nor does an item Allegro's window closed on."""
        refund = refund.sudo()
        if refund.reason not in CLAIMABLE_REFUND_REASONS:
            return self
        claims = self.sudo()
        deadline = refund.order_id.bought_at and refund.order_id.bought_at + timedelta(days=CLAIM_WINDOW_DAYS)
        for line in refund.line_ids:
            claim = self.sudo().search([("order_line_id", "=", line.order_line_id.id)])
            refunded = sum(refund.search([("order_id", "=", refund.order_id.id), ("state", "=", "done"),
                                          ("reason", "in", CLAIMABLE_REFUND_REASONS)])
                           .line_ids.filtered(lambda l: l.order_line_id == line.order_line_id).mapped("quantity"))
            quantity = min(refunded, line.order_line_id.quantity)
            if not claim:
                claim = self.sudo().create({"order_line_id": line.order_line_id.id, "quantity": quantity,
                                            "deadline": deadline})
                claim._enqueue()
            elif claim.state == "due":
                claim.quantity = quantity
            claim.refund_ids = [(4, refund.id)]
            claims |= claim
        refund.claim_ids = [(4, claim.id) for claim in claims]
        return claims

    # ------------------------------------------------------------------
    # Filing
    # ------------------------------------------------------------------

    def _enqueue(self):
        for claim in self:
            job = claim.with_delay(
                channel=CHANNEL_UPDATES, identity_key=KEY_REFUND_CLAIM % claim.id, max_retries=MAX_ATTEMPTS,
                description=self.env._("Allegro: commission claim for %(item)s", item=claim.offer_name),
            )._file_job()
            claim.job_id = queued_job_record(job)

    def _file_job(self):
        """File the claim once. A repeat (a lost answer, a worker that died) looks for it on Allegro
        first; so does a refusal because the item has a claim already (one Allegro filed by itself)."""
        self.ensure_one()
        claim = self.sudo()
        claim = claim.with_context(lang=claim.shop_id._allegro_lang())
        if claim.state != "due":
            return claim.env._("Nothing to file: the claim is no longer due.")
        if claim.deadline and claim.deadline < fields.Datetime.now():
            claim.write({"state": "expired", "message": claim.env._("Allegro's window for the claim has closed.")})
            return claim.message
        job_uuid = self.env.context.get("job_uuid")
        job = job_uuid and self.env["queue.job"].sudo().search([("uuid", "=", job_uuid)], limit=1)
        client = claim.shop_id._allegro_client()
        try:
            found = claim._find_on_allegro(client) if job and job.retry else None
            if found is None:
                try:
                    created = client.create_refund_claim(claim.line_item_ref, claim.quantity)
                except api_errors.AllegroValidationError as error:
                    if CLAIM_EXISTS not in error.codes:
                        raise
                    found = claim._find_on_allegro(client)
                    if found is None:
                        raise
                else:
                    claim.write({"claim_ref": created.get("id"), "state": "filed",
                                 "filed_at": fields.Datetime.now(), "message": False})
                    found = claim._read_filed(client)
            if found:
                claim._take(found)
        except api_errors.AllegroError as error:
            text = claim.shop_id._allegro_error_text(error)
            if error.retryable:
                raise RetryableJobError(text, seconds=_retry_seconds(error)) from error
            claim.write({"state": "refused", "message": text})
            return text
        return claim.env._("Claim filed on Allegro: %(ref)s", ref=claim.claim_ref)

    def _read_filed(self, client):
        """The claim just filed, as Allegro shows it (its commission); the scheduled action reads it
        later when Allegro does not answer now."""
        try:
            return client.get_refund_claim(self.claim_ref)
        except api_errors.AllegroError as error:
            _logger.info("Allegro claim %s filed, not read yet: %s", self.claim_ref, error)
            return None

    def _find_on_allegro(self, client):
        """The claim Allegro holds for this item (filed by an earlier attempt or by Allegro), or None."""
        order = self.order_id
        filters = {"offer_id": self.order_line_id.offer_ref}
        if order.buyer_ref:
            filters["buyer_id"] = order.buyer_ref
        for found in client.iter_refund_claims(**filters):
            if (found.get("lineItem") or {}).get("id") == self.line_item_ref:
                return found
        return None

    def _take(self, found):
        """What Allegro says of the claim: its id, status, who filed it and the commission."""
        status = found.get("status")
        values = {
            "claim_ref": found.get("id") or self.claim_ref,
            "allegro_status": status,
            "claim_type": found.get("type") or self.claim_type,
            "state": CLAIM_STATES_OF.get(status, "filed"),
            "filed_at": self.filed_at or fields.Datetime.now(),
            "message": False,
        }
        commission = found.get("commission") or {}
        try:
            values["commission"] = float(commission.get("amount"))
        except (TypeError, ValueError):
            pass
        if status not in CLAIM_STATES_OF:
            values["message"] = self.env._("Allegro gave a status Odoo does not know: %(status)s.", status=status)
        self.write(values)

    @api.model
    def _cron_follow(self):
        """File the claims still due whose job is gone, and read Allegro's decision on those filed.
        One claim Allegro cannot tell about is noted on it; the others go on."""
        due = self.sudo().search([("state", "=", "due")])
        due.filtered(lambda c: not c.job_id or c.job_id.state in ("done", "failed", "cancelled"))._enqueue()
        filed = self.sudo().search([("state", "=", "filed"), ("claim_ref", "!=", False)], limit=FOLLOW_BATCH,
                                   order="write_date, id")
        for shop, claims in filed.grouped("shop_id").items():
            shop = shop._in_allegro_lang()
            client = shop._allegro_client()
            for claim in claims.with_env(shop.env):
                try:
                    claim._take(client.get_refund_claim(claim.claim_ref))
                except api_errors.AllegroError as error:
                    claim.write({"message": shop._allegro_error_text(error)})
                    if error.retryable:
                        break  # Allegro busy or away: the next run goes on

    def _on_job_failed(self, exc_message=None, exc_name=None, **_fail_values):
        for claim in self.sudo().filtered(lambda c: c.state == "due"):
            claim.message = exc_message or exc_name

