import json
from decimal import Decimal, InvalidOperation

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..allegro_api.params import parse_timestamp
from ..const import ORDER_STATUSES, PAYMENT_STATUSES, SELLER_STATUS_OF, SELLER_STATUSES
from .allegro_rights import ALLEGRO_USER, BILLING, check_any_group, check_group
from .allegro_thread import _buyer_wrote_last

# The units allegro.order is composed of: Odoo needs each defined before the
# model that inherits it, whichever file is imported first (the importer imports this one).
from . import (  # noqa: F401
    allegro_order_buyer,
    allegro_order_fulfillment,
    allegro_order_invoicing,
    allegro_order_revision,
    allegro_sale_builder,
)

SYNC_STATES = [
    ("done", "Synchronized"),
    ("held", "Waiting for product mapping"),
    ("error", "Error"),
    ("gone", "Gone from Allegro"),
]
# Orders recorded without a sale order, unless the seller asks for one.
NO_SALE_REASONS = [
    ("before_start", "Bought before the import start date"),
    ("allegro_fulfillment", "Fulfilled by Allegro"),
]
# What decides whether an order's items hold stock Odoo has not reserved.
STOCK_HOLDING_FIELDS = {"status", "sync_state", "sale_order_id", "no_sale_reason", "sale_requested", "line_ids",
                        "fulfillment_provider"}
CHARGE_KINDS = [
    ("service", "Additional service"),
    ("deposit", "Deposit"),
    ("surcharge", "Surcharge"),
]


class MalformedCheckoutForm(ValueError):
    """The payload misses what an order cannot do without."""


def _amount(price, field):
    """Allegro amounts are strings ({"amount": "12.30", "currency": "PLN"})."""
    try:
        return Decimal(str(price["amount"]))
    except (KeyError, TypeError, InvalidOperation) as error:
        raise MalformedCheckoutForm(f"{field}: no valid amount") from error


def _datetime(value):
    """An Allegro timestamp as Odoo stores it (naive UTC), False when absent."""
    if not value:
        return False
    moment = parse_timestamp(value)
    if moment is None:
        raise MalformedCheckoutForm(f"unreadable date {value!r}")
    return moment.replace(microsecond=0)


