"""The emulator against Allegro's OpenAPI spec: every response it served, its orders, and the helpers.

The spec file is ALLEGRO_OPENAPI, by default ../shared/allegro/allegro-openapi.yaml
next to the repository; without it these tests fail, saying where it was looked for.
"""

import json

import pytest

from allegro_emulator import testing
from allegro_emulator.contract import (ContractError, load_spec, require_spec, validate_request, validate_response,
                                       validate_schema, without_required)

emu, api = testing.emu, testing.api  # the shared fixtures

JSON_V1 = "application/vnd.allegro.public.v1+json"
JSON_BETA = "application/vnd.allegro.beta.v1+json"
RETURNS = "/order/customer-returns"
OCTET_STREAM = "application/octet-stream"
SHIPPING = "/shipment-management"
MESSAGING = "/messaging"
ISSUES = "/sale/issues"
PNG = b"\x89PNG\r\n\x1a\n"
PDF = b"%PDF-1.4\n%%EOF\n"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="session")
def spec():
    # This copy of the spec wrongly requires the deprecated pickupDateProposalId beside pickupTime,
    # and a MessageRequest "attachment" field it does not define (its field is "attachments").
    spec = without_required(require_spec(), "PickupCreateRequestDto", "pickupDateProposalId")
    return without_required(spec, "MessageRequest", "attachment")


def exercise_shipping(emu, api):
    """Every Ship with Allegro endpoint, with successes and the errors each one can give."""
    emu.shipment_command_reads = 1
    octet = {"Accept": OCTET_STREAM}

    def order(method_id, payment="ONLINE"):
        return emu.add_order(status="READY_FOR_PROCESSING", payment={"type": payment},
                             delivery={"method": {"id": method_id}})["id"]

    courier = order("845efe05-0c96-47ea-a4a7-3d3b5c8a2ed5", "CASH_ON_DELIVERY")
    locker = order("1fa56f79-4b6a-4821-a6f2-ca9c16d5c925")
    api.get(SHIPPING + "/delivery-proposals/" + order("7203cb90-864c-4cda-bf08-dc883f0c78ad"))  # not SwA: 400
    api.get(SHIPPING + "/delivery-proposals/" + UNKNOWN_ID)
    api.get(SHIPPING + "/delivery-services")
    create = SHIPPING + "/shipments/create-commands"
    shipment_ids = []
    for number, order_id in enumerate((courier, locker)):
        suggested = api.get(SHIPPING + "/delivery-proposals/" + order_id).json()["suggestedInput"]
        command = {"commandId": "c0ffee00-0000-4000-8000-%012d" % number, "input": suggested}
        api.post(create, json=command)
        api.post(create, json=command)  # the same command id: 400 COMMAND_EXISTS
        api.get(create + "/" + command["commandId"])  # IN_PROGRESS
        shipment_ids.append(api.get(create + "/" + command["commandId"]).json()["shipmentId"])
    heavy = api.get(SHIPPING + "/delivery-proposals/" + locker).json()["suggestedInput"]
    heavy["packages"][0]["weight"]["value"] = 99
    command_id = api.post(create, json={"input": heavy}).json()["commandId"]  # an id made by Allegro
    api.get(create + "/" + command_id)
    api.get(create + "/" + command_id)  # ERROR with errors[]
    api.post(create, json={"input": {"sender": {}}})
    api.get(create + "/unknown")
    emu.faults.add(status=429, count=1, path_prefix=create, method="POST")
    api.post(create, json={"input": heavy})
    for shipment_id in (shipment_ids[0], UNKNOWN_ID):
        api.get(SHIPPING + "/shipments/" + shipment_id)
    for path in ("/label", "/protocol"):
        api.post(SHIPPING + path, json={"shipmentIds": shipment_ids}, headers=octet)
        api.post(SHIPPING + path, json={"shipmentIds": [UNKNOWN_ID]}, headers=octet)
        api.post(SHIPPING + path, json={"shipmentIds": []}, headers=octet)
    api.post(SHIPPING + "/label", json={"shipmentIds": shipment_ids, "pageSize": "A6"}, headers=octet)
    api.post(SHIPPING + "/label", json={"shipmentIds": shipment_ids})  # JSON asked for a file: 406
    api.post(SHIPPING + "/protocol", json={"shipmentIds": shipment_ids[1:]}, headers=octet)  # lockers: 204
    address = emu.parcel(shipment_ids[0])["sender"]
    proposals = api.post(SHIPPING + "/pickup-proposals", json={"shipmentIds": shipment_ids[:1], "address": address,
                                                               "readyDate": "2030-01-07"}).json()
    api.post(SHIPPING + "/pickup-proposals", json={"shipmentIds": shipment_ids[:1]})
    pickups = SHIPPING + "/pickups/create-commands"
    pickup_time = proposals[0]["proposals"][0]["pickupTimes"][0]
    command_id = api.post(pickups, json={"input": {"shipmentIds": shipment_ids[:1], "address": address,
                                                   "pickupTime": pickup_time}}).json()["commandId"]
    api.post(pickups, json={"input": {"shipmentIds": shipment_ids[:1], "address": address}})
    api.get(pickups + "/" + command_id)
    pickup_id = api.get(pickups + "/" + command_id).json()["pickupId"]
    api.get(pickups + "/unknown")
    api.get(SHIPPING + "/pickups/" + pickup_id)
    api.get(SHIPPING + "/pickups/" + UNKNOWN_ID)
    cancel = SHIPPING + "/shipments/cancel-commands"
    command_id = api.post(cancel, json={"input": {"shipmentId": shipment_ids[1]}}).json()["commandId"]
    api.post(cancel, json={"input": {}})
    api.get(cancel + "/" + command_id)
    api.get(cancel + "/" + command_id)
    api.get(cancel + "/unknown")
    api.get(SHIPPING + "/shipments/" + shipment_ids[1])  # canceled
    emu.hand_over_parcel(shipment_ids[0])
    command_id = api.post(cancel, json={"input": {"shipmentId": shipment_ids[0]}}).json()["commandId"]
    api.get(cancel + "/" + command_id)
    api.get(cancel + "/" + command_id)  # ERROR: handed over


