"""REST endpoints of Ship with Allegro (/shipment-management): proposals, parcels, labels, protocols, pickups.

Handlers run with the emulator's lock held and return a Reply or raise
ApiError. The state lives in ``shipping.ShippingDesk`` (``emu.store.shipping``).
Errors carry a string ``details``: these operations declare Error400/Error404,
where it cannot be null.
"""

import re
from datetime import date

from . import catalogue
from .api_orders import get_order
from .common import new_uuid, utcnow
from .pdf import PAGE_SIZES, render
from .routing import API, ApiError, Reply

BASE = "/shipment-management"
OCTET_STREAM = "application/octet-stream"
PACKAGE_TYPES = ("DOX", "PACKAGE", "PALLET", "OTHER")
LABEL_FORMATS = ("PDF", "ZPL")
MAX_PICKUP_SHIPMENTS = 100
ADDRESS_FIELDS = ("street", "city", "postalCode", "countryCode", "email", "phone")
PROTOCOL_LINES_PER_PAGE = 40
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def invalid(message, path, polish=None):
    return ApiError(400, message, code="VALIDATION_ERROR", path=path, polish=polish or message, details="")


def not_found(what, path):
    return ApiError(404, "%s not found" % what, code="NOT_FOUND", path=path, details="",
                    polish="Nie znaleziono: %s" % what)


def _desk(emu):
    return emu.store.shipping


def _language(req):
    return (req.headers.get("Accept-Language") or "").lower()


def _check_address(address, path):
    if not isinstance(address, dict):
        raise invalid("%s is required" % path, path)
    for field in ADDRESS_FIELDS:
        if not isinstance(address.get(field), str) or not address[field].strip():
            raise invalid("%s.%s is required" % (path, field), "%s.%s" % (path, field))
    if not (address.get("name") or address.get("company")):
        raise invalid("%s: name or company is required" % path, "%s.name" % path)


def _check_value(value, path, unit):
    if not isinstance(value, dict) or isinstance(value.get("value"), bool) \
            or not isinstance(value.get("value"), (int, float)) or value.get("unit") != unit:
        raise invalid("%s must be a number in %s" % (path, unit), path)


def _check_create_input(body):
    if not isinstance(body, dict):
        raise invalid("input is required", "input")
    _check_address(body.get("sender"), "sender")
    _check_address(body.get("receiver"), "receiver")
    packages = body.get("packages")
    if not isinstance(packages, list) or not packages:
        raise invalid("packages must list at least one package", "packages")
    for index, package in enumerate(packages):
        path = "packages[%d]" % index
        if not isinstance(package, dict) or package.get("type") not in PACKAGE_TYPES:
            raise invalid("%s.type must be one of %s" % (path, "|".join(PACKAGE_TYPES)), path + ".type")
        for side in ("length", "width", "height"):
            _check_value(package.get(side), "%s.%s" % (path, side), "CENTIMETER")
        _check_value(package.get("weight"), path + ".weight", "KILOGRAMS")
    if body.get("labelFormat", "PDF") not in LABEL_FORMATS:
        raise invalid("labelFormat must be PDF or ZPL", "labelFormat")


def _command_id(emu, kind, body):
    """The command's id: the body's, or a new one; a reused id is refused as on Allegro."""
    command_id = body.get("commandId") or new_uuid(emu.rng)
    if not isinstance(command_id, str):
        raise invalid("commandId must be a string", "commandId")
    if command_id in _desk(emu).commands[kind]:
        raise ApiError(400, "An order with the submitted ID already exists in the system", code="COMMAND_EXISTS",
                       path=command_id, details="", polish="Zlecenie o podanym ID już istnieje w systemie")
    return command_id


def _accepted(emu, command_id, body):
    """The 200 answer of a new command: the command as sent, with when to ask for its status."""
    return Reply(200, {"commandId": command_id, "input": body},
                 headers={"Retry-After": str(_desk(emu).retry_after)})


def _status(emu, req, kind, command_id, result_keys):
    try:
        command = _desk(emu).read(kind, command_id)
    except KeyError:
        raise not_found("Command %s" % command_id, req.path) from None
    body = {"commandId": command_id, "status": command["status"]}
    body.update({key: command["result"][key] for key in result_keys if key in command["result"]})
    headers = {}
    if command["status"] == "IN_PROGRESS":
        headers["Retry-After"] = str(_desk(emu).retry_after)
    elif command["errors"]:
        polish = _language(req).startswith("pl")
        body["errors"] = [{"code": e["code"], "message": e["message"], "details": e["details"], "path": e["path"],
                           "userMessage": e["polish"] if polish else e["message"]} for e in command["errors"]]
    return Reply(200, body, headers=headers)


