"""The bodies the client sends (and the answers it parses) match Allegro's OpenAPI spec.

Requests go to the emulator, which records each served request with the
spec's path template; the recorded bodies are validated with the emulator's
contract helpers. Without the spec file they fail, saying where it was looked for.
"""

import sys
import uuid
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent

if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from allegro_api_standalone import api  # noqa: E402
from allegro_emulator import AllegroEmulator  # noqa: E402
from allegro_emulator.contract import (  # noqa: E402
    require_spec, validate_request, validate_response, without_required,
)

SPEC = require_spec()


@pytest.fixture(scope="module")
def emu():
    emulator = AllegroEmulator(client_id="demo-client", client_secret="demo-secret", random_seed=11)
    emulator.start(host="127.0.0.1", port=0)
    emulator.seed_demo()
    yield emulator
    emulator.stop()


@pytest.fixture
def client(emu):
    tokens = emu.issue_tokens()
    emu.reset_requests()
    client = api.AllegroClient(emu.url, lambda force_refresh=False: tokens["access_token"], timeout=(2, 5),
                               sleep=lambda seconds: None)
    yield client
    client.close()


def served(emu, method, template):
    """The recorded requests for one operation of the spec."""
    records = [r for r in emu.requests if r["method"] == method and r["route"] == template]
    assert records, "no %s %s request was made" % (method, template)
    return records


def check_exchange(emu, method, template, spec=SPEC):
    """Validate every recorded request body and response of an operation."""
    for record in served(emu, method, template):
        content_type = record["headers"].get("Content-Type")
        body = record["json"] if record["json"] is not None else record["body"]
        validate_request(spec, method, template, body, content_type)
        validate_response(spec, method, template, record["status"], record["response_body"],
                          record["response_headers"].get("Content-Type"))


def test_set_fulfillment_status_body(emu, client):
    order = emu.add_order(status="READY_FOR_PROCESSING")
    client.set_fulfillment_status(order["id"], "PROCESSING", revision=order["revision"])
    for status in ("READY_FOR_SHIPMENT", "SENT", "CANCELLED", "SUSPENDED"):
        client.set_fulfillment_status(order["id"], status)
    check_exchange(emu, "PUT", "/order/checkout-forms/{id}/fulfillment")
    assert [r["status"] for r in emu.requests] == [204] * 5


def test_add_shipment_body(emu, client):
    order = emu.add_order(status="READY_FOR_PROCESSING")
    client.add_shipment(order["id"], "DPD", "0000123456789")
    client.add_shipment(order["id"], "OTHER", "X" * 64, carrier_name="C" * 30,
                        line_item_ids=[li["id"] for li in order["lineItems"]])
    check_exchange(emu, "POST", "/order/checkout-forms/{id}/shipments")
    client.get_shipments(order["id"])
    check_response(emu, "GET", "/order/checkout-forms/{id}/shipments")


def test_create_invoice_and_upload_bodies(emu, client):
    order = emu.add_order(status="READY_FOR_PROCESSING", invoice={"required": True})
    invoice_id = client.create_invoice(order["id"], "FV-7.pdf", invoice_number="FV/7/2024")
    check_exchange(emu, "POST", "/order/checkout-forms/{id}/invoices")
    client.upload_invoice_file(order["id"], invoice_id, b"%PDF-1.4\n%%EOF\n")
    upload = served(emu, "PUT", "/order/checkout-forms/{id}/invoices/{invoiceId}/file")[0]
    assert upload["headers"]["Content-Type"] == "application/pdf"
    validate_request(SPEC, "PUT", "/order/checkout-forms/{id}/invoices/{invoiceId}/file", upload["body"],
                     upload["headers"]["Content-Type"])
    client.get_invoices(order["id"])
    check_response(emu, "GET", "/order/checkout-forms/{id}/invoices")


def test_change_offer_quantity_body(emu, client):
    ids = [o["id"] for o in emu.offers[:5]]
    command_id = str(uuid.uuid4())
    client.change_offer_quantity(command_id, ids, 10)
    client.change_offer_quantity(str(uuid.uuid4()), ids[:2], -1, change_type="GAIN")
    check_exchange(emu, "PUT", "/sale/offer-quantity-change-commands/{commandId}")
    client.get_offer_command("quantity", command_id)
    check_response(emu, "GET", "/sale/offer-quantity-change-commands/{commandId}")