def exercise_messaging(emu, api):
    """Every message center and post-purchase issue endpoint, with successes and the errors each one can give."""
    beta = {"Accept": JSON_BETA, "Content-Type": JSON_BETA}
    order = emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"})
    incoming = emu.buyer_message(order["id"], attachments=[("foto.png", PNG)])
    emu.buyer_message(login="ktos_bez_zamowienia", text="Czy jest w kolorze czerwonym?")
    thread = MESSAGING + "/threads/" + incoming["thread"]["id"]
    api.get(MESSAGING + "/threads", params={"limit": 1, "offset": 1})
    api.get(MESSAGING + "/threads", params={"limit": 21})
    api.get(thread)
    api.get(MESSAGING + "/threads/unknown")
    api.put(thread + "/read", json={"read": True})
    api.put(thread + "/read", json={"read": "yes"})
    api.put(MESSAGING + "/threads/unknown/read", json={"read": True})
    declared = api.post(MESSAGING + "/message-attachments", json={"filename": "faktura.pdf", "size": len(PDF)})
    api.post(MESSAGING + "/message-attachments", json={"filename": "duzy.pdf", "size": 6 * 1024 * 1024})
    upload = MESSAGING + "/message-attachments/" + declared.json()["id"]
    api.put(upload, data=PDF, headers={"Content-Type": "application/pdf"})
    api.put(upload, data=b"MZ", headers={"Content-Type": "application/x-msdownload"})
    api.put(upload, data=b"%PDF" + b"0" * (5 * 1024 * 1024), headers={"Content-Type": "application/pdf"})
    api.put(MESSAGING + "/message-attachments/unknown", data=PDF, headers={"Content-Type": "application/pdf"})
    api.get(upload, headers={"Accept": "*/*"})
    api.get(incoming["attachments"][0]["url"][len(emu.url):], headers={"Accept": "*/*"})
    api.get(MESSAGING + "/message-attachments/unknown", headers={"Accept": "*/*"})
    api.post(thread + "/messages", json={"text": "Wysyłamy jutro", "attachments": [{"id": declared.json()["id"]}]})
    api.post(thread + "/messages", json={"text": "x" * 2001})
    api.post(MESSAGING + "/threads/unknown/messages", json={"text": "Halo"})
    api.get(thread + "/messages", params={"limit": 1})
    api.get(thread + "/messages", params={"after": incoming["createdAt"], "before": "2100-01-01T00:00:00.000Z"})
    api.get(thread + "/messages", params={"before": incoming["createdAt"], "offset": 1})
    api.get(MESSAGING + "/threads/unknown/messages")
    started = api.post(MESSAGING + "/messages", json={"recipient": {"login": order["buyer"]["login"]},
                                                      "order": {"id": order["id"]}, "text": "Dziękujemy"}).json()
    api.post(MESSAGING + "/messages", json={"recipient": {"login": "ktos"}, "order": {"id": UNKNOWN_ID},
                                            "text": "Dziękujemy"})
    api.get(MESSAGING + "/messages/" + started["id"])
    api.get(MESSAGING + "/messages/unknown")
    api.delete(MESSAGING + "/messages/" + incoming["id"])  # the buyer's: 403
    api.delete(MESSAGING + "/messages/" + started["id"])
    api.delete(MESSAGING + "/messages/" + started["id"])
    emu.faults.add(status=429, count=1, path_prefix=MESSAGING + "/threads", method="GET")
    api.get(MESSAGING + "/threads")

    dispute = emu.open_issue(order["id"])
    claim = emu.open_issue(order["id"], "CLAIM")
    emu.buyer_issue_message(claim["id"], "Zdjęcie", attachments=[("pekniecie.png", PNG)])
    api.get(ISSUES, params={"checkoutForm.id": order["id"], "status": ["CLAIM_SUBMITTED", "DISPUTE_ONGOING"]},
            headers=beta)
    api.get(ISSUES, params={"limit": 101}, headers=beta)
    api.get(ISSUES + "/" + claim["id"], headers=beta)
    api.get(ISSUES + "/" + UNKNOWN_ID, headers=beta)
    chat = api.get(ISSUES + "/%s/chat" % claim["id"], params={"limit": 5}, headers=beta).json()["chat"]
    api.get(ISSUES + "/%s/chat" % UNKNOWN_ID, headers=beta)
    api.get(chat[1]["attachments"][0]["url"][len(emu.url):], headers={"Accept": "*/*"})
    declared = api.post(ISSUES + "/attachments", json={"fileName": "odpowiedz.pdf", "size": len(PDF)}, headers=beta)
    api.post(ISSUES + "/attachments", json={"fileName": "pusty.pdf", "size": 0}, headers=beta)
    upload = declared.headers["Location"][len(emu.url):]
    api.put(upload, data=PDF, headers={"Accept": JSON_BETA, "Content-Type": "application/pdf"})
    api.put(upload, data=b"MZ", headers={"Accept": JSON_BETA, "Content-Type": "application/x-msdownload"})
    api.put(upload, data=b"%PDF" + b"0" * (5 * 1024 * 1024), headers={"Accept": JSON_BETA,
                                                                       "Content-Type": "application/pdf"})
    api.get(upload, headers={"Accept": "*/*"})
    api.get(ISSUES + "/attachments/unknown", headers={"Accept": "*/*"})
    message = ISSUES + "/%s/message" % claim["id"]
    api.post(message, json={"text": "Prosimy o odesłanie", "type": "RETURN_REQUIRED_CUSTOM",
                            "attachments": [{"id": declared.json()["id"]}]}, headers=beta)
    api.post(message, json={"text": "Koniec", "type": "END_REQUEST"}, headers=beta)  # disputes only: 400
    api.post(message, json={"text": "Halo", "type": "BOGUS"}, headers=beta)
    api.post(ISSUES + "/%s/message" % UNKNOWN_ID, json={"text": "Halo", "type": "REGULAR"}, headers=beta)
    status = ISSUES + "/%s/status" % claim["id"]
    api.post(ISSUES + "/%s/status" % dispute["id"], json={"status": "ACCEPTED_REFUND", "message": "Tak"},
             headers=beta)
    api.post(status, json={"status": "ACCEPTED_PARTIAL_REFUND", "message": "Częściowy zwrot",
                           "partialRefund": {"amount": "10.00", "currency": "PLN"}}, headers=beta)
    api.post(status, json={"status": "REJECTED_OTHER", "message": "Już rozpatrzona"}, headers=beta)  # 403
    api.post(ISSUES + "/%s/status" % UNKNOWN_ID, json={"status": "REJECTED_OTHER", "message": "Nie"}, headers=beta)
    emu.move_issue(dispute["id"], "DISPUTE_CLOSED", chat_active=False)
    api.post(ISSUES + "/%s/message" % dispute["id"], json={"text": "Halo", "type": "REGULAR"}, headers=beta)
    api.get(ISSUES, headers={"Accept": JSON_V1})  # the public media type on a beta resource: 406


