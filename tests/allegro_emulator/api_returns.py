"""REST endpoints of customer returns (beta), payment refunds and commission refund claims.

Handlers run with the emulator's lock held and return a Reply or raise
ApiError. The state lives in ``returns.ReturnsDesk`` (``emu.store.returns``).
"""

from decimal import Decimal, InvalidOperation

from .api_orders import _norm_time
from .common import is_uuid, money
from .returns import CLAIM_STATUSES, REFUND_REASONS, REJECTION_CODES, UNREJECTABLE_STATUSES
from .routing import API, ApiError, Reply

JSON_BETA = "application/vnd.allegro.beta.v1+json"
RETURNS = "/order/customer-returns"
# Filters of GET /order/customer-returns: query parameter -> the values of a return it matches.
RETURN_FILTERS = {
    "customerReturnId": lambda r: [r["id"]],
    "orderId": lambda r: [r["orderId"]],
    "buyer.email": lambda r: [r["buyer"]["email"]],
    "buyer.login": lambda r: [r["buyer"]["login"]],
    "items.offerId": lambda r: [i["offerId"] for i in r["items"]],
    "items.name": lambda r: [i["name"] for i in r["items"]],
    "parcels.waybill": lambda r: [p["waybill"] for p in r["parcels"]],
    "parcels.transportingWaybill": lambda r: [p["transportingWaybill"] for p in r["parcels"]],
    "parcels.carrierId": lambda r: [p["carrierId"] for p in r["parcels"]],
    "parcels.transportingCarrierId": lambda r: [p["transportingCarrierId"] for p in r["parcels"]],
    "parcels.sender.phoneNumber": lambda r: [p["sender"]["phoneNumber"] for p in r["parcels"]],
    "referenceNumber": lambda r: [r["referenceNumber"]],
    "marketplaceId": lambda r: [r["marketplaceId"]],
    "status": lambda r: [r["status"]],
}
REFUND_LIST_STATUSES = {  # the filter's enum differs from the refunds' own statuses
    "WAITING": ("NEW", "VALIDATED"), "IN_PROGRESS": ("IN_PROGRESS",), "SUCCESS": ("SUCCESS",),
    "CANCELED": ("CANCELED", "VALIDATE_FAILED"), "PARTIAL": ("PARTIAL",),
}


def _desk(emu):
    return emu.store.returns


def _values(req, name):
    """A "one or more" filter: repeated and comma separated values."""
    return {v for value in req.args(name) for v in value.split(",") if v}


def _time_bound(req, name):
    bound = req.arg(name)
    if bound is None:
        return None
    try:
        return _norm_time(bound)
    except ValueError:
        raise ApiError(400, "Invalid date-time %s" % bound, path=name) from None


# -- customer returns ------------------------------------------------------------
@API.route("GET", RETURNS, produces=JSON_BETA, consumes=JSON_BETA, error_media=JSON_BETA)
def customer_returns(emu, req):
    limit = req.int_arg("limit", 100, 1, 1000, status=400)
    offset = req.int_arg("offset", 0, 0, None, status=400)
    returns = list(_desk(emu).returns.values())
    after = req.arg("from")
    if after:
        ids = [r["id"] for r in returns]
        if after not in ids:
            raise ApiError(400, "Customer return %s given in 'from' not found" % after, path="from")
        returns = returns[ids.index(after) + 1:]
    equal = {name: _values(req, name) for name in RETURN_FILTERS if req.args(name)}
    gte, lte = _time_bound(req, "createdAt.gte"), _time_bound(req, "createdAt.lte")
    found = [r for r in returns
             if all(set(RETURN_FILTERS[name](r)) & values for name, values in equal.items())
             and (gte is None or r["createdAt"] >= gte) and (lte is None or r["createdAt"] <= lte)]
    page = found[offset:offset + limit]
    return Reply(200, {"count": len(page), "customerReturns": page}, media=JSON_BETA)


def _return(emu, return_id):
    try:
        return _desk(emu).customer_return(return_id)
    except KeyError:
        raise ApiError(404, "Customer return %s not found" % return_id, path="customerReturnId",
                       polish="Nie znaleziono zwrotu %s" % return_id) from None


@API.route("GET", RETURNS + "/{customerReturnId}", produces=JSON_BETA, consumes=JSON_BETA, error_media=JSON_BETA)
def customer_return(emu, req, customerReturnId):
    return Reply(200, _return(emu, customerReturnId), media=JSON_BETA)


@API.route("POST", RETURNS + "/{customerReturnId}/rejection", produces=JSON_BETA, consumes=JSON_BETA,
           error_media=JSON_BETA)