def test_offer_price_and_publication_bodies(emu, client):
    ids = [o["id"] for o in emu.offers[:3]]
    client.change_offer_price(str(uuid.uuid4()), ids, "99.90", "PLN")
    client.change_offer_price(str(uuid.uuid4()), ids, "400", "CZK", marketplace_id="allegro-cz")
    check_exchange(emu, "PUT", "/sale/offer-price-change-commands/{commandId}")
    command_id = str(uuid.uuid4())
    client.change_offer_publication(command_id, ids, "END")
    check_exchange(emu, "PUT", "/sale/offer-publication-commands/{commandId}")
    client.get_offer_command_tasks("publication", command_id)
    check_response(emu, "GET", "/sale/offer-publication-commands/{commandId}/tasks")
    emu.set_offer_stock(ids[0], 7)
    list(client.iter_offer_events())
    check_response(emu, "GET", "/sale/offer-events")


def test_validator_catches_a_wrong_body():
    """The checks above would fail on a body that breaks the spec."""
    with pytest.raises(AssertionError):
        validate_request(SPEC, "PUT", "/order/checkout-forms/{id}/fulfillment", {"status": "DONE"})
    with pytest.raises(AssertionError):
        validate_request(SPEC, "POST", "/order/checkout-forms/{id}/shipments",
                         {"carrierId": "DPD", "waybill": "x" * 65})
    with pytest.raises(AssertionError):
        validate_request(SPEC, "PUT", "/sale/offer-quantity-change-commands/{commandId}",
                         {"modification": {"changeType": "SET", "value": 1}})


def check_response(emu, method, template):
    for record in served(emu, method, template):
        validate_response(SPEC, method, template, record["status"], record["response_body"],
                          record["response_headers"].get("Content-Type"))


def test_read_responses_match_spec(emu, client):
    """What the client reads (GET calls) is what the spec describes."""
    client.get_me()
    client.get_carriers()
    client.get_order_event_stats()
    client.get_order_events(limit=10)
    page = client.list_checkout_forms(limit=5)
    client.get_checkout_form(page["checkoutForms"][0]["id"])
    client.list_offers(limit=5)
    for method, template in (("GET", "/me"), ("GET", "/order/carriers"),
                             ("GET", "/order/event-stats"), ("GET", "/order/events"),
                             ("GET", "/order/checkout-forms"), ("GET", "/order/checkout-forms/{id}"),
                             ("GET", "/sale/offers")):
        check_response(emu, method, template)


def test_ship_with_allegro_exchanges(emu, client):
    """Every Ship with Allegro call: the bodies sent and the answers read, files included."""
    courier = emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "CASH_ON_DELIVERY"},
                            delivery={"method": {"id": "845efe05-0c96-47ea-a4a7-3d3b5c8a2ed5"}})
    locker = emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"},
                           delivery={"method": {"id": "1fa56f79-4b6a-4821-a6f2-ca9c16d5c925"}})
    emu.shipment_command_reads = 0
    shipment_ids = []
    for order in (courier, locker):
        suggested = client.get_delivery_proposals(order["id"])["suggestedInput"]
        command_id = str(uuid.uuid4())
        client.create_shipment(command_id, dict(suggested, referenceNumber="WH/OUT/0001", labelFormat="PDF",
                                                insurance={"amount": "100.00", "currency": "PLN"}))
        shipment_ids.append(client.get_shipment_command(command_id)["shipmentId"])
        client.get_shipment(shipment_ids[-1])
    client.get_delivery_services()
    client.get_labels(shipment_ids, page_size="A4", cut_line=True)
    client.get_protocol(shipment_ids)
    client.get_protocol(shipment_ids[1:])  # 204: parcel lockers have no protocol
    address = client.get_shipment(shipment_ids[0])["sender"]
    [proposal] = client.get_pickup_proposals(shipment_ids[:1], address, ready_date="2030-01-07")
    command_id = str(uuid.uuid4())
    client.create_pickup(command_id, shipment_ids[:1], address, proposal["proposals"][0]["pickupTimes"][0])
    client.get_pickup(client.get_pickup_command(command_id)["pickupId"])
    command_id = str(uuid.uuid4())
    client.cancel_shipment(command_id, shipment_ids[1])
    client.get_cancel_command(command_id)
    base = "/shipment-management"
    for template in ("/shipments/create-commands", "/shipments/cancel-commands", "/label", "/protocol",
                     "/pickup-proposals"):
        check_exchange(emu, "POST", base + template)
    # This copy of the spec wrongly requires the deprecated pickupDateProposalId beside pickupTime.
    check_exchange(emu, "POST", base + "/pickups/create-commands",
                   without_required(SPEC, "PickupCreateRequestDto", "pickupDateProposalId"))
    for template in ("/delivery-proposals/{orderId}", "/delivery-services", "/shipments/create-commands/{commandId}",
                     "/shipments/{shipmentId}", "/shipments/cancel-commands/{commandId}",
                     "/pickups/create-commands/{commandId}", "/pickups/{pickupId}"):
        check_response(emu, "GET", base + template)
    assert {r["status"] for r in served(emu, "POST", base + "/protocol")} == {200, 204}


