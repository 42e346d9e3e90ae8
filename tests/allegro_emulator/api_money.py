"""REST endpoints of the seller's money: /billing (fees) and /payments/payment-operations (wallets).

Both lists come newest first (ties: the last added first), as Allegro's; the
state lives in ``money.MoneyLedger`` (``emu.store.money``).
"""

import json

from . import catalogue
from .common import is_uuid, parse_iso
from .money import BILLING_TYPES
from .routing import API, ApiError, Reply

MAX_OFFSET = 10000
MAX_FOUND_OPERATIONS = 10000  # a search finding more is refused: the reader narrows occurredAt
WALLET_TYPES = ("AVAILABLE", "WAITING")
PAYMENT_OPERATORS = ("PAYU", "P24", "AF", "AF_P24", "AF_PAYU")
GROUPS = ("INCOME", "OUTCOME", "REFUND", "BLOCKADES")


def _polish(req):
    return (req.headers.get("Accept-Language") or "").lower().startswith("pl")


def _time_range(req):
    """(gte, lte) as datetimes (None when absent); 422 when unreadable or reversed."""
    bounds = []
    for name in ("occurredAt.gte", "occurredAt.lte"):
        raw = req.arg(name)
        try:
            bounds.append(parse_iso(raw) if raw else None)
        except ValueError:
            raise ApiError(422, "Parameter %s must be an ISO 8601 date-time" % name, path=name) from None
    if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
        raise ApiError(422, "occurredAt.gte cannot be later than occurredAt.lte", path="occurredAt.gte")
    return bounds


def _within(moment, gte, lte):
    return (gte is None or moment >= gte) and (lte is None or moment <= lte)


def _after_page(emu, page):
    """The page as it is now; then the changes due after this page (entries arriving while a reader pages)."""
    changes = emu.store.money.listing_changes
    if changes:
        page = json.loads(json.dumps(page))
        for pending in list(changes):
            pending[0] -= 1
            if pending[0] <= 0:
                changes.remove(pending)
                pending[1]()
    return page


def _newest_first(timeline):
    """(item, occurredAt as a datetime) pairs, newest first."""
    return zip(reversed(timeline.items), (key[0] for key in reversed(timeline.keys)))


@API.route("GET", "/billing/billing-types")
def billing_types(emu, req):
    polish = _polish(req)
    return Reply(200, [{"id": type_id, "description": names[1] if polish else names[0]}
                       for type_id, names in BILLING_TYPES.items()])


@API.route("GET", "/billing/billing-entries")
def billing_entries(emu, req):
    limit = req.int_arg("limit", 100, 1, 100)
    offset = req.int_arg("offset", 0, 0, MAX_OFFSET)
    gte, lte = _time_range(req)
    marketplace = req.arg("marketplaceId") or catalogue.BASE_MARKETPLACE
    if marketplace not in catalogue.MARKETPLACES:
        raise ApiError(422, "Unknown marketplace %s" % marketplace, path="marketplaceId")
    order_id = req.arg("order.id")
    if order_id and not is_uuid(order_id):
        raise ApiError(422, "Parameter order.id must be a UUID", path="order.id")
    types = {t for value in req.args("type.id") for t in value.split(",") if t}
    offer_id = req.arg("offer.id")
    polish = _polish(req)
    found = []
    for entry, moment in _newest_first(emu.store.money.entries):
        if entry["_marketplace"] != marketplace or not _within(moment, gte, lte) \
                or (types and entry["type"]["id"] not in types) \
                or (offer_id and (entry.get("offer") or {}).get("id") != offer_id) \
                or (order_id and (entry.get("order") or {}).get("id") != order_id):
            continue
        found.append(entry)
        if len(found) >= offset + limit:
            break
    page = []
    for entry in found[offset:offset + limit]:
        shown = {key: value for key, value in entry.items() if not key.startswith("_")}
        shown["type"] = dict(entry["type"], name=entry["_names"][1 if polish else 0])
        page.append(shown)
    return Reply(200, {"billingEntries": _after_page(emu, page)})


@API.route("GET", "/payments/payment-operations")
def payment_operations(emu, req):
    limit = req.int_arg("limit", 50, 1, 50)
    offset = req.int_arg("offset", 0, 0, MAX_OFFSET)
    gte, lte = _time_range(req)
    wallet_type = req.arg("wallet.type", "AVAILABLE")
    if wallet_type not in WALLET_TYPES:
        raise ApiError(422, "wallet.type must be one of %s" % "|".join(WALLET_TYPES), path="wallet.type")
    operator = req.arg("wallet.paymentOperator")
    if operator and operator not in PAYMENT_OPERATORS:
        raise ApiError(422, "wallet.paymentOperator must be one of %s" % "|".join(PAYMENT_OPERATORS),
                       path="wallet.paymentOperator")
    groups = set(req.args("group"))
    if groups - set(GROUPS):
        raise ApiError(422, "group must be one of %s" % "|".join(GROUPS), path="group")
    # The spec's enum lists allegro-pl and allegro-cz only; the other marketplaces are taken too.
    marketplace = req.arg("marketplaceId")
    if marketplace and marketplace not in catalogue.MARKETPLACES:
        raise ApiError(422, "Unknown marketplace %s" % marketplace, path="marketplaceId")
    payment_id = req.arg("payment.id")
    if payment_id and not is_uuid(payment_id):
        raise ApiError(422, "Parameter payment.id must be a UUID", path="payment.id")
    currency, login = req.arg("currency"), req.arg("participant.login")
    found = [
        operation for operation, moment in _newest_first(emu.store.money.operations)
        if operation["wallet"]["type"] == wallet_type
        and (not operator or operation["wallet"]["paymentOperator"] == operator)
        and (not groups or operation["group"] in groups)
        and (not marketplace or operation.get("marketplaceId") == marketplace)
        and (not currency or operation["value"]["currency"] == currency)
        and (not payment_id or (operation.get("payment") or {}).get("id") == payment_id)
        and (not login or (operation.get("participant") or {}).get("login") == login)
        and _within(moment, gte, lte)
    ]
    if len(found) > MAX_FOUND_OPERATIONS:
        raise ApiError(422, "The search result reached the limit of %d operations; narrow the occurredAt range"
                       % MAX_FOUND_OPERATIONS, code="LIMIT_EXCEEDED", path="occurredAt")
    page = _after_page(emu, found[offset:offset + limit])
    return Reply(200, {"paymentOperations": page, "count": len(page), "totalCount": len(found)})