def _shipment_ids(body, maximum=None):
    ids = body.get("shipmentIds")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise invalid("shipmentIds must list at least one shipment id", "shipmentIds")
    if maximum and len(ids) > maximum:
        raise invalid("shipmentIds can list at most %d shipments" % maximum, "shipmentIds")
    return ids


def _known(emu, ids, status=404):
    unknown = [i for i in ids if i not in _desk(emu).shipments]
    if unknown:
        if status == 404:
            raise not_found("Shipment %s" % unknown[0], "shipmentIds")
        raise invalid("Shipment %s not found" % unknown[0], "shipmentIds")
    return [_desk(emu).shipments[i] for i in ids]


# -- delivery proposals and services ------------------------------------------------
@API.route("GET", BASE + "/delivery-proposals/{orderId}")
def delivery_proposals(emu, req, orderId):
    order = get_order(emu, orderId)
    if _desk(emu).service(order) is None:
        raise ApiError(400, "The order's delivery method cannot be shipped with Allegro",
                       code="UNSUPPORTED_DELIVERY_METHOD", path="orderId", details="",
                       polish="Metody dostawy tego zamówienia nie obsługuje Wysyłam z Allegro")
    return Reply(200, _desk(emu).proposal(order))


@API.route("GET", BASE + "/delivery-services")
def delivery_services(emu, req):
    """Deprecated on Allegro (to be removed in Q1 2027), still served."""
    return Reply(200, _desk(emu).services(catalogue.MARKETPLACES))


# -- parcels ---------------------------------------------------------------------------
@API.route("POST", BASE + "/shipments/create-commands")
def create_shipment(emu, req):
    body = req.json_object()
    _check_create_input(body.get("input"))
    command_id = _command_id(emu, "create", body)
    _desk(emu).register("create", command_id, body["input"])
    return _accepted(emu, command_id, body["input"])


@API.route("GET", BASE + "/shipments/create-commands/{commandId}")
def create_status(emu, req, commandId):
    return _status(emu, req, "create", commandId, ("shipmentId",))


@API.route("POST", BASE + "/shipments/cancel-commands")
def cancel_shipment(emu, req):
    body = req.json_object()
    shipment_id = (body.get("input") or {}).get("shipmentId") if isinstance(body.get("input"), dict) else None
    if not isinstance(shipment_id, str) or not shipment_id:
        raise invalid("input.shipmentId is required", "input.shipmentId")
    command_id = _command_id(emu, "cancel", body)
    _desk(emu).register("cancel", command_id, shipment_id)
    return _accepted(emu, command_id, body["input"])


@API.route("GET", BASE + "/shipments/cancel-commands/{commandId}")
def cancel_status(emu, req, commandId):
    return _status(emu, req, "cancel", commandId, ("shipmentId",))


@API.route("GET", BASE + "/shipments/{shipmentId}")
def shipment(emu, req, shipmentId):
    return Reply(200, _known(emu, [shipmentId])[0])


# -- labels and protocols -----------------------------------------------------------------
def _label_lines(shipment, package, number, count):
    receiver = shipment["receiver"]
    lines = [package["waybill"], "%s  %d/%d" % (shipment["carrier"], number, count),
             "To: %s" % (receiver.get("name") or receiver.get("company")), receiver["street"],
             "%s %s %s" % (receiver["postalCode"], receiver["city"], receiver["countryCode"])]
    if receiver.get("point"):
        lines.append("Point: %s" % receiver["point"])
    if shipment.get("referenceNumber"):
        lines.append("Ref: %s" % shipment["referenceNumber"])
    return lines


def _zpl(shipment, package):
    return "^XA^FO40,40^A0N,40,40^FD%s^FS^FO40,100^BCN,120^FD%s^FS^XZ\n" % (shipment["carrier"], package["waybill"])