def reject_customer_return(emu, req, customerReturnId):
    rejection = req.json_object().get("rejection")
    if not isinstance(rejection, dict) or rejection.get("code") not in REJECTION_CODES:
        raise ApiError(400, "rejection.code must be one of %s" % ", ".join(REJECTION_CODES), path="rejection.code")
    reason = rejection.get("reason")
    if reason is not None and (not isinstance(reason, str) or not 1 <= len(reason) <= 250):
        raise ApiError(400, "rejection.reason must have 1 to 250 characters", path="rejection.reason")
    if rejection["code"] == "REFUND_REJECTED" and not reason:
        raise ApiError(400, "rejection.reason is required for code REFUND_REJECTED", path="rejection.reason")
    customer_return = _return(emu, customerReturnId)
    if customer_return["status"] in UNREJECTABLE_STATUSES:
        raise ApiError(422, "Customer return %s cannot be rejected in status %s"
                       % (customerReturnId, customer_return["status"]), code="CUSTOMER_RETURN_REJECTION_NOT_ALLOWED",
                       path="customerReturnId",
                       polish="Nie można odrzucić zwrotu %s w statusie %s" % (customerReturnId,
                                                                               customer_return["status"]))
    _desk(emu).reject(customer_return, rejection["code"], reason)
    return Reply(200, customer_return, media=JSON_BETA)


# -- payment refunds ------------------------------------------------------------------
def _amount(value, path, currency):
    """A Price's amount as a Decimal > 0, in the order's currency."""
    try:
        amount = Decimal(value["amount"])
    except (TypeError, KeyError, InvalidOperation):
        raise ApiError(422, "%s must be a price" % path, path=path) from None
    if amount <= 0 or value.get("currency") != currency:
        raise ApiError(422, "%s must be a positive amount in %s" % (path, currency), path=path)
    return amount


def _exceeded(path, available):
    return ApiError(422, "Quantity exceeded, available: %s" % available, code="REFUND_AMOUNT_EXCEEDED", path=path,
                    polish="Ilość przekroczona, dostępna: %s" % available)


def _refund_total(desk, order, body):
    """The refund's total; refuses lines not in the order and more than the buyer paid."""
    currency = order["summary"]["totalToPay"]["currency"]
    quantities, amounts, delivery_refunded, total_refunded = desk.refunded(order["id"])
    lines = {li["id"]: li for li in order["lineItems"]}
    total = Decimal(0)
    for index, line in enumerate(body.get("lineItems") or []):
        path = "lineItems[%d]" % index
        item = lines.get((line or {}).get("id"))
        if item is None:
            raise ApiError(422, "Line item %s not found in order %s" % ((line or {}).get("id"), order["id"]),
                           path=path + ".id")
        unit = Decimal(item["price"]["amount"])
        if line.get("type") == "QUANTITY":
            quantity = line.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, (int, float)) or quantity <= 0 \
                    or quantity != int(quantity):
                raise ApiError(422, "%s.quantity must be a positive whole number" % path, path=path + ".quantity")
            # After a refund by amount, Allegro refuses any by quantity ("available: 0").
            available = 0 if item["id"] in amounts else item["quantity"] - quantities.get(item["id"], 0)
            if quantity > available:
                raise _exceeded(path + ".quantity", max(available, 0))
            total += unit * int(quantity)
        elif line.get("type") == "AMOUNT":
            amount = _amount(line.get("value"), path + ".value", currency)
            available = unit * item["quantity"] - amounts.get(item["id"], 0) - unit * quantities.get(item["id"], 0)
            if amount > available:
                raise _exceeded(path + ".value", money(max(available, 0)))
            total += amount
        else:
            raise ApiError(422, "%s.type must be AMOUNT or QUANTITY" % path, path=path + ".type")
    if body.get("delivery"):
        amount = _amount((body["delivery"] or {}).get("value"), "delivery.value", currency)
        available = Decimal(order.get("delivery", {}).get("cost", {}).get("amount", "0")) - delivery_refunded
        if amount > available:
            raise _exceeded("delivery.value", money(max(available, 0)))
        total += amount
    for key in ("overpaid", "additionalServices"):
        if body.get(key):
            total += _amount((body[key] or {}).get("value"), key + ".value", currency)
    for index, surcharge in enumerate(body.get("surcharges") or []):
        total += _amount((surcharge or {}).get("value"), "surcharges[%d].value" % index, currency)
    if total <= 0:
        raise ApiError(422, "Nothing to refund: give lineItems, delivery, overpaid, surcharges or additionalServices")
    paid = Decimal((order.get("payment") or {}).get("paidAmount", {}).get("amount", "0"))
    if total_refunded + total > paid:
        raise ApiError(422, "The refund amount exceeds the paid amount, available: %s" % money(paid - total_refunded),
                       code="REFUND_AMOUNT_EXCEEDED", path="totalValue",
                       polish="Kwota zwrotu przekracza kwotę wpłaty, dostępna: %s" % money(paid - total_refunded))
    return total, currency


