"""The buyers' returns: read from Allegro, received in the warehouse, refunded.

A return is read incrementally (``return_cursor`` on the shop, one page per
commit); the returns not yet settled are read again by id, since the cursor
brings only new ones. Each return prepares Odoo's own return receipt of the
order's delivery; when the warehouse validates it, the received quantities
go to the refund side (``allegro.refund``).
"""

import json
import logging
import math
import time
import zlib
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import split_every

from ..allegro_api import errors as api_errors
from ..allegro_api.params import parse_timestamp
from ..const import REJECTION_CODES, RETURN_REASONS, RETURN_STATUSES, SETTLED_RETURN_STATUSES
from .allegro_rights import ALLEGRO_MANAGER, ALLEGRO_USER, BILLING, check_any_group, check_group

_logger = logging.getLogger(__name__)

# Returns read per request, and committed together with the cursor.
PAGE_SIZE = 50
# A run stops at the first commit after this many seconds (as the order import).
SLICE_SECONDS = 60
# Returns not settled yet are read again while younger than this.
REREAD_DAYS = 60
# The reason code of a payment refund after a return (REFUND_REASONS).
REFUND_REASON_RETURN = "REFUND"
# The key of the advisory lock that keeps two runs from reading one shop's returns.
LOCK_KEY = zlib.crc32(b"allegro.customer.return") % 2**31


class ReturnsSliceEnded(Exception):
    """The run's time is up; what it did is committed, a job goes on."""


class ReturnsTakenOver(Exception):
    """Another worker reads this shop's returns."""


def _label(record, selection_field, code):
    """The label of an Allegro code in the reader's language (from the
    selection field listing the known codes); an unknown code as it is."""
    if not code:
        return False
    labels = dict(record._fields[selection_field]._description_selection(record.env))
    if code in labels:
        return labels[code]
    return record.env._("%(code)s (unknown to the connector)", code=code)