@API.route("POST", BASE + "/label", produces=OCTET_STREAM)
def labels(emu, req):
    """One label per parcel, in the shipments' format; 204 when none of them has one (e.g. canceled)."""
    body = req.json_object()
    ids = _shipment_ids(body)
    page_size = body.get("pageSize", "A4")
    if page_size not in PAGE_SIZES:
        raise invalid("pageSize must be A4 or A6", "pageSize")
    shipments = [s for s in _known(emu, ids) if "canceledDate" not in s]
    if not shipments:
        return Reply(204)
    formats = {s["labelFormat"] for s in shipments}
    if len(formats) > 1:
        raise invalid("The shipments' labels have different formats (%s)" % ", ".join(sorted(formats)), "shipmentIds")
    parcels = [(s, p, n) for s in shipments for n, p in enumerate(s["packages"], start=1)]
    if formats == {"ZPL"}:
        return Reply(200, "".join(_zpl(s, p) for s, p, _n in parcels).encode("ascii"), media=OCTET_STREAM)
    pages = [_label_lines(s, p, n, len(s["packages"])) for s, p, n in parcels]
    return Reply(200, render(pages, page_size), media=OCTET_STREAM)


@API.route("POST", BASE + "/protocol", produces=OCTET_STREAM)
def protocol(emu, req):
    """The handover protocol of courier parcels; 204 when only parcel lockers (no protocol) are asked for."""
    desk = _desk(emu)
    shipments = [s for s in _known(emu, _shipment_ids(req.json_object()))
                 if desk.delivery_types[s["id"]] == "DOOR" and "canceledDate" not in s]
    if not shipments:
        return Reply(204)
    rows = ["%s  %s  %s" % (p["waybill"], s["carrier"], s["receiver"]["city"])
            for s in shipments for p in s["packages"]]
    header = ["Handover protocol %s" % utcnow().date().isoformat(),
              "Sender: %s" % (desk.sender.get("company") or desk.sender.get("name")), "Parcels: %d" % len(rows)]
    pages = [header + rows[start:start + PROTOCOL_LINES_PER_PAGE]
             for start in range(0, len(rows), PROTOCOL_LINES_PER_PAGE)]
    return Reply(200, render(pages, "A4"), media=OCTET_STREAM)


# -- pickups ----------------------------------------------------------------------------------
@API.route("POST", BASE + "/pickup-proposals")
def pickup_proposals(emu, req):
    body = req.json_object()
    ids = _shipment_ids(body, MAX_PICKUP_SHIPMENTS)
    _check_address(body.get("address"), "address")
    ready = body.get("readyDate")
    if ready is not None and (not isinstance(ready, str) or not _DATE.match(ready)):
        raise invalid("readyDate must be a date (yyyy-MM-dd)", "readyDate")
    start = max(date.fromisoformat(ready), utcnow().date()) if ready else utcnow().date()
    desk = _desk(emu)
    _known(emu, ids, status=400)
    proposals = [{"shipmentId": i, "pickupTimes": [] if desk.refusal_of_pickup(i) else desk.pickup_times(start)}
                 for i in ids]
    return Reply(200, [{"proposals": proposals, "address": body["address"]}])


@API.route("POST", BASE + "/pickups/create-commands")
def create_pickup(emu, req):
    body = req.json_object()
    pickup = body.get("input")
    if not isinstance(pickup, dict):
        raise invalid("input is required", "input")
    ids = _shipment_ids(pickup, MAX_PICKUP_SHIPMENTS)
    _check_address(pickup.get("address"), "input.address")
    when = pickup.get("pickupTime")
    if not (isinstance(when, dict) and isinstance(when.get("date"), str) and _DATE.match(when["date"])) \
            and not pickup.get("pickupDateProposalId"):
        raise invalid("input.pickupTime.date (yyyy-MM-dd) is required", "input.pickupTime")
    _known(emu, ids, status=400)
    command_id = _command_id(emu, "pickup", body)
    _desk(emu).register("pickup", command_id, pickup)
    return _accepted(emu, command_id, pickup)


@API.route("GET", BASE + "/pickups/create-commands/{commandId}")
def pickup_status(emu, req, commandId):
    return _status(emu, req, "pickup", commandId, ("pickupId", "carrierPickupId"))


@API.route("GET", BASE + "/pickups/{pickupId}")
def pickup(emu, req, pickupId):
    try:
        return Reply(200, _desk(emu).pickups[pickupId])
    except KeyError:
        raise not_found("Pickup %s" % pickupId, "pickupId") from None
