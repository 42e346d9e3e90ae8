"""Fees Allegro charged (billing entries), kept as Allegro sent them and booked
as documents an accountant recognises.

Each entry is stored once (its Allegro id is unique per shop in PostgreSQL), so
reading a stretch of time again changes nothing. Booking is per company: a
draft vendor bill from Allegro per invoice period (a calendar month, as
Allegro's own VAT invoice) or a journal entry; one line per fee type and tax,
however many entries, so a month of a busy shop stays a readable document.
"""

import json
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from odoo import api, fields, models

from ..allegro_api.params import parse_timestamp


class AllegroBillingEntry(models.Model):
    _name = "allegro.billing.entry"
    _description = "Allegro fee"
    _order = "occurred_at desc, id desc"
    _rec_name = "type_name"

    shop_id = fields.Many2one("allegro.shop", required=True, readonly=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True, index=True)
    allegro_ref = fields.Char("Allegro ID", required=True, readonly=True)
    occurred_at = fields.Datetime(readonly=True, index=True)
    period = fields.Char("Month", readonly=True, index=True, help="Allegro's invoice period (YYYY-MM).")
    type_code = fields.Char("Type", readonly=True)
    type_name = fields.Char("Fee", readonly=True)
    fee_type_id = fields.Many2one("allegro.fee.type", readonly=True, index="btree_not_null")
    amount = fields.Monetary(readonly=True, help="As Allegro lists it: a fee is negative, a refund of fees positive.")
    currency_id = fields.Many2one("res.currency", readonly=True)
    tax_percentage = fields.Char("Tax (%)", readonly=True)
    offer_ref = fields.Char("Offer ID", readonly=True, index="btree_not_null")
    offer_name = fields.Char("Offer", readonly=True)
    order_ref = fields.Char("Allegro order ID", readonly=True, index="btree_not_null")
    allegro_order_id = fields.Many2one("allegro.order", "Allegro order", readonly=True, index="btree_not_null")
    state = fields.Selection(
        [("to_book", "To book"), ("booked", "Booked"), ("flagged", "For the accountant")],
        default="to_book", required=True, readonly=True, index=True)
    flag = fields.Char("Why flagged", readonly=True)
    move_id = fields.Many2one("account.move", "Booked in", readonly=True, index="btree_not_null",
                              groups="account.group_account_invoice")
    raw_payload = fields.Text("Allegro data", readonly=True, groups="account.group_account_invoice")

    _shop_ref_unique = models.Constraint(
        "UNIQUE(shop_id, allegro_ref)", "An Allegro billing entry is kept once per shop.")

    # ------------------------------------------------------------------
    # From Allegro
    # ------------------------------------------------------------------

    @api.model
    def _store(self, shop, entries):
        """Keep the entries not kept yet; what Allegro sent malformed is kept and flagged.
        Returns the new records."""
        refs = [e.get("id") for e in entries if isinstance(e, dict) and e.get("id")]
        known = set(self.search([("shop_id", "=", shop.id), ("allegro_ref", "in", refs)]).mapped("allegro_ref"))
        fee_types = {t.code: t for t in self.env["allegro.fee.type"].with_context(active_test=False).search(
            [("company_id", "=", shop.company_id.id)])}
        currencies = _currencies(self.env)
        orders = self._orders_by_ref(shop, {((e.get("order") or {}).get("id")) for e in entries
                                            if isinstance(e, dict) and isinstance(e.get("order"), dict)})
        values = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("id") or entry["id"] in known:
                continue
            known.add(entry["id"])
            values.append(self._values(shop, entry, fee_types, currencies, orders))
        return self.create(values)

    @api.model
    def _link_orders(self, shop):
        """Fees read before their order was imported get it now."""
        entries = self.search([("shop_id", "=", shop.id), ("order_ref", "!=", False),
                               ("allegro_order_id", "=", False)])
        orders = self._orders_by_ref(shop, set(entries.mapped("order_ref")))
        for entry in entries.filtered(lambda e: e.order_ref in orders):
            entry.allegro_order_id = orders[entry.order_ref]

    @api.model
    def _orders_by_ref(self, shop, refs):
        refs = [r for r in refs if r]
        if not refs:
            return {}
        orders = self.env["allegro.order"].sudo().search([("shop_id", "=", shop.id), ("allegro_ref", "in", refs)])
        return {o.allegro_ref: o.id for o in orders}

    @api.model
    def _values(self, shop, entry, fee_types, currencies, orders):
        env = self.env
        value = entry.get("value") if isinstance(entry.get("value"), dict) else {}
        kind = entry.get("type") if isinstance(entry.get("type"), dict) else {}
        offer = entry.get("offer") if isinstance(entry.get("offer"), dict) else {}
        order = entry.get("order") if isinstance(entry.get("order"), dict) else {}
        tax = entry.get("tax") if isinstance(entry.get("tax"), dict) else {}
        moment = parse_timestamp(entry.get("occurredAt"))
        amount = _decimal(value.get("amount"))
        currency = currencies.get(value.get("currency"))
        fee_type = fee_types.get(kind.get("id"))
        flag = False
        if moment is None or amount is None or currency is None:
            flag = env._("Allegro sent this fee without a readable time, amount or currency.")
        elif fee_type is None:
            flag = env._("Allegro's fee type %(code)s is not in the list of fee types.", code=kind.get("id") or "?")
        elif not fee_type.account_id:
            flag = env._("The fee type %(code)s has no expense account.", code=fee_type.code)
        return {
            "shop_id": shop.id,
            "allegro_ref": entry["id"],
            "occurred_at": moment,
            "period": moment.strftime("%Y-%m") if moment else False,
            "type_code": kind.get("id"),
            "type_name": (fee_type.name if fee_type else None) or kind.get("name") or kind.get("id"),
            "fee_type_id": fee_type.id if fee_type else False,
            "amount": float(amount or 0),
            "currency_id": currency.id if currency else False,
            "tax_percentage": tax.get("percentage") or tax.get("annotation"),
            "offer_ref": offer.get("id"),
            "offer_name": offer.get("name"),
            "order_ref": order.get("id"),
            "allegro_order_id": orders.get(order.get("id"), False),
            "state": "flagged" if flag else "to_book",
            "flag": flag,
            "raw_payload": json.dumps(entry, sort_keys=True),
        }

    # ------------------------------------------------------------------
    # Into the books
    # ------------------------------------------------------------------

    def _book(self):
        """Book the entries to book: per shop, period and currency, on one document."""
        entries = self.filtered(lambda e: e.state == "to_book")
        if not entries:
            return self.env["account.move"]
        groups = defaultdict(lambda: self.browse())
        for entry in entries:
            groups[(entry.shop_id, entry.period, entry.currency_id)] |= entry
        moves = self.env["account.move"]
        for (shop, period, currency), group in groups.items():
            if shop.company_id.allegro_fee_booking == "entry":
                move = self._book_entry(shop, period, currency, group)
            else:
                move = self._book_bill(shop, period, currency, group)
            group.write({"state": "booked", "move_id": move.id})
            moves |= move
        return moves

    @api.model
    def _line_groups(self, entries):
        """(fee type, total as Allegro lists it, count) per fee type."""
        totals = defaultdict(lambda: [Decimal(0), 0])
        for entry in entries:
            total = totals[entry.fee_type_id]
            total[0] += Decimal(str(entry.amount))
            total[1] += 1
        return [(fee_type, total, count) for fee_type, (total, count) in totals.items() if total]

    @api.model
    def _book_bill(self, shop, period, currency, entries):
        """The period's draft bill from Allegro gets a line per fee type; a period whose bill the
        accountant already confirmed gets a new draft for what came late."""
        move = self.env["account.move"].search([
            ("move_type", "=", "in_invoice"), ("state", "=", "draft"), ("allegro_fee_shop_id", "=", shop.id),
            ("allegro_fee_period", "=", period), ("currency_id", "=", currency.id)], limit=1)
        if not move:
            move = self.env["account.move"].create({
                "move_type": "in_invoice",
                "company_id": shop.company_id.id,
                "partner_id": self.env.ref("allegro_connector.partner_allegro").id,
                "currency_id": currency.id,
                "ref": self.env._("Allegro fees %(period)s (%(shop)s)", period=period, shop=shop.name),
                "allegro_fee_shop_id": shop.id,
                "allegro_fee_period": period,
            })
        lines = []
        for fee_type, total, count in self._line_groups(entries):
            gross = -total  # a fee is negative on Allegro, an expense on the bill
            tax = fee_type.tax_id
            price = gross if not tax or tax.price_include else _net_of(gross, Decimal(str(tax.amount)), currency)
            lines.append((0, 0, {
                "name": self.env._("%(fee)s: %(count)s fee(s)", fee=fee_type.name, count=count),
                "account_id": fee_type.account_id.id,
                "tax_ids": [(6, 0, tax.ids)],
                "quantity": 1,
                "price_unit": float(round(price, currency.decimal_places)),
            }))
        if lines:
            move.write({"invoice_line_ids": lines})
        return move

    @api.model
    def _book_entry(self, shop, period, currency, entries):
        """A posted journal entry: the fees on their expense accounts against what is owed to Allegro."""
        company = shop.company_id
        partner = self.env.ref("allegro_connector.partner_allegro").with_company(company)
        payable = partner.property_account_payable_id
        journal = self.env["account.journal"].search(
            [("company_id", "=", company.id), ("type", "=", "general")], limit=1)
        lines = []
        owed = Decimal(0)
        for fee_type, total, count in self._line_groups(entries):
            gross = -total
            owed += gross
            lines.append(self._entry_line(company, currency, fee_type.account_id, gross, self.env._(
                "%(fee)s: %(count)s fee(s)", fee=fee_type.name, count=count)))
        lines.append(self._entry_line(company, currency, payable, -owed, self.env._(
            "Allegro fees %(period)s (%(shop)s)", period=period, shop=shop.name), partner))
        move = self.env["account.move"].create({
            "move_type": "entry", "journal_id": journal.id, "company_id": company.id,
            "ref": self.env._("Allegro fees %(period)s (%(shop)s)", period=period, shop=shop.name),
            "allegro_fee_shop_id": shop.id, "allegro_fee_period": period,
            "line_ids": lines,
        })
        move.action_post()
        return move

    @api.model
    def _entry_line(self, company, currency, account, amount, label, partner=None):
        amount = float(amount)
        balance = currency._convert(amount, company.currency_id, company, fields.Date.context_today(self))
        return (0, 0, {
            "name": label, "account_id": account.id, "partner_id": partner.id if partner else False,
            "currency_id": currency.id, "amount_currency": amount, "balance": balance,
        })


def _net_of(gross, rate, currency):
    """The net amount whose tax, rounded as Odoo rounds it per line, gives back Allegro's gross
    amount to the grosz (when there is one: not every gross amount has a net)."""
    step = Decimal(10) ** -currency.decimal_places
    net = (gross / (1 + rate / 100)).quantize(step)
    for candidate in (net, net - step, net + step):
        if candidate + (candidate * rate / 100).quantize(step) == gross:
            return candidate
    return net


def _decimal(value):
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _currencies(env):
    """Allegro's currency codes to Odoo's currencies, inactive ones included (a wallet in HUF is
    booked in HUF whether or not anyone activated it)."""
    return {c.name: c for c in env["res.currency"].with_context(active_test=False).search([])}