def exercise_api(emu, api):
    """Call every emulated endpoint, with successes and the errors each one can give."""
    order = emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"})
    emu.seed_orders(30)
    emu.seed_demo()
    oid = order["id"]
    base = "/order/checkout-forms/" + oid
    command = "/sale/offer-quantity-change-commands/c0ffee00-0000-4000-8000-000000000001"
    quantity = {"modification": {"changeType": "GAIN", "value": 1},
                "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": emu.offers[0]["id"]}, {"id": "1"}]}]}
    pdf = {"Content-Type": "application/pdf"}
    calls = [
        ("GET", "/me", {}), ("GET", "/marketplaces", {}), ("GET", "/order/event-stats", {}),
        ("GET", "/order/events", {"params": {"limit": 50}}), ("GET", "/order/events", {"params": {"limit": 0}}),
        ("GET", "/order/checkout-forms", {}), ("GET", "/order/checkout-forms", {"params": {"limit": 500}}),
        ("GET", "/order/checkout-forms", {"params": {"sort": "bogus"}}),
        ("GET", base, {}), ("GET", "/order/checkout-forms/" + UNKNOWN_ID, {}), ("GET", "/order/checkout-forms/x", {}),
        ("PUT", base + "/fulfillment", {"params": {"checkoutForm.revision": order["revision"]},
                                        "json": {"status": "PROCESSING"}}),
        ("PUT", base + "/fulfillment", {"params": {"checkoutForm.revision": order["revision"]},
                                        "json": {"status": "SENT"}}),
        ("PUT", base + "/fulfillment", {"json": {"status": "RETURNED"}}),
        ("PUT", "/order/checkout-forms/%s/fulfillment" % UNKNOWN_ID, {"json": {"status": "SENT"}}),
        ("GET", "/order/carriers", {}),
        ("POST", base + "/shipments", {"json": {"carrierId": "INPOST", "waybill": "6200001"}}),
        ("POST", base + "/shipments", {"json": {"carrierId": "OTHER", "carrierName": "Kurier", "waybill": "K1",
                                                "lineItems": [{"id": order["lineItems"][0]["id"]}]}}),
        ("POST", base + "/shipments", {"json": {"carrierId": "NOPE", "waybill": "1"}}),
        ("POST", base + "/shipments", {"json": {"carrierId": "DPD", "waybill": "1", "lineItems": [{"id": "x"}]}}),
        ("POST", "/order/checkout-forms/%s/shipments" % UNKNOWN_ID, {"json": {"carrierId": "DPD", "waybill": "1"}}),
        ("GET", base + "/shipments", {}), ("GET", "/order/checkout-forms/%s/shipments" % UNKNOWN_ID, {}),
        ("POST", base + "/invoices", {"json": {"file": {"name": "FV-1.pdf"}, "invoiceNumber": "FV/1"}}),
        ("POST", base + "/invoices", {"json": {"file": {"name": "FV-2.pdf"}}}),
        ("POST", base + "/invoices", {"json": {"invoiceNumber": "no file"}}),
        ("POST", "/order/checkout-forms/%s/invoices" % UNKNOWN_ID, {"json": {"file": {"name": "a.pdf"}}}),
    ]
    for method, path, kwargs in calls:
        api.request(method, path, **kwargs)
    invoice_file = "%s/invoices/%s/file" % (base, emu.invoices(oid)[0]["id"])
    api.put(invoice_file, data=b"%PDF" + b"0" * (3 * 1024 * 1024 + 1), headers=pdf)
    api.put(invoice_file, data=b"", headers=pdf)
    api.put(invoice_file, data=PDF, headers=pdf)
    api.put(invoice_file, data=PDF, headers=pdf)
    api.put(base + "/invoices/unknown/file", data=PDF, headers=pdf)
    api.post(base + "/invoices", json={"file": {"name": "FV-3.pdf"}})
    api.get(base + "/invoices")
    api.get("/order/checkout-forms/%s/invoices" % UNKNOWN_ID)
    api.get("/sale/offers", params={"limit": 5})
    api.get("/sale/offers", params={"limit": 0})
    api.put(command, json=quantity)
    api.put(command, json=quantity)
    api.put(command[:-1] + "2", json={"modification": {"changeType": "FIXED"}})
    api.get(command)
    api.get(command + "/tasks")
    api.get(command + "/tasks", params={"limit": 0})
    api.get("/sale/offer-quantity-change-commands/unknown")
    offers = [{"type": "CONTAINS_OFFERS", "offers": [{"id": emu.offers[1]["id"]}]}]
    for kind, body in (
            ("price", {"modification": {"type": "FIXED_PRICE", "price": {"amount": "10.00", "currency": "PLN"}},
                       "offerCriteria": offers}),
            ("price", {"modification": {"type": "FIXED_PRICE", "marketplaceId": "allegro-hu",
                                        "price": {"amount": "1500", "currency": "HUF"}}, "offerCriteria": offers}),
            ("publication", {"publication": {"action": "END"}, "offerCriteria": offers}),
            ("publication", {"publication": {"action": "ACTIVATE"}, "offerCriteria": offers})):
        url = "/sale/offer-%s-commands/c0ffee00-0000-4000-8000-%012d" % (
            "price-change" if kind == "price" else kind, len(emu.requests))
        api.put(url, json=body)
        api.put(url, json=body)
        api.get(url)
        api.get(url + "/tasks")
    api.put("/sale/offer-price-change-commands/c0ffee00-0000-4000-8000-0000000000ff",
            json={"modification": {"type": "FIXED_PRICE"}, "offerCriteria": offers})
    api.put("/sale/offer-publication-commands/c0ffee00-0000-4000-8000-0000000000ff",
            json={"publication": {"action": "PAUSE"}, "offerCriteria": offers})
    api.get("/sale/offer-publication-commands/unknown")
    api.get("/sale/offer-events", params={"limit": 10})
    api.get("/sale/offer-events", params={"limit": 0})
    # Errors that every endpoint can give: no token, injected faults.
    api.get("/me", headers={"Authorization": ""})
    api.get(base + "/shipments", headers={"Authorization": "Bearer nope"})
    emu.faults.add(status=429, count=1, path_prefix="/order/checkout-forms")
    emu.faults.add(status=503, count=1, path_prefix="/sale/offers")
    api.get("/order/checkout-forms")
    api.get("/sale/offers")
    exercise_shipping(emu, api)
    exercise_messaging(emu, api)


