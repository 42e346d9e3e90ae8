"""REST endpoints of the account and offers: /me, /marketplaces, /sale/offers, stock change commands."""

from datetime import timedelta

from . import catalogue
from .common import iso, utcnow
from .routing import API, ApiError, Reply

SELLER_TAX_ID = "5261028431"  # a valid NIP
SHIPPING_RATES_ID = "2991e29e-5fbc-46f5-963a-65c326ba65c2"
MAX_OFFERS_PER_COMMAND = 1000


@API.route("GET", "/me")
def me(emu, req):
    return Reply(200, {
        "id": emu.seller_id, "login": emu.seller_login, "firstName": "Demo", "lastName": "Seller",
        "email": "%s@example.com" % emu.seller_login, "baseMarketplace": {"id": catalogue.BASE_MARKETPLACE},
        "company": {"name": "Demo Shop Sp. z o.o.", "taxId": SELLER_TAX_ID}, "features": [],
    })


@API.route("GET", "/marketplaces")
def marketplaces(emu, req):
    return Reply(200, catalogue.marketplaces_response())


def offer_listing(offer, index, started_at):
    """emu.offers entry -> OfferListingDto as GET /sale/offers shows it."""
    publication = dict(offer["publication"], startedAt=started_at, marketplaces={
        "base": {"id": catalogue.BASE_MARKETPLACE},
        "additional": [{"id": mp} for mp in catalogue.MARKETPLACES if mp != catalogue.BASE_MARKETPLACE]})
    return {
        "id": offer["id"], "name": offer["name"], "category": dict(offer["category"]),
        "sellingMode": {"format": "BUY_NOW", "price": dict(offer["price"])},
        "saleInfo": {"biddersCount": 0},
        "stock": dict(offer["stock"]),
        "stats": {"watchersCount": index * 3 % 17, "visitsCount": index * 41 % 300},
        "publication": publication,
        "external": dict(offer["external"]),
        "delivery": {"shippingRates": {"id": SHIPPING_RATES_ID}},
        "b2b": {"buyableOnlyByBusiness": False},
        "isFulfillment": False,
    }


@API.route("GET", "/sale/offers")
def offers(emu, req):
    # The spec declares 400 (not 422) for invalid query parameters here.
    limit = req.int_arg("limit", 20, 1, 1000, status=400)
    offset = req.int_arg("offset", 0, 0, 9_999_999, status=400)
    ids, skus, statuses = set(req.args("offer.id")), set(req.args("external.id")), set(req.args("publication.status"))
    name = (req.arg("name") or "").lower()
    found = [o for o in emu.offers
             if (not ids or o["id"] in ids) and (not skus or o["external"]["id"] in skus)
             and (not statuses or o["publication"]["status"] in statuses) and name in o["name"].lower()]
    started_at = iso(emu.store.created_at - timedelta(days=30))
    page = [offer_listing(o, emu.offers.index(o), started_at) for o in found[offset:offset + limit]]
    return Reply(200, {"offers": page, "count": len(page), "totalCount": len(found)})


def _apply_quantity(offer_id, offer, change, value, now):
    """One offer's stock change -> CommandTask."""
    task = {"offer": {"id": offer_id}, "field": "stock.available"}
    available = None if offer is None else (value if change == "FIXED" else offer["stock"]["available"] + value)
    if offer is None:
        message, code = "The offer does not exist.", "NotFoundException"
    elif available < 0:
        message, code = "Stock cannot be negative.", "VALIDATION_ERROR"
    else:
        offer["stock"]["available"] = available
        if available == 0 and offer["publication"]["status"] in ("ACTIVE", "ACTIVATING"):
            offer["publication"].update(status="ENDED", endedAt=now)  # no stock ends the offer
        return dict(task, status="SUCCESS", message="", errors=[])
    error = {"code": code, "message": message, "details": None, "path": "stock.available", "userMessage": message,
             "metadata": {}}
    return dict(task, status="FAIL", message=message, errors=[error])


@API.route("PUT", "/sale/offer-quantity-change-commands/{commandId}")
def quantity_command(emu, req, commandId):
    if commandId in emu.store.commands:
        raise ApiError(409, "Command id %s was already used" % commandId)
    body = req.json_object()
    modification = body.get("modification") or {}
    change, value = modification.get("changeType"), modification.get("value")
    if change not in ("FIXED", "GAIN") or not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(422, "modification needs changeType FIXED or GAIN and an integer value", path="modification")
    criteria = body.get("offerCriteria") or []
    if not criteria or any(not isinstance(c, dict) or c.get("type") != "CONTAINS_OFFERS" for c in criteria):
        raise ApiError(422, "offerCriteria must be CONTAINS_OFFERS criteria", path="offerCriteria")
    if any(len(c.get("offers") or []) > MAX_OFFERS_PER_COMMAND for c in criteria):
        raise ApiError(400, "A criterion can list up to %d offers" % MAX_OFFERS_PER_COMMAND, path="offerCriteria")
    by_id = {o["id"]: o for o in emu.offers}
    now = iso(utcnow())
    # Applied at once, so the command is complete when this returns (Allegro may take a while).
    ids = [str((ref or {}).get("id")) for criterion in criteria for ref in criterion.get("offers") or []]
    tasks = [_apply_quantity(offer_id, by_id.get(offer_id), change, value, now) for offer_id in ids]
    failed = sum(task["status"] == "FAIL" for task in tasks)
    report = {"id": commandId, "createdAt": now, "completedAt": now,
              "taskCount": {"total": len(tasks), "success": len(tasks) - failed, "failed": failed}}
    emu.store.commands[commandId] = {"report": report, "tasks": tasks}
    return Reply(201, report)


def _command(emu, command_id):
    try:
        return emu.store.commands[command_id]
    except KeyError:
        raise ApiError(404, "Command %s not found" % command_id) from None


@API.route("GET", "/sale/offer-quantity-change-commands/{commandId}")
def quantity_command_report(emu, req, commandId):
    return Reply(200, _command(emu, commandId)["report"])


@API.route("GET", "/sale/offer-quantity-change-commands/{commandId}/tasks")
def quantity_command_tasks(emu, req, commandId):
    limit = req.int_arg("limit", 100, 1, 1000)
    offset = req.int_arg("offset", 0, 0, 999)
    return Reply(200, {"tasks": _command(emu, commandId)["tasks"][offset:offset + limit]})
