"""Ship with Allegro through the client, against the emulator over real HTTP on 127.0.0.1."""

import re
import uuid

import pytest

from allegro_emulator import AllegroEmulator
from allegro_emulator.catalogue import DELIVERY_METHODS
from test_client import CLIENT_ID, CLIENT_SECRET, RecordingSleep, api

METHODS = {m["name"]: {"id": m["id"], "name": m["name"]} for m in DELIVERY_METHODS}
CREATE = "/shipment-management/shipments/create-commands"
SWITCHES = ("shipment_command_reads", "shipment_command_delay", "shipment_retry_after")


@pytest.fixture(scope="module")
def emu():
    emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=5)
    emulator.start(host="127.0.0.1", port=0)
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def clean_emulator(emu):
    saved = {name: getattr(emu, name) for name in SWITCHES}
    emu.faults.clear()
    emu.reset_requests()
    emu.shipment_command_reads = 0  # carried out at the first status read, unless a test says otherwise
    yield
    emu.faults.clear()
    for name, value in saved.items():
        setattr(emu, name, value)


def an_order(emu, method="Allegro Kurier DPD", **overrides):
    overrides.setdefault("payment", {"type": "ONLINE"})
    return emu.add_order(status="READY_FOR_PROCESSING", delivery={"method": METHODS[method]}, **overrides)


def ship(client, order, **changes):
    """A parcel for the order from its delivery proposal; returns the shipment id."""
    shipment_input = dict(client.get_delivery_proposals(order["id"])["suggestedInput"], **changes)
    command_id = str(uuid.uuid4())
    client.create_shipment(command_id, shipment_input)
    status = client.get_shipment_command(command_id)
    assert status["status"] == "SUCCESS", status
    return status["shipmentId"]


