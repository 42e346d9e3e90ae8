"""Money moving in the seller's Allegro wallets (payment operations), kept as
Allegro sent them and booked as Odoo payments on an *Allegro payments* journal
per wallet currency, so that the journal's balance is the wallet's.

Allegro gives an operation no id: one is known by all it says (type, time,
wallet with its balance after it, value, links), hashed, unique per shop in
PostgreSQL, so reading a stretch of time again books nothing twice.
"""

import hashlib
import json
from collections import defaultdict

from odoo import api, fields, models

from ..allegro_api.params import parse_timestamp
from .allegro_billing import _currencies, _decimal

# How each operation type is booked: (partner, direction); direction None: by the amount's sign.
# "buyer": the order's customer (payments and refunds, matched to the invoice), "allegro": Allegro
# itself (corrections, contributions, fee deductions), "transfer": money leaving for the seller's bank.
BOOKING = {
    "CONTRIBUTION": "buyer", "SURCHARGE": "buyer", "COMPENSATION_COD_INCREASE": "buyer",
    "REFUND_CHARGE": "buyer", "REFUND_CANCEL": "buyer", "REFUND_INCREASE": "buyer",
    "PAYOUT": "transfer", "PAYOUT_CANCEL": "transfer",
    "CORRECTION": "allegro", "COMPENSATION": "allegro", "DEDUCTION_INCREASE": "allegro",
    "DEDUCTION_CHARGE": "allegro", "LOAN_DEDUCTION_INCREASE": "allegro", "LOAN_DEDUCTION_CHARGE": "allegro",
    "COMPENSATION_COD_CHARGE": "allegro", "TOP_UP": "allegro",
    "PROVIDER_REFUND_TRANSFER_CHARGE": "allegro", "PROVIDER_REFUND_TRANSFER_INCREASE": "allegro",
}


def operation_key(operation):
    """The identity of an operation that has no id (as the client tells repeats apart)."""
    return hashlib.sha1(json.dumps(operation, sort_keys=True).encode()).hexdigest()