def test_message_center_and_issue_exchanges(emu, client):
    """Every message center and issue call: the bodies sent and the answers read, files included."""
    order = emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"})
    thread_id = emu.buyer_message(order["id"], attachments=[("foto.png", b"\x89PNG\r\n\x1a\n")])["thread"]["id"]
    list(client.iter_threads())
    client.get_thread(thread_id)
    client.mark_thread_read(thread_id)
    [incoming] = client.iter_thread_messages(thread_id)
    client.download_attachment(url=incoming["attachments"][0]["url"])
    attachment_id = client.add_attachment("faktura.pdf", b"%PDF-1.4\n%%EOF\n")
    sent = client.send_message(thread_id, "Faktura w załączniku", [attachment_id])
    client.download_attachment(attachment_id)
    started = client.start_thread(order["buyer"]["login"], order["id"], "Dziękujemy za zakup")
    client.get_message(sent["id"])
    client.delete_message(started["id"])
    claim = emu.open_issue(order["id"], "CLAIM")
    list(client.iter_issues(order_id=order["id"], statuses=["CLAIM_SUBMITTED"]))
    client.get_issue(claim["id"])
    client.get_issue_chat(claim["id"])
    attachment_id = client.add_issue_attachment("odpowiedz.pdf", b"%PDF-1.4\n%%EOF\n")
    client.send_issue_message(claim["id"], "Prosimy o odesłanie", "RETURN_REQUIRED_CUSTOM", [attachment_id])
    client.download_issue_attachment(attachment_id)
    client.change_issue_status(claim["id"], "ACCEPTED_PARTIAL_REFUND", "Częściowy zwrot",
                               {"amount": "10.00", "currency": "PLN"})
    for method, template in (("PUT", "/messaging/threads/{threadId}/read"),
                             ("POST", "/messaging/threads/{threadId}/messages"), ("POST", "/messaging/messages"),
                             ("POST", "/messaging/message-attachments"),
                             ("PUT", "/messaging/message-attachments/{attachmentId}"),
                             ("POST", "/sale/issues/attachments"), ("PUT", "/sale/issues/attachments/{attachmentId}"),
                             ("POST", "/sale/issues/{issueId}/status")):
        check_exchange(emu, method, template)
    # This copy of the spec requires a MessageRequest "attachment" it does not define (its field is "attachments").
    check_exchange(emu, "POST", "/sale/issues/{issueId}/message",
                   without_required(SPEC, "MessageRequest", "attachment"))
    for method, template in (("GET", "/messaging/threads"), ("GET", "/messaging/threads/{threadId}"),
                             ("GET", "/messaging/threads/{threadId}/messages"),
                             ("GET", "/messaging/messages/{messageId}"),
                             ("DELETE", "/messaging/messages/{messageId}"),
                             ("GET", "/messaging/message-attachments/{attachmentId}"), ("GET", "/sale/issues"),
                             ("GET", "/sale/issues/{issueId}"), ("GET", "/sale/issues/{issueId}/chat"),
                             ("GET", "/sale/issues/attachments/{attachmentId}")):
        check_response(emu, method, template)