class AllegroCustomerReturn(models.Model):
    """A buyer's return of (part of) an Allegro order, as Allegro tells it."""

    _name = "allegro.customer.return"
    _description = "Allegro Customer Return"
    _inherit = ["mail.thread"]
    _order = "returned_at desc, id desc"
    _rec_name = "name"

    name = fields.Char(compute="_compute_name", store=True)
    shop_id = fields.Many2one("allegro.shop", required=True, readonly=True, index=True, ondelete="restrict")
    company_id = fields.Many2one(related="shop_id.company_id", store=True, index=True)
    allegro_ref = fields.Char("Allegro return ID", required=True, readonly=True, index=True, copy=False)
    reference_number = fields.Char("Return number", readonly=True)
    order_ref = fields.Char("Allegro order ID", readonly=True, index=True)
    order_id = fields.Many2one("allegro.order", "Allegro order", readonly=True, index="btree_not_null",
                               ondelete="set null")
    sale_order_id = fields.Many2one(related="order_id.sale_order_id")
    currency_id = fields.Many2one(related="order_id.currency_id")
    status = fields.Char("Allegro status", readonly=True, tracking=True,
                         help="Allegro's code of the return's status, kept also when the connector does not know it.")
    status_label = fields.Char("Status", compute="_compute_labels")
    # The statuses the connector knows, for their names in the user's language and for filters.
    known_status = fields.Selection(RETURN_STATUSES, "Known status", compute="_compute_known_status", store=True)
    settled = fields.Boolean(compute="_compute_settled", store=True,
                             help="Allegro no longer changes this return: refunded, rejected or its commission back.")
    returned_at = fields.Datetime("Declared on", readonly=True)
    buyer_login = fields.Char(readonly=True)
    buyer_email = fields.Char(readonly=True)
    marketplace = fields.Char(readonly=True)
    waybill = fields.Char("Return waybill", readonly=True)
    carrier_code = fields.Char("Return carrier", readonly=True)
    parcel_sent_at = fields.Datetime("Parcel sent on", readonly=True)
    shipped_back = fields.Boolean(readonly=True, help="The buyer sends the items back in a parcel.")
    line_ids = fields.One2many("allegro.customer.return.line", "return_id", "Items", readonly=True)
    item_count = fields.Integer("Items returned", compute="_compute_item_count")
    picking_ids = fields.One2many("stock.picking", "allegro_customer_return_id", "Return receipts", readonly=True)
    picking_count = fields.Integer(compute="_compute_picking_count", compute_sudo=True)
    rejection_code = fields.Selection(REJECTION_CODES, readonly=True, tracking=True)
    rejection_reason = fields.Char(readonly=True)
    rejected_at = fields.Datetime(readonly=True)
    rejection_message = fields.Text("Allegro's answer to the rejection", readonly=True)
    refund_ids = fields.One2many("allegro.refund", "customer_return_id", "Refunds", readonly=True)
    refund_error = fields.Text("Refund problem", readonly=True,
                               help="Why the refund of the received items could not be prepared.")
    needs_attention = fields.Boolean(readonly=True, index=True, tracking=True)
    attention_reason = fields.Text(readonly=True)
    raw_payload = fields.Text("Allegro data", readonly=True, groups="allegro_connector.group_allegro_manager")
    read_at = fields.Datetime("Last read from Allegro", readonly=True)

    _shop_return_unique = models.Constraint(
        "UNIQUE(shop_id, allegro_ref)", "An Allegro return is recorded once per shop.")

    @api.depends("reference_number", "allegro_ref")
    def _compute_name(self):
        for customer_return in self:
            customer_return.name = customer_return.reference_number or customer_return.allegro_ref

    @api.depends("status")
    def _compute_known_status(self):
        for customer_return in self:
            status = customer_return.status
            customer_return.known_status = status if status in dict(RETURN_STATUSES) else False

    @api.depends("status")
    @api.depends_context("lang")
    def _compute_labels(self):
        for customer_return in self:
            customer_return.status_label = _label(customer_return, "known_status", customer_return.status)

    @api.depends("status")
    def _compute_settled(self):
        for customer_return in self:
            customer_return.settled = customer_return.status in SETTLED_RETURN_STATUSES

    @api.depends("line_ids.quantity")
    def _compute_item_count(self):
        for customer_return in self:
            customer_return.item_count = sum(customer_return.line_ids.mapped("quantity"))

    @api.depends("picking_ids")
    def _compute_picking_count(self):
        for customer_return in self:
            customer_return.picking_count = len(customer_return.picking_ids)

    # ------------------------------------------------------------------
    # Reading returns from Allegro
    # ------------------------------------------------------------------

    @api.model
    def _run_fetch(self, shop, slice_seconds=None):
        """One run on a cursor of its own, committing page by page; a run
        that reached its time limit goes on in a job."""
        shop.ensure_one()
        shop.env.flush_all()  # under tests the run's cursor shares this transaction
        with shop.env.registry.cursor() as cr:
            shop_on_cr = shop.with_env(shop.env(cr=cr))
            summary = shop_on_cr.env["allegro.customer.return"]._fetch(shop_on_cr, slice_seconds=slice_seconds)
        shop.invalidate_recordset()
        if summary["state"] == "continues":
            shop._enqueue_return_fetch()
        return summary

    @api.model
    def _fetch(self, shop, slice_seconds=None):
        stats = {"new": 0, "updated": 0, "failed": 0, "messages": [], "started": time.monotonic(), "seen": set(),
                 "slice": SLICE_SECONDS if slice_seconds is None else slice_seconds}
        state = "done"
        try:
            self._lock(shop)
            client = shop._allegro_client()
            self._fetch_new(shop, client, stats)
            self._fetch_open(shop, client, stats)
            self._link_orders(shop)
            self._commit(shop)
            self._prepare_pending(shop)
            self._commit(shop)
        except ReturnsTakenOver:
            shop.env.cr.rollback()
            state = "skipped"
            stats["messages"].append(shop.env._("Another run is reading this shop's returns."))
        except ReturnsSliceEnded:
            state = "continues"
            stats["messages"].append(shop.env._(
                "Stopped after %(seconds)s s with all it did saved; the reading goes on in the background.",
                seconds=stats["slice"]))
        except (api_errors.AllegroError, UserError) as error:
            # What the committed pages hold is kept; the cursor stays at the last of them.
            shop.env.cr.rollback()
            state = "failed"
            stats["messages"].append(shop._allegro_error_text(error))
        message = "\n".join([shop.env._(
            "Returns: %(new)s new, %(updated)s updated, %(failed)s not readable.",
            new=stats["new"], updated=stats["updated"], failed=stats["failed"])] + stats["messages"])
        _logger.info("Allegro shop %s: returns %s: %s", shop.id, state, message)
        shop.env.cr.commit()
        return {"state": state, "message": message, "new": stats["new"], "updated": stats["updated"],
                "failed": stats["failed"]}

    @api.model
    def _lock(self, shop):
        """Hold the shop's returns until the next commit; a lock of their own,
        so that reading returns never waits for the order import or the seller
        editing the shop."""
        if not shop._hold_work_lock(LOCK_KEY):
            raise ReturnsTakenOver()
        shop.invalidate_recordset(["return_cursor"])

    @api.model
    def _commit(self, shop, stats=None):
        shop.env.cr.commit()
        if stats and stats["slice"] and time.monotonic() - stats["started"] > stats["slice"]:
            raise ReturnsSliceEnded()
        self._lock(shop)

    @api.model
    def _fetch_new(self, shop, client, stats):
        """The returns created since the cursor, a page per commit, the cursor
        moving with the page it covers: nothing skipped after a failure, and
        a return read again is updated, not doubled."""
        while True:
            page = client.list_customer_returns(from_id=shop.sudo().return_cursor or None,
                                                limit=PAGE_SIZE).get("customerReturns") or []
            ids = [item["id"] for item in page if isinstance(item, dict) and item.get("id")]
            self._store_all(shop, page, stats)
            if ids:
                shop.sudo().return_cursor = ids[-1]
            self._commit(shop, stats)
            if len(page) < PAGE_SIZE or not ids:
                return

    @api.model
    def _fetch_open(self, shop, client, stats):
        """Read again the returns not settled yet: the cursor does not bring back their changes."""
        since = fields.Datetime.now() - timedelta(days=REREAD_DAYS)
        open_returns = self.search([("shop_id", "=", shop.id), ("settled", "=", False), ("returned_at", ">=", since),
                                    ("allegro_ref", "not in", list(stats["seen"]))])
        for chunk in split_every(PAGE_SIZE, open_returns.mapped("allegro_ref")):
            page = client.list_customer_returns(customer_return_id=list(chunk), limit=PAGE_SIZE)
            self._store_all(shop, page.get("customerReturns") or [], stats)
            self._commit(shop)

    @api.model
    def _store_all(self, shop, items, stats):
        """Store each return in a savepoint: a malformed one is kept and flagged, the others go on."""
        known = {r.allegro_ref: r for r in self.search([
            ("shop_id", "=", shop.id),
            ("allegro_ref", "in", [i.get("id") for i in items if isinstance(i, dict) and i.get("id")])])}
        for item in items:
            if not isinstance(item, dict) or not item.get("id"):
                stats["failed"] += 1
                stats["messages"].append(shop.env._("A return without id was skipped."))
                continue
            existing = known.get(item["id"], self.browse())
            stats["seen"].add(item["id"])
            try:
                with shop.env.cr.savepoint():
                    known[item["id"]] = self._store(shop, item, existing)
                stats["updated" if existing else "new"] += 1
            except Exception as error:  # noqa: BLE001 - kept on the return, the run goes on
                _logger.info("Allegro shop %s: return %s not readable: %s", shop.id, item["id"], error)
                stats["failed"] += 1
                known[item["id"]] = self._record_failed(shop, item, existing, error)

    @api.model
    def _store(self, shop, item, customer_return):
        """One return as Allegro gives it now; a new one gets its lines and its receipt."""
        parcels = [p for p in item.get("parcels") or [] if isinstance(p, dict)]
        parcel = parcels[0] if parcels else {}
        rejection = item.get("rejection") or {}
        values = {
            "reference_number": item.get("referenceNumber"),
            "order_ref": item.get("orderId"),
            "status": item.get("status"),
            "returned_at": _datetime(item.get("createdAt")),
            "buyer_login": (item.get("buyer") or {}).get("login"),
            "buyer_email": (item.get("buyer") or {}).get("email"),
            "marketplace": item.get("marketplaceId"),
            "waybill": ", ".join(p["waybill"] for p in parcels if p.get("waybill")) or False,
            "carrier_code": parcel.get("transportingCarrierId") or parcel.get("carrierId"),
            "parcel_sent_at": _datetime(parcel.get("createdAt")),
            "shipped_back": bool(parcels),
            "raw_payload": json.dumps(item, ensure_ascii=False, indent=1),
            "read_at": fields.Datetime.now(),
        }
        if rejection.get("code"):
            values.update(rejection_code=rejection["code"] if rejection["code"] in dict(REJECTION_CODES) else False,
                          rejection_reason=rejection.get("reason") or rejection["code"],
                          rejected_at=_datetime(rejection.get("createdAt")))
        # The connector's own bookkeeping: the run may be started by an Allegro user who cannot write returns.
        Return = self.sudo()
        if customer_return:
            customer_return = customer_return.sudo()
            customer_return.write(values)
        else:
            items = item.get("items")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise ValueError("the return has no list of items")
            customer_return = Return.create(dict(values, shop_id=shop.id, allegro_ref=item["id"], line_ids=[
                fields.Command.create(_line_values(i)) for i in items]))
            customer_return._link_order()
        customer_return._flag_unknown_codes()
        return customer_return

    @api.model
    def _record_failed(self, shop, item, customer_return, error):
        message = self.env._("Could not read this return: %(error)s", error=shop._allegro_error_text(error))
        values = {"raw_payload": json.dumps(item, ensure_ascii=False, indent=1), "order_ref": item.get("orderId"),
                  "status": item.get("status") if isinstance(item.get("status"), str) else False}
        customer_return = customer_return.sudo() or self.sudo().create(dict(
            values, shop_id=shop.id, allegro_ref=item["id"], read_at=fields.Datetime.now()))
        customer_return.write(values)
        customer_return._flag(message)
        return customer_return

    def _flag(self, reason):
        """Ask a person to look at the return, and say why (once)."""
        for customer_return in self:
            if customer_return.attention_reason and reason in customer_return.attention_reason:
                continue
            customer_return.write({
                "needs_attention": True,
                "attention_reason": "\n".join(filter(None, [customer_return.attention_reason, reason])),
            })

    def _flag_unknown_codes(self):
        for customer_return in self:
            unknown = [code for code in [customer_return.status] if code and code not in dict(RETURN_STATUSES)]
            unknown += [code for code in customer_return.line_ids.mapped("reason")
                        if code and code not in dict(RETURN_REASONS)]
            if unknown:
                customer_return._flag(self.env._(
                    "Allegro uses codes this version of the connector does not know: %(codes)s. They are kept "
                    "as they are; check the return on Allegro.", codes=", ".join(unknown)))

    def _link_order(self):
        """Link the return to its order, and its lines to the order's items (by offer)."""
        for customer_return in self.filtered(lambda r: not r.order_id and r.order_ref):
            order = self.env["allegro.order"].sudo().search(
                [("shop_id", "=", customer_return.shop_id.id), ("allegro_ref", "=", customer_return.order_ref)],
                limit=1)
            if not order:
                customer_return._flag(self._no_order_text())
                continue
            customer_return.order_id = order
            for line in customer_return.line_ids:
                line.order_line_id = order.line_ids.filtered(lambda ol, line=line: ol.offer_ref == line.offer_ref)[:1]
            missing = customer_return.line_ids.filtered(lambda line: not line.order_line_id)
            if missing:
                customer_return._flag(self.env._(
                    "Items of this return are not in its order: %(items)s.",
                    items=", ".join(missing.mapped("name"))))

    @api.model
    def _link_orders(self, shop):
        """Returns that came before their order: link those whose order has arrived since."""
        waiting = self.sudo().search([("shop_id", "=", shop.id), ("order_id", "=", False), ("order_ref", "!=", False)])
        waiting._link_order()
        waiting.filtered("order_id")._clear_flag(self._no_order_text())

    def _no_order_text(self):
        return self.env._("The order of this return is not in Odoo (yet): it is linked when the order arrives.")

    def _clear_flag(self, reason):
        for customer_return in self:
            rest = "\n".join(line for line in (customer_return.attention_reason or "").split("\n") if line != reason)
            customer_return.write({"attention_reason": rest or False, "needs_attention": bool(rest)})

    # ------------------------------------------------------------------
    # The warehouse receives the items
    # ------------------------------------------------------------------

    @api.model
    def _prepare_pending(self, shop):
        """Receipts (or refunds at once) for the returns that have none yet: new
        ones, and those whose order or delivery was missing before."""
        todo = self.sudo().search([("shop_id", "=", shop.id), ("order_id", "!=", False), ("picking_ids", "=", False),
                                   ("status", "!=", "REJECTED"), ("settled", "=", False)])
        for customer_return in todo:
            if customer_return.line_ids.filtered("refunded_qty"):
                continue  # refunded at once, no receipt expected
            try:
                with self.env.cr.savepoint():
                    customer_return._prepare_receipt_or_refund()
            except UserError as error:
                customer_return._flag(str(error))

    def _prepare_receipt_or_refund(self):
        self.ensure_one()
        if not self.shipped_back and self.shop_id.return_unshipped_policy == "refund":
            self._refund({line: line.quantity - line.refunded_qty for line in self.line_ids})
            return
        self._prepare_receipt()

    def _prepare_receipt(self):
        """Odoo's own return of the order's deliveries, for the returned items
        and quantities, with the return's waybill: one receipt per delivery."""
        self.ensure_one()
        sale = self.order_id.sale_order_id
        deliveries = sale.picking_ids.filtered(lambda p: p.picking_type_code == "outgoing" and p.state == "done")
        if not deliveries:
            raise UserError(self._no_delivery_text())
        wanted = {}  # (sale line, product) -> quantity still to put on a receipt
        for line in self.line_ids.filtered("order_line_id.sale_line_id"):
            sale_line = line.order_line_id.sale_line_id
            moves = deliveries.move_ids.filtered(lambda m, sl=sale_line: m.sale_line_id == sl and m.state == "done")
            for product in moves.product_id:
                shipped = sum(moves.filtered(lambda m, p=product: m.product_id == p).mapped("quantity"))
                # A kit's components in proportion to the items returned.
                per_item = shipped / (sale_line.product_uom_qty or 1)
                wanted[sale_line, product] = wanted.get((sale_line, product), 0) + per_item * line.quantity
        receipts = self.env["stock.picking"]
        for delivery in deliveries:
            wizard = self.env["stock.return.picking"].with_company(delivery.company_id).with_context(
                active_id=delivery.id, active_ids=delivery.ids, active_model="stock.picking").create({})
            any_line = False
            for wizard_line in wizard.product_return_moves:
                move = wizard_line.move_id
                key = (move.sale_line_id, move.product_id)
                if not wanted.get(key):
                    continue
                returned = sum(move.returned_move_ids.filtered(lambda m: m.state != "cancel").mapped("product_uom_qty"))
                quantity = min(wanted[key], move.quantity - returned)
                if quantity > 0:
                    wizard_line.quantity = quantity
                    wanted[key] -= quantity
                    any_line = True
            if any_line:
                receipt = wizard._create_return()
                receipt.write({"allegro_customer_return_id": self.id, "carrier_tracking_ref": self.waybill})
                receipts |= receipt
        if not receipts:
            raise UserError(self.env._("Nothing of this return is left to receive: the items were returned before."))
        self._clear_flag(self._no_delivery_text())
        self.message_post(body=self.env._("Return receipt prepared: %(receipts)s",
                                          receipts=", ".join(receipts.mapped("name"))))
        return receipts

    def _no_delivery_text(self):
        return self.env._("The order has no validated delivery to return yet: the receipt is prepared once it has one.")

    def _received_quantities(self):
        """Items received so far, per return line: for each line, the share of
        its receipt moves done (backorders and cancelled rests counted as planned)."""
        self.ensure_one()
        received = {}
        for line in self.line_ids:
            moves = self.picking_ids.move_ids.filtered(
                lambda m, sl=line.order_line_id.sale_line_id: sl and m.sale_line_id == sl)
            shares = []
            for product in moves.product_id:
                product_moves = moves.filtered(lambda m, p=product: m.product_id == p)
                planned = sum(product_moves.mapped("product_uom_qty")) + sum(
                    product_moves.filtered(lambda m: m.state == "done").mapped(
                        lambda m: max(m.quantity - m.product_uom_qty, 0)))
                done = sum(product_moves.filtered(lambda m: m.state == "done").mapped("quantity"))
                shares.append(done / planned if planned else 0)
            received[line] = math.floor(line.quantity * min(shares) + 1e-6) if shares else 0
        return received

    def _on_receipt_done(self):
        """A receipt of these returns was validated: refund what came back and was not refunded yet."""
        for customer_return in self.sudo():
            if customer_return.status == "REJECTED":
                customer_return.message_post(body=self.env._(
                    "Items received for a rejected return: no refund is prepared."))
                continue
            received = customer_return._received_quantities()
            customer_return._refund({line: received[line] - line.refunded_qty for line in customer_return.line_ids})

    # ------------------------------------------------------------------
    # The refund
    # ------------------------------------------------------------------

    def _refund(self, quantities):
        """Hand ``quantities`` (return line -> items) to the refund side, once.

        The lines' ``refunded_qty`` record what was handed over in the same
        transaction as the refund: a receipt validated in two steps refunds
        what each step received, and a second call for the same items finds
        nothing left. Writing the return first serialises two validations of
        its receipts at the same moment (the later one is retried by Odoo and
        sees the first's refund)."""
        self.ensure_one()
        self.write({"refund_error": False})
        self.env.flush_all()
        wanted = {line: quantity for line, quantity in quantities.items() if quantity > 0 and line.order_line_id}
        if not wanted:
            return self.env["allegro.refund"]
        order = self.order_id
        try:
            with self.env.cr.savepoint():
                for line, quantity in wanted.items():
                    line.refunded_qty += quantity
                refund = self.env["allegro.refund"].sudo()._prepare(
                    order, {line.order_line_id.id: quantity for line, quantity in wanted.items()},
                    reason=REFUND_REASON_RETURN, delivery=self._everything_returned(),
                    customer_return_ref=self.allegro_ref)
                refund.customer_return_id = self
        except (UserError, api_errors.AllegroError) as error:
            text = self.shop_id._allegro_error_text(error)
            self.write({"refund_error": text})
            self._flag(self.env._("The refund could not be prepared: %(error)s", error=text))
            return self.env["allegro.refund"]
        self.message_post(body=self.env._("Refund prepared for %(items)s item(s) received.",
                                          items=sum(wanted.values())))
        return refund

    def _everything_returned(self):
        """Whether, with this refund, every item of the order came back: the
        buyer then gets the delivery cost back as well (the law on returns),
        unless it was free or is refunded already."""
        order = self.order_id
        if order.currency_id.compare_amounts(order.delivery_cost, order._refunded()[1]) <= 0:
            return False
        returns = self.search([("order_id", "=", order.id), ("status", "!=", "REJECTED")])
        for order_line in order.line_ids:
            refunded = sum(returns.line_ids.filtered(lambda rl, ol=order_line: rl.order_line_id == ol)
                           .mapped("refunded_qty"))
            if refunded < order_line.quantity:
                return False
        return True

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def action_retry_refund(self):
        """Prepare the refund again once the problem it met is fixed."""
        # Sending money back is for the billing clerks and the Allegro managers.
        check_any_group(self, (BILLING, ALLEGRO_MANAGER), "read")
        for customer_return in self.sudo():
            if customer_return.shipped_back or customer_return.shop_id.return_unshipped_policy != "refund":
                customer_return._on_receipt_done()
            else:
                customer_return._prepare_receipt_or_refund()
        return True

    def action_prepare_receipt(self):
        """Prepare the receipt again (e.g. once the order's delivery is validated)."""
        self.ensure_one()
        check_group(self, ALLEGRO_USER, "read")
        if self.sudo().picking_ids.filtered(lambda p: p.state != "cancel"):
            raise UserError(self.env._("This return has a receipt already."))
        self.sudo()._prepare_receipt_or_refund()
        return True

    def action_open_receipts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("stock.action_picking_tree_all")
        action["domain"] = [("allegro_customer_return_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    def action_reject(self):
        self.ensure_one()
        check_group(self, ALLEGRO_MANAGER, "read")
        return {
            "type": "ir.actions.act_window",
            "res_model": "allegro.return.reject.wizard",
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Reject the return"),
            "context": {"default_return_id": self.id},
        }

    def _reject(self, code, reason):
        """Refuse the refund of this return on Allegro; its answer or refusal is kept on the return."""
        self.ensure_one()
        check_group(self, ALLEGRO_MANAGER, "read")
        customer_return = self.sudo()
        try:
            answer = customer_return.shop_id._allegro_client().reject_customer_return(
                customer_return.allegro_ref, code, reason or None)
        except api_errors.AllegroError as error:
            text = customer_return.shop_id._allegro_error_text(error)
            customer_return.write({"rejection_message": self.env._("Allegro refused the rejection: %(error)s",
                                                                   error=text)})
            customer_return.message_post(body=customer_return.rejection_message)
            return False
        except ValueError as error:
            raise UserError(str(error)) from error
        with self.env.cr.savepoint():
            customer_return._store(customer_return.shop_id, answer, customer_return)
        customer_return.write({"rejection_message": self.env._(
            "Rejected on Allegro (%(code)s); status now %(status)s.", code=code, status=customer_return.status)})
        customer_return.message_post(body=customer_return.rejection_message)
        return True


def _datetime(value):
    return parse_timestamp(value) if isinstance(value, str) else None


def _line_values(item):
    reason = item.get("reason") or {}
    price = item.get("price") or {}
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or quantity < 1:
        raise ValueError("an item of the return has no quantity")
    return {
        "offer_ref": str(item.get("offerId") or ""),
        "name": item.get("name") or str(item.get("offerId") or ""),
        "quantity": quantity,
        "unit_price": float(price.get("amount") or 0),
        "reason": reason.get("type"),
        "comment": reason.get("userComment"),
    }


class AllegroCustomerReturnLine(models.Model):
    _name = "allegro.customer.return.line"
    _description = "Allegro Customer Return Item"

    return_id = fields.Many2one("allegro.customer.return", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="return_id.company_id", store=True)
    currency_id = fields.Many2one(related="return_id.currency_id")
    order_line_id = fields.Many2one("allegro.order.line", "Order item", readonly=True, ondelete="set null")
    product_id = fields.Many2one(related="order_line_id.product_id")
    offer_ref = fields.Char("Offer ID", readonly=True)
    name = fields.Char(readonly=True)
    quantity = fields.Integer(readonly=True)
    unit_price = fields.Monetary("Unit price", readonly=True)
    reason = fields.Char("Reason code", readonly=True)
    reason_label = fields.Char("Reason", compute="_compute_reason_label")
    known_reason = fields.Selection(RETURN_REASONS, "Known reason", compute="_compute_known_reason", store=True)
    comment = fields.Text("Buyer's comment", readonly=True)
    received_qty = fields.Integer("Received", compute="_compute_received_qty", compute_sudo=True)
    refunded_qty = fields.Integer("Refunded", readonly=True, copy=False,
                                  help="Items handed over to a refund; never refunded twice.")

    @api.depends("reason")
    def _compute_known_reason(self):
        for line in self:
            line.known_reason = line.reason if line.reason in dict(RETURN_REASONS) else False

    @api.depends("reason")
    @api.depends_context("lang")
    def _compute_reason_label(self):
        for line in self:
            line.reason_label = _label(line, "known_reason", line.reason)

    def _compute_received_qty(self):
        for customer_return in self.return_id:
            received = customer_return._received_quantities()
            for line in customer_return.line_ids & self:
                line.received_qty = received.get(line, 0)