class AllegroPaymentOperation(models.Model):
    _name = "allegro.payment.operation"
    _description = "Allegro payment operation"
    _order = "occurred_at desc, id desc"
    _rec_name = "op_type"

    shop_id = fields.Many2one("allegro.shop", required=True, readonly=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True, index=True)
    op_key = fields.Char("Identity", required=True, readonly=True)
    op_type = fields.Char("Type", readonly=True)
    op_group = fields.Char("Group", readonly=True)
    occurred_at = fields.Datetime(readonly=True, index=True)
    amount = fields.Monetary(readonly=True, help="As it changed the wallet: money in is positive.")
    currency_id = fields.Many2one("res.currency", readonly=True)
    wallet_operator = fields.Char("Payment operator", readonly=True)
    wallet_type = fields.Char("Wallet", readonly=True)
    balance_after = fields.Monetary("Wallet balance after", readonly=True)
    payment_ref = fields.Char("Allegro payment ID", readonly=True, index="btree_not_null")
    payout_ref = fields.Char("Payout ID", readonly=True, index="btree_not_null")
    participant_login = fields.Char("Buyer", readonly=True)
    allegro_order_id = fields.Many2one("allegro.order", "Allegro order", readonly=True, index="btree_not_null")
    state = fields.Selection(
        [("to_book", "To book"), ("booked", "Booked"), ("flagged", "For the accountant")],
        default="to_book", required=True, readonly=True, index=True)
    flag = fields.Char("Why flagged", readonly=True)
    payment_id = fields.Many2one("account.payment", "Odoo payment", readonly=True, index="btree_not_null")
    reconciled = fields.Boolean(related="payment_id.is_reconciled", string="Matched")
    raw_payload = fields.Text("Allegro data", readonly=True)

    _shop_key_unique = models.Constraint(
        "UNIQUE(shop_id, op_key)", "An Allegro payment operation is kept once per shop.")

    # ------------------------------------------------------------------
    # From Allegro
    # ------------------------------------------------------------------

    @api.model
    def _store(self, shop, operations):
        """Keep the operations not kept yet; returns the new records."""
        keyed = {}
        for operation in operations:
            if isinstance(operation, dict):
                keyed.setdefault(operation_key(operation), operation)
        known = set(self.search([("shop_id", "=", shop.id), ("op_key", "in", list(keyed))]).mapped("op_key"))
        currencies = _currencies(self.env)
        payment_refs = {((o.get("payment") or {}).get("id")) for o in keyed.values()
                        if isinstance(o.get("payment"), dict)} - {None}
        orders = {}
        if payment_refs:
            for order in self.env["allegro.order"].sudo().search(
                    [("shop_id", "=", shop.id), ("payment_ref", "in", list(payment_refs))]):
                orders[order.payment_ref] = order.id
        values = [self._values(shop, key, operation, currencies, orders)
                  for key, operation in keyed.items() if key not in known]
        return self.create(values)

    @api.model
    def _values(self, shop, key, operation, currencies, orders):
        env = self.env

        def part(name):
            return operation.get(name) if isinstance(operation.get(name), dict) else {}

        value, wallet = part("value"), part("wallet")
        balance = wallet.get("balance") if isinstance(wallet.get("balance"), dict) else {}
        moment = parse_timestamp(operation.get("occurredAt"))
        amount = _decimal(value.get("amount"))
        currency = currencies.get(value.get("currency"))
        op_type = operation.get("type")
        payment_ref = part("payment").get("id")
        flag = False
        if moment is None or amount is None or currency is None:
            flag = env._("Allegro sent this operation without a readable time, amount or currency.")
        elif op_type not in BOOKING:
            flag = env._("Operations of type %(type)s are left for the accountant.", type=op_type or "?")
        return {
            "shop_id": shop.id,
            "op_key": key,
            "op_type": op_type,
            "op_group": operation.get("group"),
            "occurred_at": moment,
            "amount": float(amount or 0),
            "currency_id": currency.id if currency else False,
            "wallet_operator": wallet.get("paymentOperator"),
            "wallet_type": wallet.get("type"),
            "balance_after": float(_decimal(balance.get("amount")) or 0),
            "payment_ref": payment_ref,
            "payout_ref": part("payout").get("id"),
            "participant_login": part("participant").get("login"),
            "allegro_order_id": orders.get(payment_ref, False),
            "state": "flagged" if flag else "to_book",
            "flag": flag,
            "raw_payload": json.dumps(operation, sort_keys=True),
        }

    # ------------------------------------------------------------------
    # Into the books
    # ------------------------------------------------------------------

    def _book(self):
        """One Odoo payment per operation, created and posted in one batch; buyer payments are then
        matched to their invoices."""
        operations = self.filtered(lambda o: o.state == "to_book")
        zero = operations.filtered(lambda o: o.currency_id.is_zero(o.amount))
        zero.write({"state": "booked"})  # nothing moved, nothing to book
        operations -= zero
        if not operations:
            return self.env["account.payment"]
        allegro = self.env.ref("allegro_connector.partner_allegro")
        journals = {}
        values = []
        for operation in operations:
            shop = operation.shop_id
            key = (shop, operation.currency_id)
            if key not in journals:
                journals[key] = shop._allegro_wallet_journal(operation.currency_id)
            values.append(operation._payment_values(journals[key], allegro))
        payments = self.env["account.payment"].create(values)
        payments.action_post()
        for operation, payment in zip(operations, payments):
            operation.payment_id = payment.id
        operations.write({"state": "booked"})
        operations._match_invoices()
        return payments

    def _payment_values(self, journal, allegro):
        self.ensure_one()
        booking = BOOKING[self.op_type]
        inbound = self.amount > 0
        values = {
            "journal_id": journal.id,
            "company_id": journal.company_id.id,
            "date": fields.Date.to_date(self.occurred_at),
            "amount": abs(self.amount),
            "currency_id": self.currency_id.id,
            "payment_type": "inbound" if inbound else "outbound",
            "memo": self.payout_ref or self.payment_ref or self.op_type,
            "payment_reference": self.payout_ref or self.payment_ref,
        }
        if booking == "transfer":
            values.update(partner_type="supplier" if not inbound else "customer", partner_id=False,
                          destination_account_id=journal.company_id.transfer_account_id.id)
        elif booking == "allegro":
            values.update(partner_type="supplier", partner_id=allegro.id)
        else:
            order = self.allegro_order_id.sudo()
            partner = order.sale_order_id.partner_invoice_id.commercial_partner_id or order.sale_order_id.partner_id
            values.update(partner_type="customer", partner_id=partner.id or False)
        return values

    def _match_invoices(self):
        """Buyer payments against their order's posted invoice, and money sent back against its posted
        credit note, when the amounts agree, with Odoo's own reconciliation; a payment whose invoice or
        credit note comes later is matched when it is posted."""
        for operation in self.filtered(lambda o: o.payment_id and o.allegro_order_id
                                       and BOOKING.get(o.op_type) == "buyer"):
            payment = operation.payment_id
            if payment.is_reconciled:
                continue
            move_type = "out_invoice" if operation.amount > 0 else "out_refund"
            order = operation.allegro_order_id.sudo()
            invoices = (order.sale_order_id.invoice_ids | order.invoice_ids).filtered(
                lambda m: m.move_type == move_type and m.state == "posted"
                and m.payment_state in ("not_paid", "partial") and m.currency_id == payment.currency_id
                and not m.currency_id.compare_amounts(m.amount_residual, payment.amount))
            if not invoices:
                continue
            lines = (payment.move_id.line_ids | invoices[:1].line_ids).filtered(
                lambda line: line.account_id.account_type == "asset_receivable" and not line.reconciled)
            lines.reconcile()

    @api.model
    def _match_order_invoices(self, invoices):
        """Allegro payments (or refunds) booked before these invoices (or credit notes) were posted."""
        orders = invoices.sudo().allegro_order_id
        if orders:
            self.sudo().search([("allegro_order_id", "in", orders.ids), ("state", "=", "booked"),
                                ("payment_id", "!=", False)])._match_invoices()

    # ------------------------------------------------------------------
    # Payouts on the bank statement
    # ------------------------------------------------------------------

    @api.model
    def _match_payouts(self, shop):
        """Each payout's bank statement line (it names the payout) reconciled with the payout's
        transfer, as Odoo's bank reconciliation would."""
        bank = shop.payout_journal_id
        if not bank:
            return 0
        payouts = self.search([("shop_id", "=", shop.id), ("op_type", "=", "PAYOUT"), ("state", "=", "booked"),
                               ("payment_id", "!=", False)])
        transfer = shop.company_id.transfer_account_id
        matched = 0
        for payout in payouts:
            line = payout.payment_id.move_id.line_ids.filtered(
                lambda l: l.account_id == transfer and not l.reconciled)
            if not line:
                continue
            st_line = self.env["account.bank.statement.line"].search([
                ("journal_id", "=", bank.id), ("is_reconciled", "=", False),
                ("payment_ref", "ilike", payout.payout_ref), ("amount", "=", -payout.amount)], limit=1)
            if not st_line or st_line.currency_id != payout.currency_id:
                continue
            suspense = st_line.move_id.line_ids.filtered(
                lambda l: l.account_id == bank.suspense_account_id)
            suspense.with_context(skip_readonly_check=True).account_id = transfer
            (suspense | line).reconcile()
            matched += 1
        return matched

    # ------------------------------------------------------------------
    # The wallet against the books
    # ------------------------------------------------------------------

    @api.model
    def _wallet_balances(self, shop):
        """Allegro's balance per currency: the latest operation's of each wallet, summed."""
        domain = [("shop_id", "=", shop.id), ("wallet_type", "in", ("AVAILABLE", False)), ("occurred_at", "!=", False)]
        balances = defaultdict(float)
        for currency, operator in self._read_group(domain, ["currency_id", "wallet_operator"]):
            # An instant's operations are stored newest first: of the latest instant, the lowest id.
            latest = self.search(domain + [("currency_id", "=", currency.id), ("wallet_operator", "=", operator)],
                                 order="occurred_at desc, id", limit=1)
            balances[currency] += latest.balance_after
        return balances
