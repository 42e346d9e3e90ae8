"""REST endpoints of order management: journal, checkout forms, fulfillment, waybills, invoices.

Handlers run with the emulator's lock held (see server.py) and return a Reply
or raise ApiError; statuses and bodies follow the OpenAPI spec.
"""

import json

from . import catalogue
from .common import is_uuid, iso, new_uuid, parse_iso, utcnow
from .routing import API, ApiError, Reply
from .state import FULFILLMENT_STATUSES

MAX_INVOICE_BYTES = 3 * 1024 * 1024
# Equality filters of GET /order/checkout-forms: query parameter = dotted path in the order.
ORDER_FILTERS = ("status", "fulfillment.status", "fulfillment.provider.id", "fulfillment.shipmentSummary.lineItemsSent",
                 "marketplace.id", "buyer.login", "payment.id", "delivery.method.id")
SORTS = ("lineItems.boughtAt", "-lineItems.boughtAt", "updatedAt", "-updatedAt")


def _dig(data, dotted):
    for key in dotted.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _norm_time(text):
    """A comparable UTC timestamp string; our own (Allegro style) strings pass unchanged."""
    if len(text) == 24 and text.endswith("Z"):
        return text
    return iso(parse_iso(text))


def _bought_at(order):
    return max((_norm_time(li["boughtAt"]) for li in order["lineItems"] if li.get("boughtAt")), default="")


TIME_KEYS = {"lineItems.boughtAt": _bought_at, "updatedAt": lambda o: _norm_time(o.get("updatedAt") or "")}


def get_order(emu, order_id):
    try:
        return emu.store.order(order_id)
    except KeyError:
        raise ApiError(404, "Order %s not found" % order_id, path="id",
                       polish="Nie znaleziono zamówienia %s" % order_id) from None


# -- journal ---------------------------------------------------------------
@API.route("GET", "/order/event-stats")
def event_stats(emu, req):
    store = emu.store
    if store.events:
        latest = {"id": store.events[-1]["id"], "occurredAt": store.events[-1]["occurredAt"]}
    else:  # an empty journal: "0" works as a `from` cursor for "everything after"
        latest = {"id": "0", "occurredAt": iso(store.created_at)}
    return Reply(200, {"latestEvent": latest})


@API.route("GET", "/order/events")
def events(emu, req):
    limit = req.int_arg("limit", 100, 1, 1000)
    after = req.arg("from")
    if after is not None:
        if not after.isdigit():
            raise ApiError(422, "Parameter from must be an event id", path="from")
        after = int(after)
    types = {t for value in req.args("type") for t in value.split(",") if t}
    page = emu.store.events_after(after, types, limit)
    if emu.shuffle_events:
        page = list(page)
        emu.rng.shuffle(page)
    if emu.duplicate_events:
        page = [event for event in page for _ in (0, 1)]
    return Reply(200, {"events": page})


# -- checkout forms --------------------------------------------------------
@API.route("GET", "/order/checkout-forms")
def checkout_forms(emu, req):
    offset = req.int_arg("offset", 0, 0, None)
    limit = req.int_arg("limit", 100, 1, 100)
    sort = req.arg("sort", "-lineItems.boughtAt")
    if sort not in SORTS:
        raise ApiError(400, "Unsupported sort %s" % sort, path="sort")
    equal = {name: set(req.args(name)) for name in ORDER_FILTERS if req.args(name)}
    ranges = []
    for field, key in TIME_KEYS.items():
        for suffix, keep in ((".gte", lambda v, b: v >= b), (".lte", lambda v, b: v <= b)):
            bound = req.arg(field + suffix)
            if bound is not None:
                try:
                    ranges.append((key, keep, _norm_time(bound)))
                except ValueError:
                    raise ApiError(400, "Invalid date-time %s" % bound, path=field + suffix) from None
    listed = [emu.lagging_listing.get(order["id"], order) for order in emu.store.orders.values()]
    found = [order for order in listed
             if all(_dig(order, name) in values for name, values in equal.items())
             and all(keep(key(order), bound) for key, keep, bound in ranges)]
    found.sort(key=TIME_KEYS[sort.lstrip("-")], reverse=sort.startswith("-"))
    page = found[offset:offset + limit]
    if emu.listing_changes:
        page = json.loads(json.dumps(page))  # served as it is now, whatever the change does
        for pending in list(emu.listing_changes):
            pending[0] -= 1
            if pending[0] <= 0:
                emu.listing_changes.remove(pending)
                pending[1]()
    return Reply(200, {"checkoutForms": page, "count": len(page), "totalCount": len(found)})


@API.route("GET", "/order/checkout-forms/{id}")
def checkout_form(emu, req, id):
    if not is_uuid(id):
        raise ApiError(422, "Checkout form id %s is not a valid UUID" % id, path="id")
    return Reply(200, get_order(emu, id))


@API.route("PUT", "/order/checkout-forms/{id}/fulfillment")
def set_fulfillment(emu, req, id):
    order = get_order(emu, id)
    status = req.json_object().get("status")
    if status not in FULFILLMENT_STATUSES:
        raise ApiError(422, "Unrecognized fulfillment status %s" % status, path="status")
    if status == "RETURNED":
        raise ApiError(422, "Status RETURNED cannot be set by the seller", path="status")
    revision = req.arg("checkoutForm.revision")
    if revision is not None and revision != order["revision"]:
        raise ApiError(409, "Provided revision %s is outdated, the current one is %s" % (revision, order["revision"]),
                       code="OUTDATED_REVISION", path="checkoutForm.revision")
    # shipmentSummary in the body is ignored: Allegro derives it from the waybills.
    if (order.get("fulfillment") or {}).get("status") != status:
        emu.store.set_fulfillment(id, status)
    return Reply(204)


