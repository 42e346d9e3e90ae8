"""The seller's customer returns, payment refunds and commission refund claims.

Not thread-safe by itself: callers hold the emulator's lock. Returns are made
from the store's orders by test hooks (Allegro has no API to create one);
refunds and claims come through the REST API (``api_returns``).
"""

from datetime import timedelta
from decimal import Decimal

from .common import iso, money, new_uuid, parse_iso, price, utcnow

RETURN_STATUSES = ("CREATED", "DISPATCHED", "IN_TRANSIT", "DELIVERED", "FINISHED", "FINISHED_APT", "REJECTED",
                   "COMMISSION_REFUND_CLAIMED", "COMMISSION_REFUNDED", "WAREHOUSE_DELIVERED",
                   "WAREHOUSE_VERIFICATION")
# Allegro refuses a rejection once the return is settled (refunded, rejected, commission claimed).
UNREJECTABLE_STATUSES = ("FINISHED", "FINISHED_APT", "REJECTED", "COMMISSION_REFUND_CLAIMED", "COMMISSION_REFUNDED")
REJECTION_CODES = ("REFUND_REJECTED", "NEW_ITEM_SENT", "ITEM_FIXED", "MISSING_PART_SENT", "ITEM_MISMATCH",
                   "BUSINESS_PURCHASE", "NO_RETURN_RIGHT")
REFUND_REASONS = ("REFUND", "COMPLAINT", "PRODUCT_NOT_AVAILABLE", "PAID_VALUE_TOO_LOW", "OVERPAID",
                  "CANCELLED_BY_BUYER", "NOT_COLLECTED")
REFUND_STATUSES = ("SUCCESS", "CANCELED", "PARTIAL", "IN_PROGRESS", "VALIDATED", "VALIDATE_FAILED", "NEW")
CLAIM_STATUSES = ("IN_PROGRESS", "WAITING_FOR_PAYMENT_REFUND", "GRANTED", "REJECTED", "REJECTED_AFTER_APPEAL",
                  "CANCELLED", "APPEALED")
CLAIM_WINDOW_DAYS = 45  # not in the spec: Allegro's forum gives 45 days from the purchase
COMMISSION_RATE = Decimal("0.10")