def check_record(spec, record):
    """One served response against the spec; error bodies also against AuthError / ErrorsHolder."""
    content_type = record["response_headers"].get("Content-Type")
    binary = bool(content_type) and not content_type.endswith("json")  # labels, protocols, attachments
    body = record["response_body"] if binary else json.loads(record["response_body"]) if record["response_body"] \
        else None
    declared = spec["paths"][record["route"]][record["method"].lower()]["responses"]
    if str(record["status"]) in declared:
        validate_response(spec, record["method"], record["route"], record["status"], body, content_type)
    if record["status"] >= 400:
        # A few operations declare their errors as plain JSON (e.g. /sale/offer-events).
        media = (declared.get(str(record["status"]), {}).get("content") or {JSON_V1: None})
        assert content_type in media
        validate_schema(spec, "AuthError" if record["status"] == 401 else "ErrorsHolder", body)
    elif content_type == OCTET_STREAM:
        assert body.startswith(b"%PDF-")
    elif body is not None and not binary:
        assert content_type == (JSON_BETA if record["route"].startswith((ISSUES, RETURNS)) else JSON_V1)


def test_every_served_response_matches_the_spec(spec, emu, api):
    exercise_api(emu, api)
    served = [r for r in emu.requests if r["route"] in spec["paths"]]
    for record in served:
        check_record(spec, record)

    covered = {(r["method"], r["route"], r["status"]) for r in served}
    expected = {
        ("GET", "/me", 200), ("GET", "/me", 401), ("GET", "/marketplaces", 200), ("GET", "/order/event-stats", 200),
        ("GET", "/order/events", 200), ("GET", "/order/events", 422),
        ("GET", "/order/checkout-forms", 200), ("GET", "/order/checkout-forms", 422),
        ("GET", "/order/checkout-forms", 400), ("GET", "/order/checkout-forms", 429),
        ("GET", "/order/checkout-forms/{id}", 200), ("GET", "/order/checkout-forms/{id}", 404),
        ("GET", "/order/checkout-forms/{id}", 422),
        ("PUT", "/order/checkout-forms/{id}/fulfillment", 204), ("PUT", "/order/checkout-forms/{id}/fulfillment", 409),
        ("PUT", "/order/checkout-forms/{id}/fulfillment", 422), ("PUT", "/order/checkout-forms/{id}/fulfillment", 404),
        ("GET", "/order/carriers", 200),
        ("POST", "/order/checkout-forms/{id}/shipments", 201), ("POST", "/order/checkout-forms/{id}/shipments", 400),
        ("POST", "/order/checkout-forms/{id}/shipments", 422), ("POST", "/order/checkout-forms/{id}/shipments", 404),
        ("GET", "/order/checkout-forms/{id}/shipments", 200), ("GET", "/order/checkout-forms/{id}/shipments", 404),
        ("GET", "/order/checkout-forms/{id}/shipments", 401),
        ("GET", "/order/checkout-forms/{id}/invoices", 200), ("GET", "/order/checkout-forms/{id}/invoices", 404),
        ("POST", "/order/checkout-forms/{id}/invoices", 201), ("POST", "/order/checkout-forms/{id}/invoices", 429),
        ("POST", "/order/checkout-forms/{id}/invoices", 409), ("POST", "/order/checkout-forms/{id}/invoices", 422),
        ("POST", "/order/checkout-forms/{id}/invoices", 404),
        ("PUT", "/order/checkout-forms/{id}/invoices/{invoiceId}/file", 200),
        ("PUT", "/order/checkout-forms/{id}/invoices/{invoiceId}/file", 413),
        ("PUT", "/order/checkout-forms/{id}/invoices/{invoiceId}/file", 409),
        ("PUT", "/order/checkout-forms/{id}/invoices/{invoiceId}/file", 404),
        ("PUT", "/order/checkout-forms/{id}/invoices/{invoiceId}/file", 422),
        ("GET", "/sale/offers", 200), ("GET", "/sale/offers", 400), ("GET", "/sale/offers", 503),
        ("PUT", "/sale/offer-quantity-change-commands/{commandId}", 201),
        ("PUT", "/sale/offer-quantity-change-commands/{commandId}", 409),
        ("PUT", "/sale/offer-quantity-change-commands/{commandId}", 422),
        ("GET", "/sale/offer-quantity-change-commands/{commandId}", 200),
        ("GET", "/sale/offer-quantity-change-commands/{commandId}", 404),
        ("GET", "/sale/offer-quantity-change-commands/{commandId}/tasks", 200),
        ("GET", "/sale/offer-quantity-change-commands/{commandId}/tasks", 422),
        ("PUT", "/sale/offer-price-change-commands/{commandId}", 201),
        ("PUT", "/sale/offer-price-change-commands/{commandId}", 409),
        ("PUT", "/sale/offer-price-change-commands/{commandId}", 422),
        ("GET", "/sale/offer-price-change-commands/{commandId}", 200),
        ("GET", "/sale/offer-price-change-commands/{commandId}/tasks", 200),
        ("PUT", "/sale/offer-publication-commands/{commandId}", 201),
        ("PUT", "/sale/offer-publication-commands/{commandId}", 409),
        ("PUT", "/sale/offer-publication-commands/{commandId}", 422),
        ("GET", "/sale/offer-publication-commands/{commandId}", 200),
        ("GET", "/sale/offer-publication-commands/{commandId}", 404),
        ("GET", "/sale/offer-publication-commands/{commandId}/tasks", 200),
        ("GET", "/sale/offer-events", 200), ("GET", "/sale/offer-events", 400),
    }
    shipping = {
        ("GET", "/delivery-proposals/{orderId}", 200), ("GET", "/delivery-proposals/{orderId}", 400),
        ("GET", "/delivery-proposals/{orderId}", 404), ("GET", "/delivery-services", 200),
        ("POST", "/shipments/create-commands", 200), ("POST", "/shipments/create-commands", 400),
        ("POST", "/shipments/create-commands", 429),
        ("GET", "/shipments/create-commands/{commandId}", 200), ("GET", "/shipments/create-commands/{commandId}", 404),
        ("GET", "/shipments/{shipmentId}", 200), ("GET", "/shipments/{shipmentId}", 404),
        ("POST", "/label", 200), ("POST", "/label", 404), ("POST", "/label", 400), ("POST", "/label", 406),
        ("POST", "/protocol", 200), ("POST", "/protocol", 204), ("POST", "/protocol", 404), ("POST", "/protocol", 400),
        ("POST", "/pickup-proposals", 200), ("POST", "/pickup-proposals", 400),
        ("POST", "/pickups/create-commands", 200), ("POST", "/pickups/create-commands", 400),
        ("GET", "/pickups/create-commands/{commandId}", 200), ("GET", "/pickups/create-commands/{commandId}", 404),
        ("GET", "/pickups/{pickupId}", 200), ("GET", "/pickups/{pickupId}", 404),
        ("POST", "/shipments/cancel-commands", 200), ("POST", "/shipments/cancel-commands", 400),
        ("GET", "/shipments/cancel-commands/{commandId}", 200), ("GET", "/shipments/cancel-commands/{commandId}", 404),
    }
    expected |= {(method, SHIPPING + template, status) for method, template, status in shipping}
    operations = {(method.upper(), path) for path, operations in spec["paths"].items() if path.startswith(SHIPPING)
                  for method in operations if method != "parameters"}
    assert operations <= {(r["method"], r["route"]) for r in served}, "a Ship with Allegro operation is not emulated"
    messaging = {
        ("GET", "/threads", 200), ("GET", "/threads", 422), ("GET", "/threads", 429),
        ("GET", "/threads/{threadId}", 200), ("GET", "/threads/{threadId}", 404),
        ("PUT", "/threads/{threadId}/read", 200), ("PUT", "/threads/{threadId}/read", 422),
        ("PUT", "/threads/{threadId}/read", 404),
        ("GET", "/threads/{threadId}/messages", 200), ("GET", "/threads/{threadId}/messages", 422),
        ("GET", "/threads/{threadId}/messages", 404),
        ("POST", "/threads/{threadId}/messages", 201), ("POST", "/threads/{threadId}/messages", 422),
        ("POST", "/threads/{threadId}/messages", 404),
        ("POST", "/messages", 201), ("POST", "/messages", 422),
        ("GET", "/messages/{messageId}", 200), ("GET", "/messages/{messageId}", 404),
        ("DELETE", "/messages/{messageId}", 204), ("DELETE", "/messages/{messageId}", 403),
        ("DELETE", "/messages/{messageId}", 404),
        ("POST", "/message-attachments", 201), ("POST", "/message-attachments", 422),
        ("PUT", "/message-attachments/{attachmentId}", 200), ("PUT", "/message-attachments/{attachmentId}", 404),
        ("PUT", "/message-attachments/{attachmentId}", 413), ("PUT", "/message-attachments/{attachmentId}", 415),
        ("GET", "/message-attachments/{attachmentId}", 200), ("GET", "/message-attachments/{attachmentId}", 404),
    }
    issues = {
        ("GET", "", 200), ("GET", "", 422), ("GET", "/{issueId}", 200), ("GET", "/{issueId}", 404),
        ("GET", "/{issueId}/chat", 200), ("GET", "/{issueId}/chat", 404),
        ("POST", "/{issueId}/message", 201), ("POST", "/{issueId}/message", 400), ("POST", "/{issueId}/message", 404),
        ("POST", "/{issueId}/message", 409), ("POST", "/{issueId}/message", 422),
        ("POST", "/{issueId}/status", 200), ("POST", "/{issueId}/status", 400), ("POST", "/{issueId}/status", 403),
        ("POST", "/{issueId}/status", 404),
        ("POST", "/attachments", 201), ("POST", "/attachments", 422),
        ("PUT", "/attachments/{attachmentId}", 200), ("PUT", "/attachments/{attachmentId}", 413),
        ("PUT", "/attachments/{attachmentId}", 415),
        ("GET", "/attachments/{attachmentId}", 200), ("GET", "/attachments/{attachmentId}", 404),
    }
    expected |= {(method, MESSAGING + template, status) for method, template, status in messaging}
    expected |= {(method, ISSUES + template, status) for method, template, status in issues}
    operations = {(method.upper(), path) for path, operations in spec["paths"].items()
                  if path.startswith((MESSAGING, ISSUES)) for method in operations if method != "parameters"}
    assert operations <= {(r["method"], r["route"]) for r in served}, "a messaging or issue operation is not emulated"
    assert expected <= covered, sorted(expected - covered)


