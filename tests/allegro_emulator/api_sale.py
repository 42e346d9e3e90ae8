"""REST endpoints of the account and offers: /me, /marketplaces, /sale/offers, offer events, batch commands."""

from datetime import timedelta
from decimal import Decimal

from . import catalogue
from .common import iso
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


def offer_listing(book, offer, index, started_at):
    """An offer -> OfferListingDto as GET /sale/offers shows it."""
    additional = [mp for mp in catalogue.MARKETPLACES if mp != catalogue.BASE_MARKETPLACE]
    publication = dict(offer["publication"], startedAt=started_at, marketplaces={
        "base": {"id": catalogue.BASE_MARKETPLACE}, "additional": [{"id": mp} for mp in additional]})
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
        "additionalMarketplaces": {
            mp: {"publication": {"state": "APPROVED"}, "sellingMode": {"price": book.price_on(offer, mp)}}
            for mp in additional},
    }


@API.route("GET", "/sale/offers")
def offers(emu, req):
    # The spec declares 400 (not 422) for invalid query parameters here.
    limit = req.int_arg("limit", 20, 1, 1000, status=400)
    offset = req.int_arg("offset", 0, 0, 9_999_999, status=400)
    ids, skus, statuses = set(req.args("offer.id")), set(req.args("external.id")), set(req.args("publication.status"))
    name = (req.arg("name") or "").lower()
    book = emu.store.book
    book.process()
    found = [(index, o) for index, o in enumerate(book.offers)
             if (not ids or o["id"] in ids) and (not skus or o["external"]["id"] in skus)
             and (not statuses or o["publication"]["status"] in statuses) and name in o["name"].lower()]
    started_at = iso(emu.store.created_at - timedelta(days=30))
    page = [offer_listing(book, o, index, started_at) for index, o in found[offset:offset + limit]]
    return Reply(200, {"offers": page, "count": len(page), "totalCount": len(found)})


OFFER_EVENT_TYPES = ("OFFER_ACTIVATED", "OFFER_CHANGED", "OFFER_ENDED", "OFFER_STOCK_CHANGED", "OFFER_PRICE_CHANGED",
                     "OFFER_ARCHIVED", "OFFER_BID_PLACED", "OFFER_BID_CANCELED", "OFFER_TRANSLATION_UPDATED",
                     "OFFER_VISIBILITY_CHANGED", "OFFER_DELIVERY_COUNTRIES_BLOCKED")


@API.route("GET", "/sale/offer-events")
def offer_events(emu, req):
    # The spec declares 400 with plain application/json for bad parameters here.
    try:
        limit = req.int_arg("limit", 100, 1, 1000, status=400)
        unknown = [t for t in req.args("type") if t not in OFFER_EVENT_TYPES]
        if unknown:
            raise ApiError(400, "Unknown event type %s" % ", ".join(unknown), path="type")
    except ApiError as error:
        reply = error.reply()
        reply.media = "application/json"
        return reply
    types = req.args("type")
    book = emu.store.book
    book.process()
    return Reply(200, {"offerEvents": book.events_after(req.arg("from"), types, limit)})


def _criteria(body):
    criteria = body.get("offerCriteria") or []
    if not criteria or any(not isinstance(c, dict) or c.get("type") != "CONTAINS_OFFERS" for c in criteria):
        raise ApiError(422, "offerCriteria must be CONTAINS_OFFERS criteria", path="offerCriteria")
    if any(len(c.get("offers") or []) > MAX_OFFERS_PER_COMMAND for c in criteria):
        raise ApiError(400, "A criterion can list up to %d offers" % MAX_OFFERS_PER_COMMAND, path="offerCriteria")


def _register(emu, kind, command_id, body, change):
    book = emu.store.book
    if (kind, command_id) in book.commands:
        raise ApiError(409, "Command id %s was already used" % command_id)
    return Reply(201, book.register(kind, command_id, body, change)["report"])


@API.route("PUT", "/sale/offer-quantity-change-commands/{commandId}")
def quantity_command(emu, req, commandId):
    body = req.json_object()
    modification = body.get("modification") or {}
    change, value = modification.get("changeType"), modification.get("value")
    if change not in ("FIXED", "GAIN") or not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(422, "modification needs changeType FIXED or GAIN and an integer value", path="modification")
    _criteria(body)
    return _register(emu, "quantity", commandId, body, emu.store.book.quantity_change(change, value))


@API.route("PUT", "/sale/offer-price-change-commands/{commandId}")
def price_command(emu, req, commandId):
    body = req.json_object()
    modification = body.get("modification") or {}
    price = modification.get("price") or {}
    marketplace = modification.get("marketplaceId") or catalogue.BASE_MARKETPLACE
    if modification.get("type") != "FIXED_PRICE":
        raise ApiError(422, "Only FIXED_PRICE modifications are played by the emulator", path="modification.type")
    try:
        amount = Decimal(str(price.get("amount")))
    except ArithmeticError:
        raise ApiError(422, "price.amount must be a decimal string", path="modification.price.amount") from None
    if not amount.is_finite() or amount <= 0 or not price.get("currency"):
        raise ApiError(422, "price needs a positive amount and a currency", path="modification.price")
    _criteria(body)
    change = emu.store.book.price_change(str(amount), price["currency"], marketplace)
    return _register(emu, "price", commandId, body, change)


@API.route("PUT", "/sale/offer-publication-commands/{commandId}")
def publication_command(emu, req, commandId):
    body = req.json_object()
    action = (body.get("publication") or {}).get("action")
    if action not in ("ACTIVATE", "END"):
        raise ApiError(422, "publication.action must be ACTIVATE or END", path="publication.action")
    _criteria(body)
    return _register(emu, "publication", commandId, body, emu.store.book.publication_change(action))


def _command(emu, kind, command_id):
    book = emu.store.book
    book.process()
    try:
        return book.commands[(kind, command_id)]
    except KeyError:
        raise ApiError(404, "Command %s not found" % command_id) from None


def _tasks(emu, req, kind, command_id):
    limit = req.int_arg("limit", 100, 1, 1000)
    offset = req.int_arg("offset", 0, 0, 999)
    return Reply(200, {"tasks": _command(emu, kind, command_id)["tasks"][offset:offset + limit]})


for _kind, _collection in (("quantity", "offer-quantity-change-commands"), ("price", "offer-price-change-commands"),
                           ("publication", "offer-publication-commands")):
    def _routes(kind, collection):
        @API.route("GET", "/sale/%s/{commandId}" % collection)
        def report(emu, req, commandId):
            return Reply(200, _command(emu, kind, commandId)["report"])

        @API.route("GET", "/sale/%s/{commandId}/tasks" % collection)
        def tasks(emu, req, commandId):
            return _tasks(emu, req, kind, commandId)

    _routes(_kind, _collection)