def pdf_pages(data):
    """Page count of a PDF, after checking its structure: header, every xref offset on its object, EOF."""
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\s+(\d+)", data).group(1))
    assert data[start:start + 4] == b"xref"
    offsets = re.findall(rb"(\d{10}) 00000 n ", data[start:])
    for number, offset in enumerate(offsets, start=1):
        assert data[int(offset):].startswith(b"%d 0 obj" % number)
    return int(re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count (\d+)", data).group(1))


# ---------------------------------------------------------------------------
# proposals
# ---------------------------------------------------------------------------
def test_delivery_proposals_from_the_order(emu, client):
    order = an_order(emu, "Allegro Paczkomaty InPost pobranie", payment={"type": "CASH_ON_DELIVERY"})
    proposal = client.get_delivery_proposals(order["id"])
    suggested = proposal["suggestedInput"]
    assert suggested["receiver"]["email"] == order["buyer"]["email"]
    assert suggested["receiver"]["point"] == order["delivery"]["pickupPoint"]["id"]
    assert suggested["cashOnDelivery"] == order["summary"]["totalToPay"]
    assert suggested["sender"]["postalCode"] and len(suggested["packages"]) == 1
    assert "deliveryMethodId" not in suggested  # deprecated: Allegro takes the method from the order
    option = proposal["deliveryOptions"][0]
    assert option["deliveryType"] == "APM" and option["paymentType"] == "POSTPAID"
    assert option["limits"]["weight"] == {"value": 25, "unit": "KILOGRAMS"}
    paid = client.get_delivery_proposals(an_order(emu)["id"])
    assert "cashOnDelivery" not in paid["suggestedInput"] and "point" not in paid["suggestedInput"]["receiver"]


def test_delivery_proposals_refused_for_an_order_not_shipped_with_allegro(emu, client):
    order = an_order(emu, "Kurier DHL")
    with pytest.raises(api.AllegroValidationError) as info:
        client.get_delivery_proposals(order["id"])
    assert info.value.status == 400 and info.value.codes == ["UNSUPPORTED_DELIVERY_METHOD"]


def test_deprecated_delivery_services_still_served(emu, client):
    services = client.get_delivery_services()["services"]
    assert {s["carrierId"] for s in services} == {"INPOST", "DPD"}
    assert all(s["owner"] == "ALLEGRO" and s["id"]["deliveryMethodId"] for s in services)
    assert "Q1 2027" in api.AllegroClient.get_delivery_services.__doc__


# ---------------------------------------------------------------------------
# parcels
# ---------------------------------------------------------------------------
def test_create_in_progress_then_success_with_the_waybill_on_the_order(emu, client):
    emu.shipment_command_reads = 2
    emu.shipment_retry_after = 3
    order = an_order(emu)
    command_id = str(uuid.uuid4())
    shipment_input = client.get_delivery_proposals(order["id"])["suggestedInput"]
    answer = client.create_shipment(command_id, shipment_input)
    assert isinstance(answer, api.CommandAnswer)
    assert answer["commandId"] == command_id and answer.retry_after == 3
    request = emu.requests[-1]
    assert request["json"] == {"commandId": command_id, "input": shipment_input}
    assert request["headers"]["Accept"] == request["headers"]["Content-Type"] == api.MEDIA_TYPE_PUBLIC
    for _ in range(2):
        status = client.get_shipment_command(command_id)
        assert status == {"commandId": command_id, "status": "IN_PROGRESS"} and status.retry_after == 3
    status = client.get_shipment_command(command_id)
    assert status["status"] == "SUCCESS" and status.retry_after is None
    shipment = client.get_shipment(status["shipmentId"])
    [package] = shipment["packages"]
    assert shipment["carrier"] == "DPD" and shipment["createdDate"] and "canceledDate" not in shipment
    assert shipment["pickupAvailable"] is True
    assert package["transportingInfo"] == [{"carrierId": "DPD", "carrierWaybill": package["waybill"]}]
    # Allegro lists the waybill on the order by itself; adding it again is refused.
    [listed] = client.get_shipments(order["id"])["shipments"]
    assert (listed["waybill"], listed["carrierId"]) == (package["waybill"], "DPD")
    with pytest.raises(api.AllegroConflict):
        client.add_shipment(order["id"], "DPD", package["waybill"])
    assert emu.duplicates()["shipments"] == 0


def test_two_packages_two_waybills_each_carried_by_two_carriers_abroad(emu, client):
    order = an_order(emu, marketplace={"id": "allegro-cz"})
    suggested = client.get_delivery_proposals(order["id"])["suggestedInput"]
    shipment_id = ship(client, order, packages=suggested["packages"] * 2)
    packages = client.get_shipment(shipment_id)["packages"]
    waybills = [p["waybill"] for p in packages]
    assert len(set(waybills)) == 2
    assert [[t["carrierId"] for t in p["transportingInfo"]] for p in packages] == [["DPD", "DPD_CZ"]] * 2
    assert [s["waybill"] for s in client.get_shipments(order["id"])["shipments"]] == waybills


@pytest.mark.parametrize("case, code, path, polish", [
    ("heavy", "VALIDATION_ERROR", "packages[0].weight", "Waga paczki"),
    ("stranger", "VALIDATION_FAILED", "receiver.email", "Nie znaleziono zamówienia Allegro"),
    ("closed point", "PICKUP_POINT_NOT_AVAILABLE", "receiver.point", "nie przyjmuje przesyłek"),
    ("service", "ADDITIONAL_SERVICE_NOT_AVAILABLE", "additionalServices", "Usługa dodatkowa"),
])
def test_create_ends_in_error_with_allegros_message(emu, make_client, case, code, path, polish):
    client = make_client(accept_language="pl-PL")
    order = an_order(emu, "Allegro Paczkomaty InPost")
    shipment_input = client.get_delivery_proposals(order["id"])["suggestedInput"]
    if case == "heavy":
        shipment_input["packages"][0]["weight"]["value"] = 26
    elif case == "stranger":
        shipment_input["receiver"]["email"] = "nobody@allegromail.pl"
    elif case == "closed point":
        emu.close_pickup_point(shipment_input["receiver"]["point"])
    else:
        shipment_input["additionalServices"] = ["ADDITIONAL_HANDLING"]
    command_id = str(uuid.uuid4())
    client.create_shipment(command_id, shipment_input)
    status = client.get_shipment_command(command_id)
    assert status["status"] == "ERROR" and "shipmentId" not in status
    [error] = status["errors"]
    assert (error["code"], error["path"]) == (code, path)
    assert polish in error["userMessage"]
    assert not client.get_shipments(order["id"])["shipments"]


def test_lost_answer_repeated_with_the_same_command_id_makes_no_second_parcel(emu, client, sleep):
    order = an_order(emu)
    parcels = len(emu.parcels)
    shipment_input = client.get_delivery_proposals(order["id"])["suggestedInput"]
    command_id = str(uuid.uuid4())
    emu.faults.lose_answer(count=1, path_prefix=CREATE, method="POST")  # taken, then the connection drops
    answer = client.create_shipment(command_id, shipment_input)
    assert answer["commandId"] == command_id and answer["status"] == "SUCCESS"
    assert [r["status"] for r in emu.requests[-3:]] == [200, 400, 200]
    assert len(sleep.waits) == 1
    # A later call of the caller's own with that id is refused by Allegro: read the command.
    with pytest.raises(api.AllegroValidationError) as info:
        client.create_shipment(command_id, shipment_input)
    assert info.value.codes == ["COMMAND_EXISTS"] and not info.value.after_ambiguous_retry
    assert len(emu.parcels) == parcels + 1
    assert len(client.get_shipments(order["id"])["shipments"]) == 1


@pytest.mark.parametrize("fault", ["read timeout", "504"])
def test_create_taken_but_unanswered_is_answered_by_its_status(emu, make_client, fault):
    if fault == "504":
        client = make_client()
        emu.faults.lose_answer(count=1, path_prefix=CREATE, method="POST", status=504)
    else:  # the client gives up before the emulator, which takes the create all the same
        client = make_client(timeout=(2, 0.4), sleep=RecordingSleep(real=1.5))
        emu.faults.delay(0.8, count=1, path_prefix=CREATE, method="POST")
    order = an_order(emu)
    command_id = str(uuid.uuid4())
    answer = client.create_shipment(command_id, client.get_delivery_proposals(order["id"])["suggestedInput"])
    assert answer["commandId"] == command_id and answer["status"] == "SUCCESS"
    assert [r["status"] for r in emu.requests if r["path"] == CREATE] == [200, 400]
    assert len(client.get_shipments(order["id"])["shipments"]) == 1


def test_429_on_create_waits_for_retry_after(emu, client, sleep):
    order = an_order(emu)
    emu.faults.add(status=429, count=1, path_prefix=CREATE, retry_after=4, method="POST")
    command_id = str(uuid.uuid4())
    answer = client.create_shipment(command_id, client.get_delivery_proposals(order["id"])["suggestedInput"])
    assert answer["commandId"] == command_id
    assert sleep.waits == [4.0]
    assert [r["status"] for r in emu.requests if r["path"] == CREATE] == [429, 200]
    assert client.get_shipment_command(command_id)["status"] == "SUCCESS"


def test_cancel_then_cancel_refused_once_handed_over(emu, client):
    order = an_order(emu)
    shipment_id = ship(client, order)
    command_id = str(uuid.uuid4())
    answer = client.cancel_shipment(command_id, shipment_id)
    assert answer == {"commandId": command_id, "input": {"shipmentId": shipment_id}} and answer.retry_after == 1
    status = client.get_cancel_command(command_id)
    assert status["status"] == "SUCCESS" and status["shipmentId"] == shipment_id
    assert client.get_shipment(shipment_id)["canceledDate"]
    assert client.get_shipments(order["id"])["shipments"] == []
    assert client.get_labels([shipment_id]) is None  # a canceled parcel has no label
    handed_over = ship(client, an_order(emu))
    emu.hand_over_parcel(handed_over)
    command_id = str(uuid.uuid4())
    client.cancel_shipment(command_id, handed_over)
    status = client.get_cancel_command(command_id)
    assert status["status"] == "ERROR" and status["errors"][0]["code"] == "CANCELLATION_NOT_POSSIBLE"
    assert "canceledDate" not in client.get_shipment(handed_over)


def test_unknown_command_and_shipment(client):
    with pytest.raises(api.AllegroNotFound):
        client.get_shipment_command(str(uuid.uuid4()))
    with pytest.raises(api.AllegroNotFound):
        client.get_shipment(str(uuid.uuid4()))


# ---------------------------------------------------------------------------
# labels and protocols
# ---------------------------------------------------------------------------
def test_labels_of_three_parcels_in_one_pdf(emu, client):
    ids = [ship(client, an_order(emu)) for _ in range(3)]
    emu.reset_requests()
    pdf = client.get_labels(ids, page_size="A6")
    assert pdf_pages(pdf) == 3
    for shipment_id in ids:
        assert client.get_shipment(shipment_id)["packages"][0]["waybill"].encode() in pdf
    assert b"/MediaBox [0 0 298 420]" in pdf
    request = emu.requests[0]
    assert request["headers"]["Accept"] == "application/octet-stream"
    assert request["headers"]["Content-Type"] == "application/vnd.allegro.public.v1+json"
    assert request["json"] == {"shipmentIds": ids, "pageSize": "A6"}
    assert pdf_pages(client.get_labels(ids[:1])) == 1
    with pytest.raises(api.AllegroNotFound):
        client.get_labels([str(uuid.uuid4())])


def test_zpl_labels(emu, client):
    shipment_id = ship(client, an_order(emu), labelFormat="ZPL")
    label = client.get_labels([shipment_id])
    assert label.startswith(b"^XA") and client.get_shipment(shipment_id)["packages"][0]["waybill"].encode() in label


def test_protocol_pdf_and_none_without_one(emu, client):
    courier = ship(client, an_order(emu))
    locker = ship(client, an_order(emu, "Allegro Paczkomaty InPost"))
    assert pdf_pages(client.get_protocol([courier, locker])) == 1
    assert client.get_protocol([locker]) is None
    assert emu.requests[-1]["status"] == 204


# ---------------------------------------------------------------------------
# pickups
# ---------------------------------------------------------------------------
def test_pickup_proposals_and_pickup(emu, client):
    ids = [ship(client, an_order(emu)), ship(client, an_order(emu, "Allegro Kurier DPD pobranie",
                                                              payment={"type": "CASH_ON_DELIVERY"}))]
    address = client.get_delivery_proposals(an_order(emu)["id"])["suggestedInput"]["sender"]
    [answer] = client.get_pickup_proposals(ids, address, ready_date="2030-01-07")
    assert [p["shipmentId"] for p in answer["proposals"]] == ids
    times = answer["proposals"][0]["pickupTimes"]
    assert times[0] == {"date": "2030-01-07", "minTime": "09:00", "maxTime": "12:00"}
    assert "proposalItems" not in answer["proposals"][0]  # deprecated, gone since June 2026
    command_id = str(uuid.uuid4())
    created = client.create_pickup(command_id, ids, address, times[1])
    assert created["input"]["pickupTime"] == times[1] and created.retry_after == 1
    status = client.get_pickup_command(command_id)
    assert status["status"] == "SUCCESS" and status["carrierPickupId"]
    pickup = client.get_pickup(status["pickupId"])
    assert pickup["shipmentIds"] == ids and len(pickup["waybills"]) == 2 and pickup["address"] == address


def test_pickup_refused_for_a_parcel_handed_over(emu, client):
    shipment_id = ship(client, an_order(emu))
    emu.hand_over_parcel(shipment_id)
    address = client.get_shipment(shipment_id)["sender"]
    [answer] = client.get_pickup_proposals([shipment_id], address)
    assert answer["proposals"][0]["pickupTimes"] == []
    command_id = str(uuid.uuid4())
    client.create_pickup(command_id, [shipment_id], address, {"date": "2030-01-07"})
    status = client.get_pickup_command(command_id)
    assert status["status"] == "ERROR"
    assert status["errors"][0]["message"] == "Package status forbids pickup orders"


# ---------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------
ADDRESS = {"name": "Jan", "street": "Długa 1", "city": "Kraków", "postalCode": "31-147", "countryCode": "PL",
           "email": "a@example.com", "phone": "500600700"}


@pytest.mark.parametrize("call", [
    lambda c: c.get_delivery_proposals(""),
    lambda c: c.create_shipment(None, {"sender": {}, "receiver": {}, "packages": []}),
    lambda c: c.create_shipment(str(uuid.uuid4()), {"sender": ADDRESS, "receiver": ADDRESS}),
    lambda c: c.create_shipment(str(uuid.uuid4()), [ADDRESS]),
    lambda c: c.create_shipment("", {"sender": ADDRESS, "receiver": ADDRESS, "packages": [{}]}),
    lambda c: c.get_shipment_command(None),
    lambda c: c.cancel_shipment(str(uuid.uuid4()), ""),
    lambda c: c.get_labels([]),
    lambda c: c.get_labels("a-shipment-id"),
    lambda c: c.get_labels(["a", ""]),
    lambda c: c.get_labels(["a"], page_size="A5"),
    lambda c: c.get_protocol([]),
    lambda c: c.get_pickup_proposals(["s%d" % i for i in range(101)], ADDRESS),
    lambda c: c.get_pickup_proposals(["a"], None),
    lambda c: c.create_pickup(str(uuid.uuid4()), [], ADDRESS, {"date": "2030-01-07"}),
    lambda c: c.create_pickup(str(uuid.uuid4()), ["a"], ADDRESS, {"minTime": "10:00"}),
    lambda c: c.create_pickup(str(uuid.uuid4()), ["a"], {}, {"date": "2030-01-07"}),
    lambda c: c.get_pickup(" "),
])
def test_invalid_arguments_rejected_before_any_call(emu, client, call):
    with pytest.raises(ValueError):
        call(client)
    assert emu.requests == []
