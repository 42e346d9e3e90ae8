"""The seller's money: billing entries (fees Allegro charges) and payment operations (the wallets).

Billing entries keep a running billing balance per marketplace; payment
operations a running balance per wallet (payment operator, wallet type,
currency), recomputed in time order whenever an operation is added, so the
balance an operation carries is always correct to the grosz. Both lists are
kept oldest first, ties in the order of addition; the API lists them newest
first. Type codes beyond SUC/LIS are not in the spec: these are the ones seen
in the wild, a reader must load the list at run time anyway.
"""

import bisect
from datetime import timedelta
from decimal import Decimal

from . import catalogue
from .common import iso, money, new_uuid, parse_iso, utcnow

# id -> (English name, Polish name)
BILLING_TYPES = {
    "SUC": ("Sales commission", "Prowizja od sprzedaży"),
    "BRG": ("Commission on promoted sale", "Prowizja od sprzedaży promowanej"),
    "LIS": ("Listing fee", "Opłata za wystawienie"),
    "FEA": ("Promotion fee", "Opłata za wyróżnienie"),
    "NSP": ("Allegro Ads fee", "Opłata za kampanię Allegro Ads"),
    "HLB": ("Allegro Delivery shipping fee", "Opłata za dostawę Allegro Delivery"),
    "SB2": ("Allegro Smart! subscription", "Abonament Allegro Smart!"),
    "REF": ("Commission refund", "Zwrot prowizji"),
    "PAD": ("Payment for fees", "Wpłata na poczet opłat"),
}
FEE_TAX = {"percentage": "23"}
COMMISSION_RATE = Decimal("0.09")
OPERATION_GROUPS = {
    "CONTRIBUTION": "INCOME", "SURCHARGE": "INCOME", "DEDUCTION_INCREASE": "INCOME", "COMPENSATION": "INCOME",
    "PAYOUT": "OUTCOME", "PAYOUT_CANCEL": "OUTCOME", "DEDUCTION_CHARGE": "OUTCOME",
    "REFUND_CHARGE": "REFUND", "REFUND_CANCEL": "REFUND", "REFUND_INCREASE": "REFUND",
    "BLOCKADE": "BLOCKADES", "BLOCKADE_RELEASE": "BLOCKADES",
}  # CORRECTION is INCOME or REFUND: given by the caller
WALLET_OPERATOR = "PAYU"


def _currency(marketplace_id):
    return catalogue.MARKETPLACES[marketplace_id]["currency"]


class _Timeline:
    """Items sorted by (occurredAt, order of addition): new ones may come with any time."""

    def __init__(self):
        self.items = []
        self.keys = []
        self.sequence = 0

    def add(self, item, moment):
        self.sequence += 1
        key = (moment, self.sequence)
        index = bisect.bisect(self.keys, key)
        self.keys.insert(index, key)
        self.items.insert(index, item)
        return index

    def extend_sorted(self, pairs):
        """Many (item, moment) at once (the fast path of big data sets)."""
        for item, moment in pairs:
            self.sequence += 1
            self.keys.append((moment, self.sequence))
            self.items.append(item)
        order = sorted(range(len(self.keys)), key=self.keys.__getitem__)
        self.keys = [self.keys[i] for i in order]
        self.items = [self.items[i] for i in order]