# -- waybills --------------------------------------------------------------
@API.route("GET", "/order/carriers")
def carriers(emu, req):
    items = [{"id": cid, "name": name} if name else {"id": cid} for cid, name in catalogue.CARRIERS]
    return Reply(200, {"carriers": items}, headers={"Cache-Control": "public, max-age=86400"})


@API.route("GET", "/order/checkout-forms/{id}/shipments")
def shipments(emu, req, id):
    get_order(emu, id)
    return Reply(200, {"shipments": emu.store.shipments.get(id, [])})


@API.route("POST", "/order/checkout-forms/{id}/shipments")
def add_shipment(emu, req, id):
    order = get_order(emu, id)
    body = req.json_object()
    carrier, waybill, name = body.get("carrierId"), body.get("waybill"), body.get("carrierName")
    if carrier not in catalogue.CARRIER_NAMES:
        raise ApiError(400, "Unknown carrier id %s" % carrier, path="carrierId",
                       polish="Nieznany identyfikator przewoźnika %s" % carrier)
    if not isinstance(waybill, str) or not waybill.strip() or len(waybill) > 64:
        raise ApiError(400, "Tracking number must have 1 to 64 characters", path="waybill",
                       polish="Numer przesyłki musi mieć od 1 do 64 znaków")
    if carrier == "OTHER" and (not isinstance(name, str) or not name.strip() or len(name) > 30):
        raise ApiError(400, "carrierName (1 to 30 characters) is required for carrier OTHER", path="carrierName",
                       polish="Dla przewoźnika OTHER podaj carrierName (od 1 do 30 znaków)")
    if waybill in emu.store.shipping.waybills_of(id):
        # Ship with Allegro attached this waybill to the order itself: added again, it would show twice.
        raise ApiError(409, "Maximum waybill usage exceeded: waybill %s is already attached to the order" % waybill,
                       path="waybill", polish="Przekroczono limit użycia numeru przesyłki: %s jest już przypisany "
                                              "do zamówienia" % waybill)
    known = [li["id"] for li in order["lineItems"]]
    wanted = [(item or {}).get("id") for item in body.get("lineItems") or []] or known  # empty = all
    unknown = [li for li in wanted if li not in known]
    if unknown:
        raise ApiError(422, "Line item %s does not belong to order %s" % (unknown[0], id), path="lineItems")
    shipment = {"id": new_uuid(emu.rng), "waybill": waybill, "carrierId": carrier,
                "carrierName": name if carrier == "OTHER" else catalogue.CARRIER_NAMES[carrier],
                "lineItems": [{"id": li} for li in wanted], "createdAt": iso(utcnow())}
    emu.store.add_shipment(order, shipment)
    if emu.auto_sent_on_waybill and order["fulfillment"].get("status") != "SENT":
        emu.store.set_fulfillment(id, "SENT")
    return Reply(201, shipment)


# -- invoices --------------------------------------------------------------
@API.route("GET", "/order/checkout-forms/{id}/invoices")
def invoices(emu, req, id):
    get_order(emu, id)
    return Reply(200, {"orderMode": "REGULAR", "invoices": emu.store.invoices.get(id, []), "links": [],
                       "hasExternalInvoices": False})


@API.route("POST", "/order/checkout-forms/{id}/invoices")
def add_invoice(emu, req, id):
    get_order(emu, id)
    body = req.json_object()
    name = (body.get("file") or {}).get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(422, "file.name is required", path="file.name")
    existing = emu.store.invoices.setdefault(id, [])
    if any("uploadedAt" in inv["file"] for inv in existing):
        raise ApiError(409, "Order %s already has a seller invoice" % id)
    if existing:
        raise ApiError(429, "Upload a file to the previously added invoice metadata before adding another one")
    invoice = {"id": new_uuid(emu.rng), "createdAt": iso(utcnow()), "file": {"name": name}}
    if body.get("invoiceNumber"):
        invoice["invoiceNumber"] = body["invoiceNumber"]
    existing.append(invoice)
    return Reply(201, {"id": invoice["id"]})


@API.route("PUT", "/order/checkout-forms/{id}/invoices/{invoiceId}/file", consumes="application/pdf", produces=None)
def upload_invoice(emu, req, id, invoiceId):
    get_order(emu, id)
    invoice = next((inv for inv in emu.store.invoices.get(id, []) if inv["id"] == invoiceId), None)
    if invoice is None:
        raise ApiError(404, "Invoice %s not found in order %s" % (invoiceId, id), path="invoiceId")
    if len(req.body) > MAX_INVOICE_BYTES:
        raise ApiError(413, "The file is too large. Max file size is 3MB")
    if not req.body:
        raise ApiError(422, "Uploaded file is empty")
    if "uploadedAt" in invoice["file"]:
        raise ApiError(409, "Invoice %s already has a file uploaded" % invoiceId)
    now = iso(utcnow())
    # Allegro scans the file; here anything that is not a PDF gets rejected.
    verdict = "ACCEPTED" if req.body.startswith(b"%PDF") else "REJECTED"
    invoice["file"].update(uploadedAt=now, securityVerification={"status": verdict, "verifiedAt": now})
    emu.store.invoice_files[invoiceId] = req.body
    return Reply(200)