def exercise_returns(emu, api):
    """Every customer return, payment refund and refund claim endpoint, with the errors each one can give."""
    beta = {"Accept": JSON_BETA, "Content-Type": JSON_BETA}
    order = emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"},
                          lineItems=[{"offer": {"id": emu.offers[0]["id"]}, "quantity": 2}],
                          delivery={"cost": {"amount": "10.00", "currency": "PLN"}})
    line = order["lineItems"][0]
    first = emu.add_customer_return(order["id"], [(line["offer"]["id"], 1)], reason="DAMAGED", comment="Pęknięty")
    second = emu.add_customer_return(order["id"], status="DELIVERED")
    emu.add_customer_return(order["id"], status="UNKNOWN_STATUS", reason="UNKNOWN_REASON")
    api.get(RETURNS, headers=beta, params={"limit": 2})
    api.get(RETURNS, headers=beta, params={"from": first["id"], "orderId": order["id"], "status": "DELIVERED,CREATED",
                                           "createdAt.gte": first["createdAt"]})
    api.get(RETURNS, headers=beta, params={"limit": 0})
    api.get(RETURNS, headers=beta, params={"from": "unknown"})
    api.get(RETURNS)  # the public media type: 406
    api.get(RETURNS + "/" + first["id"], headers=beta)
    api.get(RETURNS + "/unknown", headers=beta)
    rejection = RETURNS + "/%s/rejection"
    api.post(rejection % first["id"], headers=beta, json={"rejection": {"code": "REFUND_REJECTED", "reason": "Used"}})
    api.post(rejection % first["id"], headers=beta, json={"rejection": {"code": "ITEM_FIXED"}})  # 422
    api.post(rejection % second["id"], headers=beta, json={"rejection": {"code": "REFUND_REJECTED"}})  # 400
    api.post(rejection % second["id"], headers=beta, json={"rejection": {"code": "NEW_ITEM_SENT"}})
    emu.faults.add(status=429, count=1, path_prefix=RETURNS)
    api.get(RETURNS, headers=beta)
    refund = {"commandId": "c0ffee00-0000-4000-8000-00000000aaa1", "payment": {"id": order["payment"]["id"]},
              "order": {"id": order["id"]}, "reason": "REFUND",
              "lineItems": [{"id": line["id"], "type": "QUANTITY", "quantity": 1}],
              "delivery": {"value": {"amount": "10.00", "currency": "PLN"}}, "sellerComment": "Zwrot"}
    api.post("/payments/refunds", json=refund)
    api.post("/payments/refunds", json=refund)  # the same command: the same refund
    by_amount = {key: value for key, value in refund.items() if key != "delivery"}
    api.post("/payments/refunds", json=dict(by_amount, commandId="c0ffee00-0000-4000-8000-00000000aaa2",
                                            lineItems=[{"id": line["id"], "type": "AMOUNT",
                                                        "value": {"amount": "1.00", "currency": "PLN"}}],
                                            reason="COMPLAINT"))
    api.post("/payments/refunds", json=dict(refund, commandId="c0ffee00-0000-4000-8000-00000000aaa3"))  # 422
    api.post("/payments/refunds", json=dict(refund, commandId="c0ffee00-0000-4000-8000-00000000aaa4",
                                            payment={"id": UNKNOWN_ID}))  # 404
    api.post("/payments/refunds", json=dict(refund, reason="BOGUS"))  # 400
    api.get("/payments/refunds", params={"order.id": order["id"], "status": ["SUCCESS", "WAITING"]})
    api.get("/payments/refunds", params={"payment.id": order["payment"]["id"], "occurredAt.gte": first["createdAt"]})
    api.get("/payments/refunds", params={"order.id": "nope"})  # 422
    api.get("/payments/refunds", headers={"Authorization": "Bearer nope"})  # 401
    claims = "/order/refund-claims"
    claim_id = api.post(claims, json={"lineItem": {"id": line["id"]}, "quantity": 1}).json()["id"]
    api.post(claims, json={"lineItem": {"id": line["id"]}, "quantity": 1})  # 422 ClaimExistsException
    api.post(claims, json={"lineItem": {"id": line["id"]}, "quantity": 0})  # 400
    api.get(claims, params={"lineItem.offer.id": line["offer"]["id"], "status": "IN_PROGRESS", "limit": 5})
    api.get(claims, params={"status": "BOGUS"})  # 422
    api.get(claims + "/" + claim_id)
    api.get(claims + "/" + UNKNOWN_ID)
    emu.set_refund_claim_status(claim_id, "GRANTED")
    api.delete(claims + "/" + claim_id)  # processed: 422
    emu.add_automatic_refund_claim(emu.add_order()["lineItems"][0]["id"])
    other = emu.add_order(status="READY_FOR_PROCESSING")["lineItems"][0]["id"]
    api.delete(claims + "/" + api.post(claims, json={"lineItem": {"id": other}, "quantity": 1}).json()["id"])
    api.delete(claims + "/" + UNKNOWN_ID)