class MoneyLedger:
    def __init__(self, store):
        self.store = store
        self.rng = store.rng
        self.entries = _Timeline()  # BillingEntry, with a private "_marketplace"
        self.operations = _Timeline()  # BaseOperation subtypes
        self.payouts = {}  # payout id -> {"amount", "currency", "reference", "occurredAt"}: what the bank shows
        self.bank_account = "PL61109010140000071219812874"
        self.listing_changes = []  # [pages to serve, change]: change() runs once that many pages are served

    # -- billing -------------------------------------------------------------
    def add_entry(self, type_id, amount, occurred_at=None, marketplace_id="allegro-pl", order_id=None, offer=None,
                  tax=FEE_TAX, name=None, additional_info=None, entry_id=None):
        """A billing entry; ``amount`` negative for a fee. An unknown ``type_id`` is kept, named ``name``."""
        moment = occurred_at or utcnow()
        names = BILLING_TYPES.get(type_id, (name or type_id, name or type_id))
        entry = {
            "id": entry_id or new_uuid(self.rng), "occurredAt": iso(moment),
            "type": {"id": type_id, "name": names[0]},
            "value": {"amount": money(amount), "currency": _currency(marketplace_id)},
            "balance": None, "_marketplace": marketplace_id, "_names": names,
        }
        if tax:
            entry["tax"] = dict(tax)
        if offer:
            entry["offer"] = {"id": str(offer["id"]), "name": offer.get("name", "")}
        if order_id:
            entry["order"] = {"id": order_id}
        if additional_info:
            entry["additionalInfo"] = list(additional_info)
        self.entries.add(entry, moment)
        self._rebalance_entries(marketplace_id)
        return entry

    def reverse_entry(self, entry_id, occurred_at=None):
        """A correction cancelling an entry: the same type and links, the opposite amount."""
        entry = next(e for e in self.entries.items if e["id"] == entry_id)
        return self.add_entry(entry["type"]["id"], -Decimal(entry["value"]["amount"]), occurred_at,
                              entry["_marketplace"], (entry.get("order") or {}).get("id"), entry.get("offer"),
                              entry.get("tax"), additional_info=[
                                  {"type": "correction", "name": "Corrected entry", "value": entry_id}])

    def _rebalance_entries(self, marketplace_id=None):
        balances = {}
        for entry in self.entries.items:
            marketplace = entry["_marketplace"]
            if marketplace_id and marketplace != marketplace_id:
                continue
            balances[marketplace] = balances.get(marketplace, Decimal(0)) + Decimal(entry["value"]["amount"])
            entry["balance"] = {"amount": money(balances[marketplace]), "currency": entry["value"]["currency"]}

    # -- payments ------------------------------------------------------------
    def add_operation(self, op_type, amount, occurred_at=None, currency="PLN", group=None,
                      operator=WALLET_OPERATOR, wallet_type="AVAILABLE", marketplace_id=None, rebalance=True, **extra):
        """A payment operation; ``amount`` signed as it changes the wallet; ``extra``: payment, participant,
        payout, deduction, surcharge... as the operation's type needs."""
        moment = occurred_at or utcnow()
        operation = {
            "type": op_type, "group": group or OPERATION_GROUPS.get(op_type, "INCOME"),
            "wallet": {"paymentOperator": operator, "type": wallet_type, "balance": None},
            "value": {"amount": money(amount), "currency": currency}, "occurredAt": iso(moment),
        }
        if marketplace_id:
            operation["marketplaceId"] = marketplace_id
        operation.update(extra)
        self.operations.add(operation, moment)
        if rebalance:
            self.rebalance_wallets()
        return operation

    def rebalance_wallets(self):
        """Each operation's wallet balance after it, in time order per wallet."""
        balances = {}
        for operation in self.operations.items:
            wallet = operation["wallet"]
            key = (wallet["paymentOperator"], wallet["type"], operation["value"]["currency"])
            balances[key] = balances.get(key, Decimal(0)) + Decimal(operation["value"]["amount"])
            wallet["balance"] = {"amount": money(balances[key]), "currency": key[2]}
        return balances

    def wallet_balance(self, currency, operator=WALLET_OPERATOR, wallet_type="AVAILABLE"):
        return self.rebalance_wallets().get((operator, wallet_type, currency), Decimal(0))

    def payout(self, currency, occurred_at, operator=WALLET_OPERATOR):
        """The wallet's whole balance at ``occurred_at`` sent to the bank; None when there is nothing to pay."""
        balance = Decimal(0)
        for operation in self.operations.items:
            wallet = operation["wallet"]
            if (wallet["paymentOperator"], wallet["type"], operation["value"]["currency"]) \
                    == (operator, "AVAILABLE", currency) and parse_iso(operation["occurredAt"]) <= occurred_at:
                balance += Decimal(operation["value"]["amount"])
        if balance <= 0:
            return None
        payout_id = new_uuid(self.rng)
        self.payouts[payout_id] = {"amount": money(balance), "currency": currency, "occurredAt": iso(occurred_at),
                                   "reference": "Allegro wyplata %s" % payout_id, "account": self.bank_account}
        return self.add_operation("PAYOUT", -balance, occurred_at, currency, operator=operator,
                                  payout={"id": payout_id})

    # -- generated months ----------------------------------------------------
    def seed_from_orders(self, days=30, payout_every=7):
        """The money of the store's orders of the last ``days``: payments, commissions, delivery fees,
        refunds of returned/cancelled orders, daily promotion fees, a subscription, corrections and a
        payout per wallet currency every ``payout_every`` days."""
        now = utcnow()
        start = now - timedelta(days=days)
        for order in list(self.store.orders.values()):
            self._order_money(order, start)
        for day in range(days):
            moment = start + timedelta(days=day, hours=3)
            self.add_entry("FEA", -Decimal("4.50"), moment)
            if day % 10 == 5:
                self.add_entry("NSP", -Decimal(self.rng.randint(1000, 9000)) / 100, moment + timedelta(hours=1))
        self.add_entry("SB2", -Decimal("49.00"), start + timedelta(hours=1))
        self.add_operation("CORRECTION", Decimal("1.23"), start + timedelta(days=1), "PLN", group="INCOME",
                           marketplace_id="allegro-pl")
        for day in range(payout_every, days + 1, payout_every):
            for currency in ("PLN", "CZK", "HUF", "EUR"):
                self.payout(currency, start + timedelta(days=day, hours=6))
        self.rebalance_wallets()

    def _order_money(self, order, start):
        """Only what has happened by now: a fee due tomorrow is not listed yet."""
        now = utcnow()
        marketplace = order["marketplace"]["id"]
        bought = parse_iso(order["lineItems"][0]["boughtAt"])
        if bought < start:
            return
        payment = order.get("payment") or {}
        buyer = order["buyer"]
        for item in order["lineItems"]:
            value = Decimal(item["price"]["amount"]) * item["quantity"]
            commission = -(value * COMMISSION_RATE)
            entry = self.add_entry("SUC", commission, bought + timedelta(minutes=1), marketplace, order["id"],
                                   item["offer"])
            if order["status"] == "CANCELLED" and bought + timedelta(days=1) <= now:
                self.add_entry("REF", -Decimal(entry["value"]["amount"]), bought + timedelta(days=1), marketplace,
                               order["id"], item["offer"])
        if payment.get("finishedAt") and payment.get("type") != "CASH_ON_DELIVERY":
            paid = parse_iso(payment["finishedAt"])
            amount = Decimal(order["summary"]["totalToPay"]["amount"])
            currency = order["summary"]["totalToPay"]["currency"]
            participant = {"id": buyer["id"], "login": buyer.get("login") or "buyer-%s" % buyer["id"],
                           "firstName": buyer.get("firstName") or "-", "lastName": buyer.get("lastName") or "-"}
            self.add_operation("CONTRIBUTION", amount, paid, currency, marketplace_id=marketplace,
                               payment={"id": payment["id"]}, participant=participant, rebalance=False)
            if order["status"] == "CANCELLED" and paid + timedelta(days=1) <= now:
                self.add_operation("REFUND_CHARGE", -amount, paid + timedelta(days=1), currency,
                                   marketplace_id=marketplace, payment={"id": payment["id"]},
                                   participant=participant, rebalance=False)
        if (order.get("delivery", {}).get("smart") or self.rng.random() < 0.3) \
                and bought + timedelta(days=1, minutes=5) <= now:
            self.add_entry("HLB", -Decimal("8.99") if marketplace == "allegro-pl" else -Decimal("2"),
                           bought + timedelta(days=1, minutes=5), marketplace, order["id"])

    def bulk(self, entries=0, operations=0, days=30, same_moment=3):
        """``entries`` billing entries and ``operations`` payment operations (PLN) spread over ``days``,
        ``same_moment`` of them at each instant; fast (one sort, one balance pass)."""
        now = utcnow().replace(microsecond=0)
        start = now - timedelta(days=days)

        def moments(count):
            step = days * 86400 / max(1, count // same_moment + 1)
            return [start + timedelta(seconds=int((i // same_moment) * step)) for i in range(count)]

        pairs = []
        for index, moment in enumerate(moments(entries)):
            type_id = ("SUC", "FEA", "HLB", "REF")[index % 4]
            amount = Decimal(self.rng.randint(50, 5000)) / 100 * (1 if type_id == "REF" else -1)
            pairs.append(({
                "id": new_uuid(self.rng), "occurredAt": iso(moment),
                "type": {"id": type_id, "name": BILLING_TYPES[type_id][0]},
                "value": {"amount": money(amount), "currency": "PLN"}, "tax": dict(FEE_TAX), "balance": None,
                "_marketplace": "allegro-pl", "_names": BILLING_TYPES[type_id]}, moment))
        self.entries.extend_sorted(pairs)
        self._rebalance_entries()
        pairs = []
        for index, moment in enumerate(moments(operations)):
            payment = {"id": new_uuid(self.rng)}
            amount = Decimal(self.rng.randint(1000, 50000)) / 100
            operation = {"type": "CONTRIBUTION", "group": "INCOME",
                         "wallet": {"paymentOperator": WALLET_OPERATOR, "type": "AVAILABLE", "balance": None},
                         "value": {"amount": money(amount), "currency": "PLN"}, "occurredAt": iso(moment),
                         "marketplaceId": "allegro-pl", "payment": payment,
                         "participant": {"id": str(10 ** 7 + index), "login": "buyer%d" % index,
                                         "firstName": "Jan", "lastName": "Kowalski"}}
            if index % 10 == 9:
                operation.update(type="REFUND_CHARGE", group="REFUND",
                                 value={"amount": money(-amount / 4), "currency": "PLN"})
            pairs.append((operation, moment))
        self.operations.extend_sorted(pairs)
        self.rebalance_wallets()