class ReturnsDesk:
    def __init__(self, store):
        self.store = store
        self.returns = {}  # id -> CustomerReturn, oldest first (the ``from`` cursor follows this order)
        self.refunds = {}  # id -> RefundDetails, oldest first
        self.refund_commands = {}  # commandId -> refund id
        self.claims = {}  # id -> RefundClaim, oldest first
        self.refund_status = "SUCCESS"  # the status new refunds get
        self.claim_window_days = CLAIM_WINDOW_DAYS

    # -- customer returns ----------------------------------------------------
    def add_return(self, order_id, items=None, status="CREATED", reason="DAMAGED", comment="", waybill=None,
                   carrier_id="INPOST", created_at=None, shipped_back=True):
        """A buyer's return of ``items`` (``[(offer id, quantity)]``, default: the whole order);
        ``shipped_back`` False: no parcel (the buyer keeps or disposes of the items)."""
        order = self.store.order(order_id)
        lines = {li["offer"]["id"]: li for li in order["lineItems"]}
        wanted = items or [(li["offer"]["id"], li["quantity"]) for li in order["lineItems"]]
        number = len(self.returns) + 1
        created = created_at or utcnow()
        customer_return = {
            "id": new_uuid(self.store.rng),
            "isFulfillment": False,
            "createdAt": iso(created),
            "referenceNumber": "%d/Z%02dA" % (number, number % 100),
            "orderId": order_id,
            "buyer": {"email": order["buyer"]["email"], "login": order["buyer"]["login"]},
            "items": [{"offerId": offer_id, "quantity": quantity, "name": lines[offer_id]["offer"]["name"],
                       "price": dict(lines[offer_id]["price"]),
                       "url": "https://allegro.pl/oferta/%s" % offer_id,
                       "reason": {"type": reason, "userComment": comment}} for offer_id, quantity in wanted],
            "parcels": [{"createdAt": iso(created), "waybill": waybill or "RET%08d" % number,
                         "transportingWaybill": None, "carrierId": carrier_id, "transportingCarrierId": None,
                         "sender": {"phoneNumber": "500600700"}}] if shipped_back else [],
            "marketplaceId": order["marketplace"]["id"],
            "status": status,
        }
        self.returns[customer_return["id"]] = customer_return
        return customer_return

    def customer_return(self, return_id):
        return self.returns[return_id]

    def set_return_status(self, return_id, status):
        """Any status, also one the spec does not list (the field is a free string)."""
        self.returns[return_id]["status"] = status

    def reject(self, customer_return, code, reason):
        customer_return["rejection"] = {"code": code, "createdAt": iso(utcnow())}
        if reason:
            customer_return["rejection"]["reason"] = reason
        customer_return["status"] = "REJECTED"

    # -- payment refunds -----------------------------------------------------
    def refunded(self, order_id):
        """What the order's refunds took so far: {lineItemId: quantity}, {lineItemId: amount}, delivery, total."""
        quantities, amounts, delivery, total = {}, {}, Decimal(0), Decimal(0)
        for refund in self.refunds.values():
            if refund["order"]["id"] != order_id or refund["status"] in ("CANCELED", "VALIDATE_FAILED"):
                continue
            for line in refund.get("lineItems", []):
                if line["type"] == "QUANTITY":
                    quantities[line["id"]] = quantities.get(line["id"], 0) + line["quantity"]
                else:
                    amounts[line["id"]] = amounts.get(line["id"], Decimal(0)) + Decimal(line["value"]["amount"])
            if refund.get("delivery"):
                delivery += Decimal(refund["delivery"]["value"]["amount"])
            total += Decimal(refund["totalValue"]["amount"])
        return quantities, amounts, delivery, total

    def add_refund(self, command_id, body, total, currency):
        refund = {key: body[key] for key in ("payment", "order", "reason", "lineItems", "deposits", "delivery",
                                             "overpaid", "surcharges", "additionalServices", "sellerComment")
                  if body.get(key) is not None}
        refund.update(id=new_uuid(self.store.rng), status=self.refund_status, createdAt=iso(utcnow()),
                      totalValue=price(total, currency))
        self.refunds[refund["id"]] = refund
        self.refund_commands[command_id] = refund["id"]
        return refund

    # -- commission refund claims --------------------------------------------
    def line_item(self, line_item_id):
        """(order, line item) of a line item id; KeyError if no order has it."""
        for order in self.store.orders.values():
            for line in order["lineItems"]:
                if line["id"] == line_item_id:
                    return order, line
        raise KeyError(line_item_id)

    def claim_of(self, line_item_id):
        return next((c for c in self.claims.values() if c["lineItem"]["id"] == line_item_id), None)

    def window_closed(self, line):
        return parse_iso(line["boughtAt"]) < utcnow() - timedelta(days=self.claim_window_days)

    def add_claim(self, line_item_id, quantity, kind="MANUAL"):
        order, line = self.line_item(line_item_id)
        commission = Decimal(line["price"]["amount"]) * quantity * COMMISSION_RATE
        claim = {
            "id": new_uuid(self.store.rng), "status": "IN_PROGRESS", "quantity": quantity,
            "commission": {"amount": float(money(commission)), "currency": line["price"]["currency"]},
            "buyer": {"id": order["buyer"]["id"]}, "createdAt": iso(utcnow()),
            "lineItem": {"id": line["id"], "quantity": line["quantity"], "boughtAt": line["boughtAt"],
                         "offer": {"id": line["offer"]["id"]}},
            "type": kind,
        }
        self.claims[claim["id"]] = claim
        return claim