@API.route("POST", "/payments/refunds")
def create_refund(emu, req):
    body = req.json_object()
    command_id = body.get("commandId")
    if not isinstance(command_id, str) or not command_id:
        raise ApiError(400, "commandId is required", path="commandId")
    if body.get("reason") not in REFUND_REASONS:
        raise ApiError(400, "reason must be one of %s" % ", ".join(REFUND_REASONS), path="reason")
    desk = _desk(emu)
    if command_id in desk.refund_commands:  # the idempotency key: the same command gives the same refund
        return Reply(200, desk.refunds[desk.refund_commands[command_id]])
    order_id = (body.get("order") or {}).get("id") if isinstance(body.get("order"), dict) else None
    payment_id = (body.get("payment") or {}).get("id") if isinstance(body.get("payment"), dict) else None
    order = emu.store.orders.get(order_id)
    if order is None or not payment_id or (order.get("payment") or {}).get("id") != payment_id:
        raise ApiError(404, "Payment not found", code="NOT_FOUND", path="payment.id",
                       polish="Nie znaleziono płatności")
    total, currency = _refund_total(desk, order, body)
    return Reply(200, desk.add_refund(command_id, body, total, currency))


@API.route("GET", "/payments/refunds")
def refunds(emu, req):
    limit = req.int_arg("limit", 50, 1, 100)
    offset = req.int_arg("offset", 0, 0, None)
    for name in ("id", "payment.id", "order.id"):
        if req.arg(name) is not None and not is_uuid(req.arg(name)):
            raise ApiError(422, "Parameter %s must be a UUID" % name, path=name)
    statuses = set()
    for status in req.args("status"):
        if status not in REFUND_LIST_STATUSES:
            raise ApiError(422, "Unknown refund status %s" % status, path="status")
        statuses.update(REFUND_LIST_STATUSES[status])
    gte, lte = _time_bound(req, "occurredAt.gte"), _time_bound(req, "occurredAt.lte")
    found = [r for r in _desk(emu).refunds.values()
             if req.arg("id") in (None, r["id"]) and req.arg("payment.id") in (None, r["payment"]["id"])
             and req.arg("order.id") in (None, r["order"]["id"]) and (not statuses or r["status"] in statuses)
             and (gte is None or r["createdAt"] >= gte) and (lte is None or r["createdAt"] <= lte)]
    page = found[offset:offset + limit]
    return Reply(200, {"refunds": page, "count": len(page), "totalCount": len(found)})


# -- commission refund claims ------------------------------------------------------------
@API.route("POST", "/order/refund-claims")
def create_refund_claim(emu, req):
    body = req.json_object()
    line_item_id = (body.get("lineItem") or {}).get("id") if isinstance(body.get("lineItem"), dict) else None
    quantity = body.get("quantity")
    if not isinstance(line_item_id, str) or not line_item_id:
        raise ApiError(400, "lineItem.id is required", path="lineItem.id")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ApiError(400, "quantity must be at least 1", path="quantity")
    desk = _desk(emu)
    try:
        _order, line = desk.line_item(line_item_id)
    except KeyError:
        raise ApiError(422, "Line item %s not found" % line_item_id, path="lineItem.id") from None
    if desk.claim_of(line_item_id) is not None:
        raise ApiError(422, "A refund application for line item %s already exists" % line_item_id,
                       code="ClaimExistsException", path="lineItem.id",
                       polish="Wniosek o zwrot prowizji dla tej pozycji już istnieje")
    if quantity > line["quantity"]:
        raise ApiError(422, "quantity exceeds the %d bought" % line["quantity"], path="quantity")
    if desk.window_closed(line):
        raise ApiError(422, "The time to apply for a commission refund has passed (%d days from the purchase)"
                       % desk.claim_window_days, code="ClaimTimeExceededException", path="lineItem.id",
                       polish="Minął czas na złożenie wniosku o zwrot prowizji")
    return Reply(201, {"id": desk.add_claim(line_item_id, quantity)["id"]})


@API.route("GET", "/order/refund-claims")
def refund_claims(emu, req):
    limit = req.int_arg("limit", 25, 1, 100)
    offset = req.int_arg("offset", 0, 0, None)
    status = req.arg("status")
    if status is not None and status not in CLAIM_STATUSES:
        raise ApiError(422, "Unknown refund application status %s" % status, path="status")
    found = [c for c in _desk(emu).claims.values()
             if req.arg("lineItem.offer.id") in (None, c["lineItem"]["offer"]["id"])
             and req.arg("buyer.id") in (None, c["buyer"]["id"]) and status in (None, c["status"])]
    page = found[offset:offset + limit]
    return Reply(200, {"refundClaims": page, "count": len(page)})


def _claim(emu, claim_id):
    try:
        return _desk(emu).claims[claim_id]
    except KeyError:
        raise ApiError(404, "Refund application %s not found" % claim_id, path="claimId") from None


@API.route("GET", "/order/refund-claims/{claimId}")
def refund_claim(emu, req, claimId):
    return Reply(200, _claim(emu, claimId))


@API.route("DELETE", "/order/refund-claims/{claimId}")
def cancel_refund_claim(emu, req, claimId):
    claim = _claim(emu, claimId)
    if claim["status"] != "IN_PROGRESS":
        raise ApiError(422, "Refund application %s is %s: it can no longer be cancelled" % (claimId, claim["status"]),
                       path="claimId")
    claim["status"] = "CANCELLED"
    return Reply(204)