def test_returns_refunds_and_claims_match_the_spec(spec, emu, api):
    exercise_returns(emu, api)
    served = [r for r in emu.requests if r["route"] in spec["paths"]]
    for record in served:
        check_record(spec, record)
    covered = {(r["method"], r["route"], r["status"]) for r in served}
    expected = {
        ("GET", RETURNS, 200), ("GET", RETURNS, 400), ("GET", RETURNS, 406), ("GET", RETURNS, 429),
        ("GET", RETURNS + "/{customerReturnId}", 200), ("GET", RETURNS + "/{customerReturnId}", 404),
        ("POST", RETURNS + "/{customerReturnId}/rejection", 200),
        ("POST", RETURNS + "/{customerReturnId}/rejection", 400),
        ("POST", RETURNS + "/{customerReturnId}/rejection", 422),
        ("POST", "/payments/refunds", 200), ("POST", "/payments/refunds", 400), ("POST", "/payments/refunds", 404),
        ("POST", "/payments/refunds", 422), ("GET", "/payments/refunds", 200), ("GET", "/payments/refunds", 401),
        ("GET", "/payments/refunds", 422),
        ("POST", "/order/refund-claims", 201), ("POST", "/order/refund-claims", 400),
        ("POST", "/order/refund-claims", 422), ("GET", "/order/refund-claims", 200),
        ("GET", "/order/refund-claims", 422), ("GET", "/order/refund-claims/{claimId}", 200),
        ("GET", "/order/refund-claims/{claimId}", 404), ("DELETE", "/order/refund-claims/{claimId}", 204),
        ("DELETE", "/order/refund-claims/{claimId}", 404), ("DELETE", "/order/refund-claims/{claimId}", 422),
    }
    assert expected <= covered, sorted(expected - covered)
    operations = {(method.upper(), path) for path, operations in spec["paths"].items()
                  if path.startswith((RETURNS, "/payments/refunds", "/order/refund-claims"))
                  for method in operations if method != "parameters"}
    assert operations <= {(r["method"], r["route"]) for r in served}, "a return, refund or claim operation is missing"
    valid = [r for r in served if r["json"] is not None and r["status"] < 400]
    assert {r["route"] for r in valid} == {RETURNS + "/{customerReturnId}/rejection", "/payments/refunds",
                                           "/order/refund-claims"}
    for record in valid:
        validate_request(spec, record["method"], record["route"], record["json"],
                         JSON_BETA if record["route"].startswith(RETURNS) else None)


