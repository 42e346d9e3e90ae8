"""The emulated seller account: orders, order event journal, shipments, invoices, offers, Ship with Allegro,
messages and post-purchase issues.

Not thread-safe by itself: callers hold the emulator's lock (the HTTP server
for a whole request, the Python API per call). Every change of an order gets
a new revision and updatedAt and one journal event, like Allegro's.
"""

import bisect
from datetime import timedelta
from decimal import Decimal

from . import catalogue
from .common import deep_merge, iso, new_revision, price, utcnow
from .offer_book import OfferBook
from .generator import UNPAID, OrderFactory, hints_from, recompute_total
from .returns import ReturnsDesk
from .messaging import IssueDesk, MessageCenter
from .money import MoneyLedger
from .shipping import ShippingDesk

# Event ids are numeric strings of equal length, so they also sort as strings.
EVENT_ID_BASE = 10 ** 15
EVENT_LINE_ITEM_KEYS = ("id", "offer", "quantity", "originalPrice", "price", "boughtAt")
FULFILLMENT_STATUSES = ("NEW", "PROCESSING", "READY_FOR_SHIPMENT", "READY_FOR_PICKUP", "SENT", "PICKED_UP",
                        "CANCELLED", "SUSPENDED", "RETURNED")


class Store:
    def __init__(self, rng, seller_id):
        self.rng = rng
        self.seller_id = seller_id
        self.offers = catalogue.offers()
        self.factory = OrderFactory(rng, self.offers)
        self.orders = {}  # id -> checkout form, in insertion order
        self.events = []
        self.event_ids = []  # int ids parallel to events, for bisect
        self.shipments = {}  # order id -> [CheckoutFormAddWaybillCreated]
        self.invoices = {}  # order id -> [invoice]
        self.invoice_files = {}  # invoice id -> bytes
        self.book = OfferBook(self.offers)
        self.shipping = ShippingDesk(self)
        self.returns = ReturnsDesk(self)
        self.messaging = MessageCenter(self)
        self.issues = IssueDesk(self)
        self.money = MoneyLedger(self)
        self.created_at = utcnow()

    # -- orders --------------------------------------------------------------
    def order(self, order_id):
        """The live order; KeyError if unknown or deleted."""
        return self.orders[order_id]

    def _build(self, overrides, now, bought_at=None):
        """Store a generated order with ``overrides`` deep-merged in; returns it and its timeline."""
        order, timeline = self.factory.order(now, bought_at, **hints_from(overrides))
        if overrides.get("lineItems"):
            items = self.factory.complete_line_items(overrides["lineItems"], order["marketplace"]["id"], timeline[0][1])
            overrides = dict(overrides, lineItems=items)
        deep_merge(order, overrides)
        if "summary" not in overrides:
            recompute_total(order)
        self.orders[order["id"]] = order
        return order, timeline

    def add_order(self, overrides):
        """A purchase now: as on Allegro, the offers' stock goes down by the items bought."""
        order, timeline = self._build(overrides, utcnow())
        if order["status"] != "CANCELLED":
            for item in order["lineItems"]:
                offer = self.book.by_id.get((item.get("offer") or {}).get("id"))
                if offer:
                    self.book.set_stock(offer, max(0, offer["stock"]["available"] - item["quantity"]))
        for kind, when in timeline:
            self.emit(order, kind, when)
        for key in ("revision", "updatedAt"):  # hand-written values win over generated ones
            if key in overrides:
                order[key] = overrides[key]
        self.events[-1]["order"]["checkoutForm"]["revision"] = order["revision"]
        return order

    def seed(self, n, overrides=None, days=30):
        """n generated orders bought over the last ``days``; events in time order."""
        now = utcnow()
        span = days * 86400
        starts = sorted(self.rng.uniform(0, span) for _ in range(n))
        pending, created = [], []
        for offset in starts:
            order, timeline = self._build(overrides or {}, now, now - timedelta(seconds=span - offset))
            created.append(order)
            pending.extend((when, order, kind) for kind, when in timeline)
        pending.sort(key=lambda item: item[0])  # stable: per-order order is kept
        for when, order, kind in pending:
            self.emit(order, kind, when)
        return created

    def emit(self, order, kind, when=None):
        """Record a change of ``order``: new revision and updatedAt, one journal event."""
        when = when or utcnow()
        order["revision"] = new_revision(self.rng)
        order["updatedAt"] = iso(when)
        buyer = order["buyer"]
        next_id = (self.event_ids[-1] if self.event_ids else EVENT_ID_BASE) + 1
        event = {
            "id": str(next_id),
            "order": {
                "seller": {"id": self.seller_id},
                "buyer": {k: buyer[k] for k in ("id", "email", "login", "guest", "preferences") if k in buyer},
                "lineItems": [{k: li[k] for k in EVENT_LINE_ITEM_KEYS if k in li} for li in order["lineItems"]],
                "checkoutForm": {"id": order["id"], "revision": order["revision"]},
                "marketplace": dict(order["marketplace"]),
            },
            "type": kind,
            "occurredAt": iso(when),
        }
        self.events.append(event)
        self.event_ids.append(next_id)
        return event

    def pay(self, order_id):
        order = self.order(order_id)
        if order["status"] not in ("BOUGHT", "FILLED_IN"):
            raise ValueError("order %s is %s: only BOUGHT or FILLED_IN can be paid" % (order_id, order["status"]))
        if "payment" not in order:  # a BOUGHT order has no payment yet
            order["payment"] = self.factory.payment(UNPAID, None)
        order["payment"].update(finishedAt=iso(utcnow()), paidAmount=dict(order["summary"]["totalToPay"]))
        order["status"] = "READY_FOR_PROCESSING"
        return self.emit(order, "READY_FOR_PROCESSING")

    def overpay(self, order_id, extra):
        """The buyer paid ``extra`` more than the order's total (a paid order)."""
        order = self.order(order_id)
        if not (order.get("payment") or {}).get("finishedAt"):
            raise ValueError("order %s is not paid" % order_id)
        total = order["summary"]["totalToPay"]
        order["payment"]["paidAmount"] = price(Decimal(total["amount"]) + Decimal(str(extra)), total["currency"])
        return self.emit(order, "BUYER_MODIFIED")

    def edit_delivery_address(self, order_id, fields):
        order = self.order(order_id)
        address = order.setdefault("delivery", {}).setdefault("address", {})
        address.update(fields)
        address["modifiedAt"] = iso(utcnow())
        return self.emit(order, "BUYER_MODIFIED")

    def revise(self, order_id, overrides):
        """The buyer edits the checkout form (delivery method, items...) before paying."""
        order = self.order(order_id)
        if overrides.get("lineItems"):
            items = self.factory.complete_line_items(overrides["lineItems"], order["marketplace"]["id"], utcnow())
            for item in items:  # still bought when the order was
                item["boughtAt"] = order["lineItems"][0]["boughtAt"]
            overrides = dict(overrides, lineItems=items)
        deep_merge(order, overrides)
        if "summary" not in overrides:
            recompute_total(order)
        return self.emit(order, "BUYER_MODIFIED")

    def cancel(self, order_id, auto=False):
        order = self.order(order_id)
        order["status"] = "CANCELLED"
        return self.emit(order, "AUTO_CANCELLED" if auto else "BUYER_CANCELLED")

    def set_fulfillment(self, order_id, status):
        if status not in FULFILLMENT_STATUSES:
            raise ValueError("unknown fulfillment status %r" % status)
        order = self.order(order_id)
        order.setdefault("fulfillment", {})["status"] = status
        return self.emit(order, "FULFILLMENT_STATUS_CHANGED")

    def delete(self, order_id):
        del self.orders[order_id]

    # -- journal -------------------------------------------------------------
    def events_after(self, after, types, limit):
        """Up to ``limit`` events with id > ``after`` (None: from the start), optionally of ``types``."""
        start = bisect.bisect_right(self.event_ids, after) if after is not None else 0
        page = []
        for index in range(start, len(self.events)):
            event = self.events[index]
            if not types or event["type"] in types:
                page.append(event)
                if len(page) >= limit:
                    break
        return page

    # -- shipments -----------------------------------------------------------
    def add_shipment(self, order, shipment):
        self.shipments.setdefault(order["id"], []).append(shipment)
        self._summarise_shipments(order)

    def remove_waybills(self, order, waybills):
        """A canceled Ship with Allegro parcel's waybills leave the order."""
        self.shipments[order["id"]] = [s for s in self.shipments.get(order["id"], []) if s["waybill"] not in waybills]
        self._summarise_shipments(order)

    def _summarise_shipments(self, order):
        sent = {li["id"] for s in self.shipments[order["id"]] for li in s["lineItems"]}
        all_items = {li["id"] for li in order["lineItems"]}
        summary = "ALL" if all_items <= sent else ("SOME" if sent & all_items else "NONE")
        order.setdefault("fulfillment", {}).setdefault("shipmentSummary", {})["lineItemsSent"] = summary