class AllegroOrder(models.Model):
    """One Allegro checkout form, as last read from Allegro."""

    _name = "allegro.order"
    _description = "Allegro Order"
    # Each job of an order is a unit of its own, holding only methods: the sale
    # order, the buyer's contacts, the revision history, updates to Allegro, invoices.
    _inherit = [
        "mail.thread",
        "mail.activity.mixin",
        "allegro.sale.builder",
        "allegro.order.buyer",
        "allegro.order.revision.ledger",
        "allegro.order.fulfillment",
        "allegro.order.invoicing",
    ]
    _order = "bought_at desc, id desc"
    _rec_name = "name"

    name = fields.Char(compute="_compute_name", store=True)
    shop_id = fields.Many2one("allegro.shop", required=True, ondelete="restrict", index=True, readonly=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True, index=True)
    allegro_ref = fields.Char("Allegro order ID", required=True, readonly=True, index=True)
    revision = fields.Char(readonly=True)
    status = fields.Selection(ORDER_STATUSES, "Status", readonly=True, tracking=True)
    # Marketplace, payment type and fulfillment status are kept as Allegro
    # gives them: values Allegro adds to these lists must not block an order.
    fulfillment_status = fields.Char("Fulfillment status", readonly=True, tracking=True)
    fulfillment_provider = fields.Char(
        readonly=True, help="Who ships the order: SELLER, or ALLEGRO for orders Allegro fulfils itself.")
    payment_status = fields.Selection(PAYMENT_STATUSES, "Payment status", readonly=True, tracking=True)
    seller_status = fields.Selection(
        SELLER_STATUSES, compute="_compute_seller_status", store=True, index=True, string="Order status",
        help="New, in progress, to be shipped, shipped or cancelled, from Allegro's statuses.",
    )
    closed = fields.Boolean(readonly=True, copy=False, tracking=True,
                            help="Closed once its invoice was posted, when the shop says so.")
    payment_type = fields.Char(readonly=True)
    payment_provider = fields.Char(readonly=True)
    payment_ref = fields.Char("Payment ID", readonly=True)
    paid_amount = fields.Monetary(readonly=True)
    paid_at = fields.Datetime(readonly=True)
    marketplace = fields.Char(readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    total_to_pay = fields.Monetary("Total to pay", readonly=True)
    items_total = fields.Monetary("Items total", readonly=True)
    delivery_cost = fields.Monetary("Delivery cost", readonly=True)
    surcharge_total = fields.Monetary(
        "Surcharges paid", readonly=True, help="Surcharges the buyer paid on top of the total to pay.")
    amount_difference = fields.Monetary(
        readonly=True, copy=False,
        help="What the buyer pays on Allegro minus the sale order total, when they differ.")
    amount_mismatch = fields.Boolean(
        "Amounts differ", readonly=True, copy=False, index=True,
        help="The sale order does not total what the buyer pays: it is neither confirmed nor "
        "invoiced automatically.")
    bought_at = fields.Datetime(readonly=True, index=True)
    updated_at = fields.Datetime("Updated on Allegro", readonly=True)

    buyer_ref = fields.Char("Buyer ID", readonly=True, index=True)
    buyer_login = fields.Char(readonly=True)
    buyer_email = fields.Char(readonly=True)
    buyer_name = fields.Char(readonly=True)
    buyer_company = fields.Char(readonly=True)
    buyer_phone = fields.Char(readonly=True)
    buyer_guest = fields.Boolean(readonly=True)
    buyer_street = fields.Char(readonly=True)
    buyer_zip = fields.Char(readonly=True)
    buyer_city = fields.Char(readonly=True)
    buyer_country_code = fields.Char(readonly=True)
    buyer_message = fields.Text(readonly=True)

    delivery_method_ref = fields.Char("Delivery method ID", readonly=True)
    delivery_method_name = fields.Char("Delivery method", readonly=True)
    delivery_name = fields.Char("Recipient", readonly=True)
    delivery_company = fields.Char("Delivery company", readonly=True)
    delivery_street = fields.Char("Delivery street", readonly=True)
    delivery_zip = fields.Char("Delivery ZIP", readonly=True)
    delivery_city = fields.Char("Delivery city", readonly=True)
    delivery_country_code = fields.Char("Delivery country", readonly=True)
    delivery_phone = fields.Char("Delivery phone", readonly=True)
    pickup_point_ref = fields.Char("Pickup point", readonly=True)
    pickup_point_name = fields.Char("Pickup point name", readonly=True)
    pickup_point_address = fields.Char("Pickup point address", readonly=True)

    invoice_required = fields.Boolean("Invoice requested", readonly=True)
    invoice_company_name = fields.Char("Invoice company", readonly=True)
    invoice_vat = fields.Char("Tax ID", readonly=True)
    invoice_vat_unchecked = fields.Boolean(
        "Tax ID to check", readonly=True, help="Odoo's check refused the buyer's tax id; it is kept as Allegro gave it.")
    invoice_name = fields.Char("Invoice name", readonly=True)
    invoice_street = fields.Char("Invoice street", readonly=True)
    invoice_zip = fields.Char("Invoice ZIP", readonly=True)
    invoice_city = fields.Char("Invoice city", readonly=True)
    invoice_country_code = fields.Char("Invoice country", readonly=True)

    line_ids = fields.One2many("allegro.order.line", "order_id", readonly=True)
    charge_ids = fields.One2many("allegro.order.charge", "order_id", "Extra charges", readonly=True)
    no_sale_reason = fields.Selection(
        NO_SALE_REASONS, "Recorded only", readonly=True, copy=False, index=True,
        help="Why no sale order was made: use Create sale order to make one anyway.")
    sale_requested = fields.Boolean("Sale order requested", readonly=True, copy=False,
                                    help="The seller asked for a sale order of an order recorded only.")
    # The buyer's personal data in full (addresses, phone, PESEL on some invoices).
    raw_payload = fields.Text("Allegro data", readonly=True, groups="allegro_connector.group_allegro_manager",
                              help="The checkout form as Allegro sent it last.")
    sale_order_id = fields.Many2one("sale.order", readonly=True, copy=False, index="btree_not_null")
    partner_id = fields.Many2one(related="sale_order_id.partner_id")
    sync_state = fields.Selection(SYNC_STATES, default="done", readonly=True, tracking=True)
    sync_error = fields.Text(readonly=True)
    needs_attention = fields.Boolean(readonly=True, index=True, tracking=True)
    attention_reason = fields.Text(readonly=True)
    revision_ids = fields.One2many("allegro.order.revision", "order_id", "Revision history", readonly=True)
    update_ids = fields.One2many("allegro.update", "order_id", string="Updates to Allegro")
    # A count anyone who reads the order may see (an accountant has no right on updates).
    update_error_count = fields.Integer(compute="_compute_update_error_count", compute_sudo=True)
    invoice_ids = fields.One2many("account.move", "allegro_order_id", string="Invoices")
    customer_return_ids = fields.One2many("allegro.customer.return", "order_id", "Returns", readonly=True)
    customer_return_count = fields.Integer(compute="_compute_customer_return_count")
    # Counts shown to whoever reads the order, whatever their rights on the documents.
    picking_count = fields.Integer(compute="_compute_document_counts", compute_sudo=True)
    invoice_count = fields.Integer(compute="_compute_document_counts", compute_sudo=True)
    # Refunds of the buyer's payment, and what they gave back so far.
    refund_ids = fields.One2many("allegro.refund", "order_id", string="Refunds", readonly=True)
    refund_count = fields.Integer("Number of refunds", compute="_compute_refunded", compute_sudo=True)
    refunded_amount = fields.Monetary("Refunded", compute="_compute_refunded", compute_sudo=True,
                                      help="Refunded to the buyer on Allegro.")

    _shop_external_unique = models.Constraint(
        "UNIQUE(shop_id, allegro_ref)", "An Allegro order is imported once per shop."
    )

    @api.depends("status", "fulfillment_status", "closed")
    def _compute_seller_status(self):
        for order in self:
            if order.closed:
                order.seller_status = "closed"
            elif order.status == "CANCELLED":
                order.seller_status = "cancelled"
            else:
                order.seller_status = SELLER_STATUS_OF.get(order.fulfillment_status or "NEW", "new")

    @api.depends("update_ids.state")
    def _compute_update_error_count(self):
        for order in self:
            order.update_error_count = len(order.update_ids.filtered(lambda p: p.state == "failed"))

    @api.depends("sale_order_id.picking_ids", "sale_order_id.invoice_ids", "invoice_ids")
    def _compute_document_counts(self):
        for order in self:
            order.picking_count = len(order.sale_order_id.picking_ids)
            order.invoice_count = len(order._invoices())

    @api.depends("customer_return_ids")
    def _compute_customer_return_count(self):
        for order in self:
            order.customer_return_count = len(order.customer_return_ids)

    def action_open_customer_returns(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_customer_return")
        action["domain"] = [("order_id", "=", self.id)]
        action["context"] = {}
        return action

    @api.model_create_multi
    def create(self, vals_list):
        orders = super().create(vals_list)
        orders._stock_held_changed()
        return orders

    def write(self, vals):
        watched = STOCK_HOLDING_FIELDS & set(vals)
        changed = self.filtered(lambda o: "line_ids" in watched or any(
            o._fields[name].convert_to_write(o[name], o) != (vals[name] or False) for name in watched))
        result = super().write(vals)
        changed._stock_held_changed()
        return result

    def _stock_held_changed(self):
        """Items of open orders without a reservation count in the stock sent to Allegro: a new
        order, or one paid, cancelled, held or released, changes what the product's offers show."""
        lines = self.sudo().line_ids
        if not lines or not self.env["allegro.shop"].sudo().search_count(
                [("company_id", "in", self.company_id.ids), ("stock_sync", "=", True)], limit=1):
            return
        offers = self.env["allegro.offer"].sudo().search(
            [("company_id", "in", self.company_id.ids), ("allegro_ref", "in", list(set(lines.mapped("offer_ref"))))])
        Offer = self.env["allegro.offer"].sudo()
        Offer._offers_of_products(lines.product_id | offers.product_id)._mark_stock_dirty()

    @api.depends("allegro_ref", "buyer_login")
    def _compute_name(self):
        for order in self:
            order.name = "%s%s" % (
                (order.allegro_ref or "")[:8],
                f" ({order.buyer_login})" if order.buyer_login else "",
            )

    # ------------------------------------------------------------------
    # Reading a checkout form
    # ------------------------------------------------------------------

    @api.model
    def _values_from_checkout_form(self, form):
        """Field values of an order from Allegro's CheckoutForm payload.

        Raises MalformedCheckoutForm when a required part is missing.
        """
        for key in ("id", "status", "buyer", "lineItems", "summary"):
            if not form.get(key):
                raise MalformedCheckoutForm(f"'{key}' is missing")
        buyer = form["buyer"]
        if not buyer.get("id"):
            raise MalformedCheckoutForm("'buyer.id' is missing")
        summary_total = form["summary"].get("totalToPay") or {}
        currency_code = summary_total.get("currency")
        currency = self.env["res.currency"].with_context(active_test=False).search(
            [("name", "=", currency_code)], limit=1
        )
        if not currency:
            raise MalformedCheckoutForm(f"unknown currency {currency_code!r}")
        payment = form.get("payment") or {}
        delivery = form.get("delivery") or {}
        address = delivery.get("address") or {}
        pickup = delivery.get("pickupPoint") or {}
        pickup_address = pickup.get("address") or {}
        invoice = form.get("invoice") or {}
        invoice_address = invoice.get("address") or {}
        company = invoice_address.get("company") or {}
        person = invoice_address.get("naturalPerson") or {}
        lines = [self.env["allegro.order.line"]._values_from_line_item(item) for item in form["lineItems"]]
        charges = _charges(form)
        delivery_cost = _amount(delivery["cost"], "delivery.cost") if delivery.get("cost") else Decimal(0)
        total = _amount(summary_total, "summary.totalToPay")
        paid = _amount(payment["paidAmount"], "payment.paidAmount") if payment.get("paidAmount") else None
        fulfillment = form.get("fulfillment") or {}
        values = {
            "allegro_ref": form["id"],
            "revision": form.get("revision"),
            "status": form["status"],
            "fulfillment_status": fulfillment.get("status") or "NEW",
            "fulfillment_provider": (fulfillment.get("provider") or {}).get("id") or False,
            "payment_type": payment.get("type"),
            "payment_provider": payment.get("provider"),
            "payment_ref": payment.get("id"),
            "paid_amount": float(paid) if paid is not None else 0.0,
            "paid_at": _datetime(payment.get("finishedAt")),
            "payment_status": _payment_status(form["status"], payment, paid, total),
            "marketplace": (form.get("marketplace") or {}).get("id") or False,
            "currency_id": currency.id,
            "total_to_pay": float(total),
            "items_total": float(sum(Decimal(str(v["unit_price"])) * v["quantity"] for v in lines)),
            "delivery_cost": float(delivery_cost),
            "surcharge_total": float(sum(
                (Decimal(str(c["unit_price"])) * c["quantity"] for c in charges if c["kind"] == "surcharge"),
                Decimal(0))),
            "bought_at": _datetime(min((i.get("boughtAt") or "" for i in form["lineItems"]), default="")
                                   or form.get("updatedAt")),
            "updated_at": _datetime(form.get("updatedAt")),
            "buyer_ref": buyer["id"],
            "buyer_login": buyer.get("login"),
            "buyer_email": buyer.get("email"),
            "buyer_name": _join(buyer.get("firstName"), buyer.get("lastName")),
            "buyer_company": buyer.get("companyName"),
            "buyer_phone": buyer.get("phoneNumber"),
            "buyer_guest": bool(buyer.get("guest")),
            "buyer_street": (buyer.get("address") or {}).get("street"),
            "buyer_zip": (buyer.get("address") or {}).get("postCode"),
            "buyer_city": (buyer.get("address") or {}).get("city"),
            "buyer_country_code": (buyer.get("address") or {}).get("countryCode"),
            "buyer_message": form.get("messageToSeller"),
            "delivery_method_ref": (delivery.get("method") or {}).get("id"),
            "delivery_method_name": (delivery.get("method") or {}).get("name"),
            "delivery_name": _join(address.get("firstName"), address.get("lastName")),
            "delivery_company": address.get("companyName"),
            "delivery_street": address.get("street"),
            "delivery_zip": address.get("zipCode"),
            "delivery_city": address.get("city"),
            "delivery_country_code": address.get("countryCode"),
            "delivery_phone": address.get("phoneNumber"),
            "pickup_point_ref": pickup.get("id"),
            "pickup_point_name": pickup.get("name"),
            "pickup_point_address": ", ".join(
                filter(None, [pickup_address.get("street"), pickup_address.get("zipCode"), pickup_address.get("city")])
            ) or False,
            "invoice_required": bool(invoice.get("required")),
            "invoice_company_name": company.get("name"),
            "invoice_vat": _tax_id(company, invoice_address.get("countryCode")),
            "invoice_name": company.get("name") or _join(person.get("firstName"), person.get("lastName")),
            "invoice_street": invoice_address.get("street"),
            "invoice_zip": invoice_address.get("zipCode"),
            "invoice_city": invoice_address.get("city"),
            "invoice_country_code": invoice_address.get("countryCode"),
        }
        return values, lines, charges

    def _store_checkout_form(self, shop, form):
        """Update this order (or create one when empty) from ``form``; returns it."""
        if not self:
            return self._create_from_checkout_forms(shop, [form])[0]
        values, lines, charges = self._stored_values(form)
        # Keeping Allegro's copy is the connector's bookkeeping, whoever fetches:
        # elevated for that write only, the sale order is made with the user's rights.
        order = self.sudo()
        values["line_ids"] = order.line_ids._sync_commands(lines)
        values["charge_ids"] = ([(5, 0, 0)] if order.charge_ids else []) + [(0, 0, v) for v in charges]
        order.write(values)
        self._flag_unknown_status(form)
        return self

    @api.model
    def _create_from_checkout_forms(self, shop, forms):
        """New orders of ``forms``, created in one call; returned in the same order."""
        values_list = []
        for form in forms:
            values, lines, charges = self._stored_values(form)
            values.update(shop_id=shop.id, line_ids=[(0, 0, v) for v in lines],
                          charge_ids=[(0, 0, v) for v in charges])
            values_list.append(values)
        orders = self.sudo().with_context(mail_create_nolog=True, mail_create_nosubscribe=True).create(values_list)
        orders = orders.with_env(self.env)
        for order, form in zip(orders, forms):
            order._flag_unknown_status(form)
        return list(orders)

    def _stored_values(self, form):
        values, lines, charges = self._values_from_checkout_form(form)
        values["raw_payload"] = json.dumps(form, ensure_ascii=False, indent=1)
        if values["status"] not in dict(ORDER_STATUSES):
            # A status Allegro added since: the order keeps the one it had
            # (none when new, so no sale order is made from a guess).
            values["status"] = self.status or False
        return values, lines, charges

    def _flag_unknown_status(self, form):
        if form.get("status") not in dict(ORDER_STATUSES):
            self._flag(self.env._(
                "Allegro gives this order the status %(status)s, which this version of the connector does not "
                "know: it is kept as it was. Check the order on Allegro.", status=form["status"]))

    def _mail_track(self, tracked_fields, initial_values):
        """The fulfillment status is kept as Allegro's code (a status Allegro
        adds must not block an order); its change in the chatter shows the
        statuses' names in the writer's language, as a selection's would."""
        changes, tracking_values = super()._mail_track(tracked_fields, initial_values)
        if "fulfillment_status" in changes:
            field = self.env["ir.model.fields"]._get(self._name, "fulfillment_status")
            labels = dict(self.env["allegro.update"]._fields["fulfillment_status"]._description_selection(self.env))
            for _command, _id, values in tracking_values:
                if values.get("field_id") == field.id:
                    for key in ("old_value_char", "new_value_char"):
                        values[key] = labels.get(values[key], values[key])
        return changes, tracking_values

    def _flag(self, reason):
        """Ask a person to look at the order, and say why."""
        for order in self:
            if order.attention_reason and reason in order.attention_reason:
                continue
            order.write(
                {
                    "needs_attention": True,
                    "attention_reason": "\n".join(filter(None, [order.attention_reason, reason])),
                }
            )

    def action_refresh_from_allegro(self):
        """Read the orders again from Allegro and apply what changed."""
        check_group(self, ALLEGRO_USER)
        for shop, orders in self.grouped("shop_id").items():
            self.env["allegro.importer"]._reimport_orders(shop, orders)

    def action_mark_resolved(self):
        check_group(self, ALLEGRO_USER)
        self.write({"needs_attention": False, "attention_reason": False})

    def action_open_sale_order(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "sale.order",
            "res_id": self.sale_order_id.id,
            "view_mode": "form",
        }

    def action_open_pickings(self):
        self.ensure_one()
        return self.sale_order_id.action_view_delivery()

    @api.depends("refund_ids.state", "refund_ids.amount_total")
    def _compute_refunded(self):
        for order in self:
            order.refund_count = len(order.refund_ids)
            order.refunded_amount = sum(order.refund_ids.filtered(lambda r: r.state == "done").mapped("amount_total"))

    def _refunded(self):
        """What the refunds not refused or cancelled take of the order: {order line: quantity}, the
        delivery cost and the total."""
        self.ensure_one()
        refunds = self.sudo().refund_ids.filtered(lambda r: r.state in ("to_confirm", "sending", "done"))
        quantities = {}
        for line in refunds.line_ids:
            quantities[line.order_line_id] = quantities.get(line.order_line_id, 0) + line.quantity
        return quantities, sum(refunds.mapped("delivery_amount")), sum(refunds.mapped("amount_total"))

    def _overpaid_left(self):
        """What the buyer paid over the order's total and no refund gives back yet."""
        self.ensure_one()
        refunds = self.sudo().refund_ids.filtered(lambda r: r.state in ("to_confirm", "sending", "done"))
        overpaid = self.paid_amount - self.total_to_pay - sum(refunds.mapped("overpaid_amount"))
        return max(self.currency_id.round(overpaid), 0.0)

    def action_open_refunds(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_refund")
        action["domain"] = [("order_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_refund(self):
        """The Refund wizard: items, quantities and delivery cost to give back to the buyer."""
        self.ensure_one()
        check_any_group(self, (ALLEGRO_USER, BILLING), "read")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Refund to the buyer"),
            "res_model": "allegro.refund.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_order_id": self.id},
        }

    @api.constrains("allegro_ref")
    def _check_external_id(self):
        for order in self:
            if not order.allegro_ref.strip():
                raise ValidationError(self.env._("An Allegro order needs its Allegro ID."))


    # What the sale cost on Allegro: the fees naming the order, and the sale net of them.

    fee_ids = fields.One2many("allegro.billing.entry", "allegro_order_id", "Fees", readonly=True)
    fee_total = fields.Monetary(
        "Allegro fees", compute="_compute_fee_total", store=True,
        help="What Allegro charged for this sale (commissions, delivery fees), net of fee refunds.")
    net_of_fees = fields.Monetary(
        "After Allegro fees", compute="_compute_fee_total", store=True,
        help="What the buyer paid, less Allegro's fees for the sale.")

    @api.depends("fee_ids.amount", "total_to_pay")
    def _compute_fee_total(self):
        for order in self:
            # Fees are negative on Allegro.
            order.fee_total = -sum(order.fee_ids.mapped("amount"))
            order.net_of_fees = order.total_to_pay - order.fee_total

    # Buyers' messages and issues about the order.

    # Allegro users only: an accountant reads the order, not the buyer's conversation.
    allegro_message_ids = fields.One2many("allegro.message", "order_id", "Messages with the buyer",
                                          groups="allegro_connector.group_allegro_user")
    issue_ids = fields.One2many("allegro.issue", "order_id", "Issues", groups="allegro_connector.group_allegro_user")
    issue_count = fields.Integer("Number of issues", compute="_compute_issue_count",
                                 groups="allegro_connector.group_allegro_user")
    awaiting_answer = fields.Boolean(
        "Buyer waiting for an answer", compute="_compute_awaiting_answer", store=True, index=True,
        help="The buyer's message about this order is the last one of the conversation.")
    thread_unread = fields.Boolean("Unread message", compute="_compute_thread_unread",
                                   groups="allegro_connector.group_allegro_user")

    @api.depends("allegro_message_ids.direction", "allegro_message_ids.state", "allegro_message_ids.created_at")
    def _compute_awaiting_answer(self):
        for order in self:
            order.awaiting_answer = _buyer_wrote_last(order.allegro_message_ids.filtered(lambda m: not m.issue_id))

    def _compute_issue_count(self):
        for order in self:
            order.issue_count = len(order.issue_ids)

    def _thread(self):
        self.ensure_one()
        return self.env["allegro.thread"].search(
            [("shop_id", "=", self.shop_id.id), ("buyer_login", "=", self.buyer_login)], limit=1)

    def _compute_thread_unread(self):
        for order in self:
            thread = order._thread() if order.buyer_login else order.env["allegro.thread"]
            order.thread_unread = bool(thread) and not thread.read

    def action_reply_to_buyer(self):
        """The composer of a reply sent to the buyer on Allegro (not an Odoo note)."""
        self.ensure_one()
        check_group(self, ALLEGRO_USER, "read")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reply to buyer on Allegro"),
            "res_model": "allegro.reply.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_order_id": self.id},
        }

    def action_mark_thread_read(self):
        self.ensure_one()
        check_group(self, ALLEGRO_USER, "read")
        return self._thread().action_mark_read()

    def action_view_issues(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_issue")
        action["domain"] = [("order_id", "=", self.id)]
        return action


class AllegroOrderLine(models.Model):
    _name = "allegro.order.line"
    _description = "Allegro Order Item"
    _order = "order_id, sequence, id"

    order_id = fields.Many2one("allegro.order", required=True, ondelete="cascade", index=True)
    shop_id = fields.Many2one(related="order_id.shop_id", store=True)
    company_id = fields.Many2one(related="order_id.company_id", store=True)
    currency_id = fields.Many2one(related="order_id.currency_id")
    sequence = fields.Integer(default=10)
    allegro_ref = fields.Char("Line item ID", required=True)
    offer_ref = fields.Char("Offer ID", required=True, index=True)
    offer_name = fields.Char(required=True)
    offer_sku = fields.Char("Seller SKU")
    quantity = fields.Integer(required=True)
    unit_price = fields.Monetary("Unit price (gross)", help="What the buyer paid, discounts and vouchers deducted.")
    original_price = fields.Monetary("Price before discounts")
    tax_rate = fields.Char("Allegro VAT rate", help="The VAT rate Allegro states for the item, when it does.")
    product_id = fields.Many2one("product.product", help="Empty while the offer matches no product.")
    unmanaged = fields.Boolean(compute="_compute_unmanaged", store=True)
    sale_line_id = fields.Many2one("sale.order.line", readonly=True, index="btree_not_null")

    @api.depends("product_id")
    def _compute_unmanaged(self):
        for line in self:
            line.unmanaged = not line.product_id

    @api.model
    def _values_from_line_item(self, item):
        offer = item.get("offer") or {}
        if not (item.get("id") and offer.get("id")):
            raise MalformedCheckoutForm("a line item has no id or offer id")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity < 1:
            raise MalformedCheckoutForm(f"line item {item['id']}: invalid quantity {quantity!r}")
        return {
            "allegro_ref": item["id"],
            "offer_ref": str(offer["id"]),
            "offer_name": offer.get("name") or str(offer["id"]),
            "offer_sku": (offer.get("external") or {}).get("id"),
            "quantity": quantity,
            "unit_price": float(_amount(item.get("price"), f"line item {item['id']} price")),
            "original_price": float(_amount(item["originalPrice"], f"line item {item['id']} originalPrice"))
            if item.get("originalPrice") else False,
            "tax_rate": (item.get("tax") or {}).get("rate") or False,
        }

    def _sync_commands(self, new_values):
        """x2many commands turning these lines into ``new_values`` (by line item id),
        keeping the products already chosen."""
        by_item = {line.allegro_ref: line for line in self}
        commands = []
        for values in new_values:
            line = by_item.pop(values["allegro_ref"], None)
            commands.append((1, line.id, values) if line else (0, 0, values))
        commands += [(2, line.id) for line in by_item.values()]
        return commands


class AllegroOrderCharge(models.Model):
    """What the buyer pays besides items and delivery: additional services
    and deposits of an item, surcharges of the order."""

    _name = "allegro.order.charge"
    _description = "Allegro Order Charge"
    _order = "order_id, id"

    order_id = fields.Many2one("allegro.order", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="order_id.company_id", store=True)
    currency_id = fields.Many2one(related="order_id.currency_id")
    kind = fields.Selection(CHARGE_KINDS, required=True)
    code = fields.Char(help="Allegro's id of the additional service (e.g. CARRY_IN), or of the surcharge payment.")
    name = fields.Char(required=True)
    line_item_ref = fields.Char("Line item ID", help="The item the charge belongs to.")
    quantity = fields.Integer(required=True, default=1)
    unit_price = fields.Monetary("Unit price (gross)")
    amount = fields.Monetary(compute="_compute_amount")

    @api.depends("quantity", "unit_price")
    def _compute_amount(self):
        for charge in self:
            charge.amount = charge.quantity * charge.unit_price


def _charges(form):
    """Values of the charges of a checkout form."""
    charges = []
    for item in form["lineItems"]:
        offer_name = (item.get("offer") or {}).get("name") or ""
        for service in item.get("selectedAdditionalServices") or []:
            code = service.get("definitionId")
            charges.append({
                "kind": "service",
                "code": code,
                "name": "%s (%s)" % (service.get("name") or code or "?", offer_name),
                "line_item_ref": item["id"],
                "quantity": service.get("quantity") or 1,
                "unit_price": float(_amount(service.get("price"), f"additional service {code}")),
            })
        if item.get("deposit"):
            charges.append({
                "kind": "deposit",
                "name": offer_name,
                "line_item_ref": item["id"],
                "quantity": item["quantity"],
                "unit_price": float(_amount(item["deposit"].get("price"), f"line item {item['id']} deposit")),
            })
    for surcharge in form.get("surcharges") or []:
        # Only money the buyer has paid counts; an unfinished surcharge may never be.
        if surcharge.get("paidAmount") and surcharge.get("finishedAt"):
            charges.append({
                "kind": "surcharge",
                "code": surcharge.get("id"),
                "name": surcharge.get("id") or "",
                "quantity": 1,
                "unit_price": float(_amount(surcharge["paidAmount"], "surcharge paidAmount")),
            })
    return charges


def _join(*parts):
    return " ".join(p for p in parts if p) or False


def _tax_id(company, country_code):
    """The buyer's VAT number with its country prefix (PL1234567890)."""
    ids = {i.get("type"): i.get("value") for i in company.get("ids") or [] if i.get("value")}
    value = ids.get("VAT_EU") or next(
        (v for t, v in ids.items() if t and t.endswith(("NIP", "DIC", "ADOSZAM", "IC_DPH"))), None
    ) or company.get("taxId")
    if not value:
        return False
    value = value.replace(" ", "").replace("-", "").upper()
    prefix = (country_code or "").upper()
    if prefix and not value.startswith(prefix) and value[:1].isdigit():
        value = prefix + value
    return value


def _payment_status(status, payment, paid, total):
    if payment.get("type") == "CASH_ON_DELIVERY":
        return "cod"
    if paid is not None and payment.get("finishedAt"):
        return "paid" if paid == total or status == "READY_FOR_PROCESSING" and paid >= total else "to_verify"
    if status == "READY_FOR_PROCESSING":
        # Allegro says paid but the payment block is incomplete.
        return "to_verify"
    return "unpaid"