def test_request_bodies_sent_in_the_scenario_match_the_spec(spec, emu, api):
    exercise_api(emu, api)
    valid = [r for r in emu.requests if r["json"] is not None and r["status"] < 400]
    assert {r["route"] for r in valid} >= {
        "/order/checkout-forms/{id}/fulfillment", "/order/checkout-forms/{id}/shipments",
        "/order/checkout-forms/{id}/invoices", "/sale/offer-quantity-change-commands/{commandId}",
        "/sale/offer-price-change-commands/{commandId}", "/sale/offer-publication-commands/{commandId}",
        SHIPPING + "/shipments/create-commands", SHIPPING + "/shipments/cancel-commands", SHIPPING + "/label",
        SHIPPING + "/protocol", SHIPPING + "/pickup-proposals", SHIPPING + "/pickups/create-commands",
        MESSAGING + "/threads/{threadId}/read", MESSAGING + "/threads/{threadId}/messages", MESSAGING + "/messages",
        MESSAGING + "/message-attachments", ISSUES + "/{issueId}/message", ISSUES + "/{issueId}/status",
        ISSUES + "/attachments"}
    for record in valid:
        validate_request(spec, record["method"], record["route"], record["json"])


def _dates(data):
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("boughtAt", "updatedAt", "finishedAt", "occurredAt", "from", "to", "modifiedAt"):
                yield value
            else:
                yield from _dates(value)
    elif isinstance(data, list):
        for item in data:
            yield from _dates(item)


def test_generated_orders_and_events_match_the_spec(spec):
    from allegro_emulator import AllegroEmulator

    emulator = AllegroEmulator(random_seed=11)
    orders = emulator.seed_orders(300) + emulator.seed_demo()
    orders.append(emulator.pay_order(next(o["id"] for o in orders if o["status"] == "BOUGHT")))
    orders.append(emulator.edit_delivery_address(orders[0]["id"], street="Nowa 2"))
    # The sample covers every case the emulator generates.
    assert {o["marketplace"]["id"] for o in orders} == {"allegro-pl", "allegro-cz", "allegro-sk", "allegro-hu"}
    assert {o["status"] for o in orders} == {"BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "CANCELLED"}
    assert {o["payment"]["type"] for o in orders if "payment" in o} == {"ONLINE", "CASH_ON_DELIVERY"}
    assert any("company" in o["invoice"].get("address", {}) for o in orders)
    assert any("naturalPerson" in o["invoice"].get("address", {}) for o in orders)
    assert any("pickupPoint" in o["delivery"] for o in orders)
    for order in orders:
        validate_schema(spec, "CheckoutForm", order)
        assert all(value.endswith("Z") for value in _dates(order))
    validate_schema(spec, "OrderEventsList", {"events": emulator.events})
    emulator.set_offer_stock(emulator.offers[0]["id"], 0)
    emulator.set_offer_status(emulator.offers[0]["id"], "ACTIVE")
    validate_schema(spec, "SellerOfferEventsResponse", {"offerEvents": emulator.offer_events})
    assert {e["type"] for e in emulator.offer_events} == {"OFFER_STOCK_CHANGED", "OFFER_ENDED", "OFFER_ACTIVATED"}
    assert all(e["occurredAt"].endswith("Z") for e in emulator.events)


def test_validate_request_rejects_bodies_that_break_the_spec(spec):
    shipments = "/order/checkout-forms/{id}/shipments"
    validate_request(spec, "POST", shipments, {"carrierId": "DPD", "waybill": "1", "lineItems": [{"id": "a"}]})
    for body in ({"carrierId": "DPD", "waybill": "1" * 65}, {"waybill": "1"},
                 {"carrierId": "OTHER", "waybill": "1", "carrierName": "x" * 31}):
        with pytest.raises(ContractError):
            validate_request(spec, "POST", shipments, body)
    with pytest.raises(ContractError, match="status"):
        validate_request(spec, "PUT", "/order/checkout-forms/{id}/fulfillment", {"status": "LOST"})
    with pytest.raises(ContractError):
        validate_request(spec, "POST", "/order/checkout-forms/{id}/invoices", {"invoiceNumber": "FV/1"})
    with pytest.raises(ContractError):
        validate_request(spec, "PUT", "/sale/offer-quantity-change-commands/{commandId}",
                         {"modification": {"changeType": "SET", "value": 1}})
    validate_request(spec, "PUT", "/order/checkout-forms/{id}/invoices/{invoiceId}/file", PDF, "application/pdf")
    with pytest.raises(ContractError, match="media type"):
        validate_request(spec, "PUT", "/order/checkout-forms/{id}/fulfillment", {"status": "SENT"}, "application/json")


def test_validate_response_checks_status_media_type_and_body(spec):
    me = "/me"
    validate_response(spec, "GET", me, 200, b'{"id": "1", "login": "x"}', JSON_V1 + ";charset=UTF-8")
    with pytest.raises(ContractError, match="media type"):
        validate_response(spec, "GET", me, 200, {"id": "1"}, "application/json")
    with pytest.raises(ContractError, match="not declared"):
        validate_response(spec, "GET", me, 418, {}, JSON_V1)
    with pytest.raises(ContractError, match="login"):
        validate_response(spec, "GET", me, 200, {"login": 5}, JSON_V1)
    with pytest.raises(ContractError, match="not an operation"):
        validate_response(spec, "GET", "/no/such/path", 200, {}, JSON_V1)
    with pytest.raises(ContractError):
        validate_response(spec, "GET", me, 401, {"error_description": "missing error"}, JSON_V1)


def test_load_spec_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("ALLEGRO_OPENAPI", str(tmp_path / "missing.yaml"))
    assert load_spec() is None
    with pytest.raises(ContractError, match="missing.yaml; set ALLEGRO_OPENAPI"):
        require_spec()
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("openapi: 3.0.0\npaths: {}\n", encoding="utf-8")
    monkeypatch.setenv("ALLEGRO_OPENAPI", str(tiny))
    assert load_spec() == {"openapi": "3.0.0", "paths": {}}
    assert load_spec() is load_spec()  # parsed once


def exercise_money(emu, api):
    """The fees and payment operations routes, with successes, odd data and the errors each one can give."""
    emu.seed_orders(20)
    emu.seed_money()
    order = emu.add_order(status="READY_FOR_PROCESSING")
    emu.add_billing_entry("XYZ", "0.00", name="A fee the client does not know", tax={"annotation": "OUT_OF_SCOPE"})
    commission = emu.add_billing_entry("SUC", "-3.00", order_id=order["id"], offer=order["lineItems"][0]["offer"])
    emu.reverse_billing_entry(commission["id"])
    emu.add_payment_operation("TOP_UP", "5.00")
    emu.add_payment_operation("CORRECTION", "-1.00", group="REFUND", marketplace_id="allegro-pl")
    types = "/billing/billing-types"
    api.get(types)
    api.get(types, headers={"Accept-Language": "pl-PL"})
    entries = "/billing/billing-entries"
    api.get(entries)
    api.get(entries, params={"type.id": ["SUC", "REF"], "order.id": order["id"], "limit": 5, "offset": 1})
    api.get(entries, params={"offer.id": commission["offer"]["id"], "marketplaceId": "allegro-cz",
                             "occurredAt.gte": "2020-01-01T00:00:00.000Z", "occurredAt.lte": "2100-01-01T00:00:00Z"},
            headers={"Accept-Language": "pl-PL"})
    api.get(entries, params={"limit": 101})
    api.get(entries, params={"offset": 10001})
    api.get(entries, params={"occurredAt.gte": "2030-01-02T00:00:00Z", "occurredAt.lte": "2030-01-01T00:00:00Z"})
    api.get(entries, headers={"Accept": "text/html"})
    api.get(entries, headers={"Authorization": "Bearer wrong"})
    operations = "/payments/payment-operations"
    api.get(operations)
    api.get(operations, params={"group": ["INCOME", "REFUND"], "currency": "PLN", "wallet.type": "AVAILABLE",
                                "wallet.paymentOperator": "PAYU", "marketplaceId": "allegro-pl", "limit": 50,
                                "offset": 2, "occurredAt.gte": "2020-01-01T00:00:00Z"})
    payment = next(o for o in emu.payment_operations if o["type"] == "CONTRIBUTION")
    api.get(operations, params={"payment.id": payment["payment"]["id"],
                                "participant.login": payment["participant"]["login"]})
    api.get(operations, params={"wallet.type": "WAITING"})
    api.get(operations, params={"limit": 51})
    api.get(operations, params={"group": "OTHER"})
    api.get(operations, headers={"Authorization": "Bearer wrong"})
    emu.faults.add(status=429, count=1, path_prefix="/billing")
    api.get(entries)
    emu.faults.add(status=503, count=1, path_prefix=operations)
    api.get(operations)
    emu.bulk_money(operations=10_001, days=2)
    api.get(operations)  # too many found: 422


def test_fees_and_payment_operations_match_the_spec(spec, emu, api):
    exercise_money(emu, api)
    served = [r for r in emu.requests if r["route"] in spec["paths"]]
    for record in served:
        check_record(spec, record)
    covered = {(r["method"], r["route"], r["status"]) for r in served}
    entries, operations = "/billing/billing-entries", "/payments/payment-operations"
    expected = {
        ("GET", "/billing/billing-types", 200), ("GET", entries, 200), ("GET", entries, 401),
        ("GET", entries, 406), ("GET", entries, 422), ("GET", entries, 429), ("GET", operations, 200),
        ("GET", operations, 401), ("GET", operations, 422), ("GET", operations, 503),
    }
    assert expected <= covered, sorted(expected - covered)
    bodies = [json.loads(r["response_body"]) for r in served if r["route"] == operations and r["status"] == 200]
    kinds = {o["type"] for body in bodies for o in body["paymentOperations"]}
    assert {"CONTRIBUTION", "PAYOUT", "CORRECTION", "TOP_UP"} <= kinds
    # The validator does not follow the discriminator: each operation against its type's own schema.
    mapping = spec["components"]["schemas"]["BaseOperation"]["discriminator"]["mapping"]
    for body in bodies:
        for operation in body["paymentOperations"]:
            validate_schema(spec, mapping.get(operation["type"], "#/BaseOperation").rsplit("/", 1)[-1], operation)
    with pytest.raises(ContractError):
        validate_schema(spec, "PayoutOperation", {k: v for k, v in operation.items() if k != "payout"})
