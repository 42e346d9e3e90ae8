"""Behaviour of the Allegro emulator over real HTTP on 127.0.0.1."""

import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from allegro_emulator import AllegroEmulator, testing
from allegro_emulator.catalogue import NIP_WEIGHTS
from allegro_emulator.testing import ApiSession

emu, api = testing.emu, testing.api  # the shared fixtures

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def oauth_post(emu, endpoint, secret="demo-secret", **kwargs):
    return requests.post(emu.auth_url + endpoint, auth=("demo-client", secret), timeout=10, **kwargs)


def poll(emu, device_code):
    return oauth_post(emu, "/token", params={"grant_type": DEVICE_GRANT, "device_code": device_code})


def start_device(emu):
    response = oauth_post(emu, "/device", data={"client_id": "demo-client"})
    assert response.status_code == 200
    return response.json()


def valid_nip(nip):
    return len(nip) == 10 and nip.isdigit() and sum(int(d) * w for d, w in zip(nip, NIP_WEIGHTS)) % 11 == int(nip[9])


def all_events(api, **params):
    response = api.get("/order/events", params=dict(params, limit=1000))
    assert response.status_code == 200
    return response.json()["events"]


# -- OAuth -------------------------------------------------------------------
def test_device_flow_end_to_end(emu):
    device = start_device(emu)
    assert re.fullmatch(r"[A-Z0-9]{8}", device["user_code"])
    assert device["verification_uri"] == emu.url + "/skojarz-aplikacje"
    assert device["verification_uri_complete"] == device["verification_uri"] + "?code=" + device["user_code"]
    assert (device["expires_in"], device["interval"]) == (3600, 5)

    pending = poll(emu, device["device_code"])
    assert (pending.status_code, pending.json()["error"]) == (400, "authorization_pending")

    # A person confirms on the page, as in the demo.
    page = requests.get(device["verification_uri_complete"], timeout=10)
    assert page.status_code == 200 and "Potwierdź" in page.text and device["user_code"] in page.text
    confirmed = requests.post(emu.url + "/skojarz-aplikacje", data={"code": device["user_code"], "action": "confirm"},
                              timeout=10)
    assert confirmed.status_code == 200

    tokens = poll(emu, device["device_code"])
    assert tokens.status_code == 200
    body = tokens.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 43199 and body["allegro_api"] is True
    assert body["access_token"] and body["refresh_token"] and body["jti"] and "allegro:api:orders:read" in body["scope"]
    with ApiSession(emu, body["access_token"]) as session:
        assert session.get("/me").json()["login"] == "demo-seller"

    reused = poll(emu, device["device_code"])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


def test_device_flow_python_approval_denial_expiry_and_slow_down(emu):
    first, second = start_device(emu), start_device(emu)
    assert emu.approve_device(first["user_code"]) == 1
    assert poll(emu, first["device_code"]).status_code == 200
    assert emu.deny_device(second["user_code"]) == 1
    assert poll(emu, second["device_code"]).json()["error"] == "access_denied"

    emu.device_code_lifetime = 0
    expired = start_device(emu)
    assert poll(emu, expired["device_code"]).json()["error"] == "expired_token"

    emu.device_code_lifetime = 3600
    emu.enforce_poll_interval = True
    fast = start_device(emu)
    assert poll(emu, fast["device_code"]).json()["error"] == "authorization_pending"
    assert poll(emu, fast["device_code"]).json()["error"] == "slow_down"

    emu.auto_approve = True
    assert poll(emu, start_device(emu)["device_code"]).status_code == 200


def test_approve_device_without_code_approves_every_pending_one(emu):
    devices = [start_device(emu) for _ in range(3)]
    assert emu.approve_device() == 3
    assert all(poll(emu, d["device_code"]).status_code == 200 for d in devices)


def test_wrong_client_credentials_are_refused(emu):
    for endpoint, kwargs in (("/device", {"data": {"client_id": "demo-client"}}),
                             ("/token", {"params": {"grant_type": "refresh_token", "refresh_token": "x"}})):
        response = oauth_post(emu, endpoint, secret="wrong", **kwargs)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
    assert requests.post(emu.auth_url + "/device", data={"client_id": "demo-client"}, timeout=10).status_code == 401


def test_refresh_rotates_both_tokens(emu):
    old = emu.issue_tokens()
    # Parameters in the form body work as well as in the query string.
    response = oauth_post(emu, "/token", data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]})
    assert response.status_code == 200
    new = response.json()
    assert new["access_token"] != old["access_token"] and new["refresh_token"] != old["refresh_token"]
    assert emu.refresh_count == 1

    reuse = oauth_post(emu, "/token", params={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]})
    assert reuse.status_code == 400
    assert reuse.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    assert emu.refresh_count == 1

    with ApiSession(emu, old["access_token"]) as stale, ApiSession(emu, new["access_token"]) as fresh:
        denied = stale.get("/me")
        assert denied.status_code == 401 and denied.json()["error"] == "invalid_token"
        assert fresh.get("/me").status_code == 200


def test_expired_access_and_revoked_refresh_tokens(emu, api):
    tokens = emu.issue_tokens()
    emu.expire_access_tokens()
    response = api.get("/me")
    assert response.status_code == 401
    assert response.json()["error_description"].startswith("Access token expired: ")
    emu.revoke_refresh_tokens()
    params = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refused = oauth_post(emu, "/token", params=params)
    assert refused.json()["error"] == "invalid_grant"

    emu.token_lifetime = 0  # tokens expire by time as well
    with ApiSession(emu, emu.issue_tokens()["access_token"]) as session:
        assert session.get("/me").status_code == 401


def test_api_requires_bearer_token_and_allegro_media_type(emu, api):
    anonymous = requests.get(emu.url + "/me", headers={"Accept": "application/vnd.allegro.public.v1+json"}, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    assert anonymous.headers["Content-Type"] == "application/vnd.allegro.public.v1+json"
    assert api.get("/me", headers={"Accept": "application/json"}).status_code == 406
    unknown = api.get("/no/such/resource")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"]
    emu.strict_media_types = False
    assert api.get("/me", headers={"Accept": "*/*"}).status_code == 200


# -- orders --------------------------------------------------------------------
def test_checkout_form_listing_pagination_sort_and_filters(emu, api):
    emu.seed_orders(230)
    emu.seed_demo()
    seen, offset = [], 0
    while True:
        page = api.get("/order/checkout-forms", params={"offset": offset, "limit": 100}).json()
        assert page["totalCount"] == 236 and page["count"] == len(page["checkoutForms"])
        seen += page["checkoutForms"]
        offset += 100
        if offset >= page["totalCount"]:
            break
    assert len({o["id"] for o in seen}) == 236
    bought = [max(li["boughtAt"] for li in o["lineItems"]) for o in seen]
    assert bought == sorted(bought, reverse=True)  # default sort: -lineItems.boughtAt

    def listed(**params):
        response = api.get("/order/checkout-forms", params=params)
        assert response.status_code == 200, response.text
        return response.json()["checkoutForms"]

    ascending = listed(limit=100, sort="updatedAt")
    assert ascending == sorted(ascending, key=lambda o: o["updatedAt"])
    assert listed(limit=5, sort="updatedAt") == ascending[:5]
    assert {o["status"] for o in listed(status="FILLED_IN")} == {"FILLED_IN"}
    assert {o["marketplace"]["id"] for o in listed(**{"marketplace.id": "allegro-cz"})} == {"allegro-cz"}
    assert [o["buyer"]["login"] for o in listed(**{"buyer.login": "jan_kowalski"})] == ["jan_kowalski"]
    cut = seen[50]["updatedAt"]
    newer = listed(limit=100, **{"updatedAt.gte": cut})
    assert newer and all(o["updatedAt"] >= cut for o in newer)
    # The window the journal path lists around a page of events' times.
    low, high = ascending[10]["updatedAt"], ascending[30]["updatedAt"]
    between = listed(limit=100, sort="updatedAt", **{"updatedAt.gte": low, "updatedAt.lte": high})
    assert [o["id"] for o in between] == [o["id"] for o in ascending if low <= o["updatedAt"] <= high]
    window = listed(**{"lineItems.boughtAt.gte": bought[20], "lineItems.boughtAt.lte": bought[10]})
    assert {o["id"] for o in window} == {o["id"] for o, b in zip(seen, bought) if bought[20] <= b <= bought[10]}

    emu.set_fulfillment(seen[0]["id"], "PROCESSING")
    assert [o["id"] for o in listed(**{"fulfillment.status": "PROCESSING"})] == [seen[0]["id"]]

    for params, status in (({"limit": 0}, 422), ({"limit": 101}, 422), ({"offset": -1}, 422), ({"sort": "price"}, 400),
                           ({"updatedAt.gte": "yesterday"}, 400)):
        assert api.get("/order/checkout-forms", params=params).status_code == status, params


def test_single_checkout_form_and_missing_ones(emu, api):
    order = emu.add_order()
    response = api.get("/order/checkout-forms/" + order["id"])
    assert response.status_code == 200 and response.json() == order
    assert api.get("/order/checkout-forms/not-a-uuid").status_code == 422
    assert api.get("/order/checkout-forms/00000000-0000-4000-8000-000000000000").status_code == 404
    emu.delete_order(order["id"])
    assert api.get("/order/checkout-forms/" + order["id"]).status_code == 404


def test_add_order_deep_merges_overrides_and_keeps_totals_consistent(emu):
    offer = emu.offers[1]
    order = emu.add_order(marketplace={"id": "allegro-cz"}, status="FILLED_IN", messageToSeller=None,
                          buyer={"login": "novak"}, lineItems=[{"offer": {"id": offer["id"]}, "quantity": 2}])
    assert order["buyer"]["login"] == "novak" and order["buyer"]["email"]  # merged, not replaced
    assert "messageToSeller" not in order
    item = order["lineItems"][0]
    assert item["offer"]["external"]["id"] == offer["external"]["id"] and item["price"]["currency"] == "CZK"
    expected = Decimal(item["price"]["amount"]) * 2 + Decimal(order["delivery"]["cost"]["amount"])
    assert order["summary"]["totalToPay"] == {"amount": str(expected.quantize(Decimal("0.01"))), "currency": "CZK"}
    assert order["status"] == "FILLED_IN" and "finishedAt" not in order["payment"]
    events = [e for e in emu.events if e["order"]["checkoutForm"]["id"] == order["id"]]
    assert [e["type"] for e in events] == ["BOUGHT", "FILLED_IN"]
    assert events[-1]["order"]["checkoutForm"]["revision"] == order["revision"]


def test_buyer_revision_recomputes_the_total_and_is_served(emu, api):
    order = emu.add_order(status="FILLED_IN", lineItems=[{"offer": {"id": emu.offers[0]["id"]}, "quantity": 1}],
                          delivery={"cost": {"amount": "14.99", "currency": "PLN"}})
    item_id = order["lineItems"][0]["id"]
    revised = emu.revise_order(
        order["id"], delivery={"cost": {"amount": "8.99", "currency": "PLN"}},
        lineItems=[{"id": item_id, "offer": {"id": emu.offers[0]["id"]}, "quantity": 2}])
    price = Decimal(order["lineItems"][0]["price"]["amount"])
    assert revised["summary"]["totalToPay"]["amount"] == str(price * 2 + Decimal("8.99"))
    assert revised["revision"] != order["revision"] and revised["lineItems"][0]["id"] == item_id
    assert revised["lineItems"][0]["boughtAt"] == order["lineItems"][0]["boughtAt"], "still bought when it was"
    assert emu.events[-1]["type"] == "BUYER_MODIFIED"
    assert api.get("/order/checkout-forms/" + order["id"]).json() == revised


def test_order_changes_bump_revision_and_emit_events(emu, api):
    order = emu.add_order(status="FILLED_IN")
    before = emu.events[-1]["id"]
    paid = emu.pay_order(order["id"])
    assert paid["status"] == "READY_FOR_PROCESSING" and paid["revision"] != order["revision"]
    assert paid["payment"]["paidAmount"] == paid["summary"]["totalToPay"] and paid["payment"]["finishedAt"]
    with pytest.raises(ValueError):
        emu.pay_order(order["id"])
    moved = emu.edit_delivery_address(order["id"], street="Nowa 1", city="Opole")
    assert moved["delivery"]["address"]["city"] == "Opole" and moved["delivery"]["address"]["modifiedAt"]
    emu.set_fulfillment(order["id"], "READY_FOR_SHIPMENT")
    cancelled = emu.cancel_order(order["id"])
    emu.cancel_order(emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"})["id"], auto=True)
    assert cancelled["status"] == "CANCELLED"
    new_events = all_events(api, **{"from": before})
    assert [e["type"] for e in new_events] == [
        "READY_FOR_PROCESSING", "BUYER_MODIFIED", "FULFILLMENT_STATUS_CHANGED", "BUYER_CANCELLED",
        "BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "AUTO_CANCELLED"]
    assert new_events[3]["order"]["checkoutForm"] == {"id": order["id"], "revision": cancelled["revision"]}
    with pytest.raises(KeyError):
        emu.pay_order("00000000-0000-4000-8000-000000000000")


# -- event journal ---------------------------------------------------------------
def test_event_journal_cursor_and_type_filter(emu, api):
    assert api.get("/order/event-stats").json()["latestEvent"]["id"] == "0"
    emu.seed_orders(40)
    latest = api.get("/order/event-stats").json()["latestEvent"]
    assert latest["id"] == emu.events[-1]["id"]

    collected, cursor = [], None
    while True:
        params = {"limit": 7} if cursor is None else {"limit": 7, "from": cursor}
        page = api.get("/order/events", params=params).json()["events"]
        if not page:
            break
        collected += page
        cursor = page[-1]["id"]
    assert [e["id"] for e in collected] == [e["id"] for e in emu.events]
    assert [int(e["id"]) for e in collected] == sorted(int(e["id"]) for e in collected)
    assert cursor == latest["id"]

    bought = api.get("/order/events", params=[("type", "BOUGHT"), ("type", "BUYER_CANCELLED")]).json()["events"]
    assert bought and {e["type"] for e in bought} <= {"BOUGHT", "BUYER_CANCELLED"}
    for params in ({"limit": 0}, {"limit": 1001}, {"from": "abc"}):
        assert api.get("/order/events", params=params).status_code == 422


def test_event_journal_duplicates_and_shuffle_keep_cursor_semantics(emu, api):
    emu.seed_orders(20)
    ids = [e["id"] for e in emu.events]
    emu.duplicate_events = True
    doubled = [e["id"] for e in all_events(api)]
    assert doubled == [i for i in ids for _ in (0, 1)]

    emu.duplicate_events = False
    emu.shuffle_events = True
    page = [e["id"] for e in api.get("/order/events", params={"limit": 30}).json()["events"]]
    assert page != ids[:30] and sorted(page, key=int) == ids[:30]
    rest = [e["id"] for e in all_events(api, **{"from": max(page, key=int)})]
    assert sorted(rest, key=int) == ids[30:]


# -- fulfillment, waybills, invoices ---------------------------------------------
def test_fulfillment_update_with_revision(emu, api):
    order = emu.add_order(status="READY_FOR_PROCESSING")
    url = "/order/checkout-forms/%s/fulfillment" % order["id"]
    ok = api.put(url, params={"checkoutForm.revision": order["revision"]}, json={"status": "PROCESSING"})
    assert ok.status_code == 204 and ok.content == b""
    current = emu.get_order(order["id"])
    assert current["fulfillment"]["status"] == "PROCESSING" and current["revision"] != order["revision"]
    assert current["updatedAt"] >= order["updatedAt"]
    assert emu.events[-1]["type"] == "FULFILLMENT_STATUS_CHANGED"

    stale = api.put(url, params={"checkoutForm.revision": order["revision"]}, json={"status": "SENT"})
    assert stale.status_code == 409 and stale.json()["errors"][0]["code"]
    assert api.put(url, json={"status": "RETURNED"}).status_code == 422
    assert api.put(url, json={"status": "LOST"}).status_code == 422
    assert api.put(url, json={"status": "SENT", "shipmentSummary": {"lineItemsSent": "ALL"}}).status_code == 204
    assert emu.get_order(order["id"])["fulfillment"]["status"] == "SENT"
    assert api.put("/order/checkout-forms/%s/fulfillment" % ("0" * 8 + "-0000-4000-8000-" + "0" * 12),
                   json={"status": "SENT"}).status_code == 404


def test_waybills_add_list_and_validation(emu, api):
    carriers = {c["id"] for c in api.get("/order/carriers").json()["carriers"]}
    assert {"INPOST", "DPD", "DHL", "UPS", "GLS", "POCZTA_POLSKA", "ALLEGRO", "ORLEN", "FEDEX", "OTHER"} <= carriers
    order = emu.add_order(lineItems=[{"offer": {"id": emu.offers[0]["id"]}}, {"offer": {"id": emu.offers[1]["id"]}}])
    first_item, second_item = (li["id"] for li in order["lineItems"])
    url = "/order/checkout-forms/%s/shipments" % order["id"]

    partial = api.post(url, json={"carrierId": "INPOST", "waybill": "620000000000000000000001",
                                  "lineItems": [{"id": first_item}]})
    assert partial.status_code == 201
    created = partial.json()
    assert created["id"] and created["createdAt"] and created["carrierId"] == "INPOST"
    assert created["lineItems"] == [{"id": first_item}]
    assert emu.get_order(order["id"])["fulfillment"]["shipmentSummary"]["lineItemsSent"] == "SOME"
    other = api.post(url, json={"carrierId": "OTHER", "carrierName": "Kurier Jan", "waybill": "JAN-1"})
    assert other.status_code == 201 and other.json()["carrierName"] == "Kurier Jan"
    assert len(other.json()["lineItems"]) == 2  # no lineItems = all of them
    assert emu.get_order(order["id"])["fulfillment"]["shipmentSummary"]["lineItemsSent"] == "ALL"
    assert [s["waybill"] for s in api.get(url).json()["shipments"]] == ["620000000000000000000001", "JAN-1"]

    for body, status in (({"carrierId": "NOPE", "waybill": "1"}, 400), ({"carrierId": "DPD", "waybill": "1" * 65}, 400),
                         ({"carrierId": "OTHER", "waybill": "1"}, 400),
                         ({"carrierId": "OTHER", "waybill": "1", "carrierName": "x" * 31}, 400),
                         ({"carrierId": "DPD", "waybill": "1", "lineItems": [{"id": "unknown"}]}, 422)):
        assert api.post(url, json=body).status_code == status, body
    assert len(emu.shipments(order["id"])) == 2

    emu.auto_sent_on_waybill = True
    assert emu.get_order(order["id"])["fulfillment"]["status"] == "NEW"
    assert api.post(url, json={"carrierId": "DPD", "waybill": "DPD123"}).status_code == 201
    assert emu.get_order(order["id"])["fulfillment"]["status"] == "SENT"
    assert emu.events[-1]["type"] == "FULFILLMENT_STATUS_CHANGED"


def test_invoice_metadata_and_file_flow(emu, api):
    order = emu.add_order()
    url = "/order/checkout-forms/%s/invoices" % order["id"]
    created = api.post(url, json={"file": {"name": "FV-1-2024.pdf"}, "invoiceNumber": "FV/1/2024"})
    assert created.status_code == 201
    invoice_id = created.json()["id"]
    assert api.post(url, json={"file": {"name": "again.pdf"}}).status_code == 429  # previous one has no file yet

    file_url = "%s/%s/file" % (url, invoice_id)
    pdf_headers = {"Content-Type": "application/pdf"}
    assert api.put(file_url, data=b"%PDF" + b"0" * (3 * 1024 * 1024), headers=pdf_headers).status_code == 413
    assert api.put(file_url, data=PDF, headers={"Content-Type": "image/png"}).status_code == 415
    uploaded = api.put(file_url, data=PDF, headers=pdf_headers)
    assert uploaded.status_code == 200
    assert emu.invoice_file(invoice_id) == PDF
    assert api.put(file_url, data=PDF, headers=pdf_headers).status_code == 409
    assert api.post(url, json={"file": {"name": "second.pdf"}}).status_code == 409

    listing = api.get(url).json()
    assert listing["invoices"][0]["invoiceNumber"] == "FV/1/2024"
    assert listing["invoices"][0]["file"]["securityVerification"]["status"] == "ACCEPTED"
    assert api.put("%s/%s/file" % (url, "nope"), data=PDF, headers=pdf_headers).status_code == 404
    assert api.post(url, json={"invoiceNumber": "no file"}).status_code == 422


# -- offers, account -------------------------------------------------------------
def test_offers_listing(emu, api):
    default = api.get("/sale/offers").json()
    assert default["totalCount"] == len(emu.offers) and default["count"] == min(20, len(emu.offers))
    page = api.get("/sale/offers", params={"limit": 5, "offset": 5}).json()["offers"]
    assert [o["id"] for o in page] == [o["id"] for o in emu.offers[5:10]]
    assert page[0]["external"]["id"] == "SKU-006" and page[0]["sellingMode"]["price"] == emu.offers[5]["price"]
    by_sku = api.get("/sale/offers", params=[("external.id", "SKU-001"), ("external.id", "SKU-003")]).json()
    assert [o["external"]["id"] for o in by_sku["offers"]] == ["SKU-001", "SKU-003"]
    assert api.get("/sale/offers", params={"limit": 1001}).status_code == 400
    assert all(len(o["ean"]) == 13 for o in emu.offers)


def test_offer_quantity_change_commands(emu, api):
    first, second = emu.offers[0], emu.offers[1]
    url = "/sale/offer-quantity-change-commands/11111111-2222-4333-8444-555555555555"
    body = {"modification": {"changeType": "FIXED", "value": 7},
            "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": first["id"]}, {"id": "999"}]}]}
    created = api.put(url, json=body)
    assert created.status_code == 201
    assert created.json()["taskCount"] == {"total": 2, "success": 1, "failed": 1}
    assert first["stock"]["available"] == 7
    assert api.put(url, json=body).status_code == 409
    assert api.get(url).json() == created.json()
    tasks = api.get(url + "/tasks").json()["tasks"]
    assert [t["status"] for t in tasks] == ["SUCCESS", "FAIL"] and tasks[1]["offer"]["id"] == "999"
    assert api.get(url + "/tasks", params={"offset": 1000}).status_code == 422
    assert api.get("/sale/offer-quantity-change-commands/unknown").status_code == 404

    gain = {"modification": {"changeType": "GAIN", "value": -2},
            "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": first["id"]}]}]}
    assert api.put(url[:-1] + "6", json=gain).status_code == 201 and first["stock"]["available"] == 5
    zero = {"modification": {"changeType": "FIXED", "value": 0},
            "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": second["id"]}]}]}
    assert api.put(url[:-1] + "7", json=zero).status_code == 201
    # The spec wants a FIXED quantity > 0: the task fails and the offer keeps selling.
    refused = api.get(url[:-1] + "7/tasks").json()["tasks"][0]
    assert refused["status"] == "FAIL" and "greater than 0" in refused["message"]
    assert second["publication"]["status"] == "ACTIVE" and second["stock"]["available"] == 35
    assert api.put(url[:-1] + "8", json={"modification": {"changeType": "SET"}}).status_code == 422


def _offers_body(*offers):
    return [{"type": "CONTAINS_OFFERS", "offers": [{"id": o["id"]} for o in offers]}]


def test_commands_are_asynchronous_tasks_go_from_new_to_done(emu, api):
    emu.command_delay = 0.3
    offer = emu.offers[2]
    url = "/sale/offer-quantity-change-commands/21111111-2222-4333-8444-555555555555"
    created = api.put(url, json={"modification": {"changeType": "FIXED", "value": 9},
                                 "offerCriteria": _offers_body(offer)}).json()
    assert created["completedAt"] is None and created["taskCount"] == {"total": 1, "success": 0, "failed": 0}
    assert api.get(url + "/tasks").json()["tasks"][0]["status"] == "NEW" and offer["stock"]["available"] == 80
    time.sleep(0.35)
    assert api.get(url + "/tasks").json()["tasks"][0]["status"] == "SUCCESS"
    assert api.get(url).json()["completedAt"] and offer["stock"]["available"] == 9


def test_publication_commands_end_and_activate(emu, api):
    offer = emu.offers[3]
    url = "/sale/offer-publication-commands/31111111-2222-4333-8444-55555555555"
    ended = api.put(url + "1", json={"publication": {"action": "END"}, "offerCriteria": _offers_body(offer)})
    assert ended.status_code == 201 and offer["publication"]["status"] == "ENDED"
    emu.set_offer_stock(offer["id"], 0)
    api.put(url + "2", json={"publication": {"action": "ACTIVATE"}, "offerCriteria": _offers_body(offer)})
    task = api.get(url + "2/tasks").json()["tasks"][0]
    assert task["status"] == "FAIL" and offer["publication"]["status"] == "ENDED"
    emu.set_offer_stock(offer["id"], 4)
    api.put(url + "3", json={"publication": {"action": "ACTIVATE"}, "offerCriteria": _offers_body(offer)})
    assert offer["publication"]["status"] == "ACTIVE"
    assert api.put(url + "4", json={"publication": {"action": "PAUSE"}, "offerCriteria": []}).status_code == 422


def test_price_commands_per_marketplace(emu, api):
    offer = emu.offers[4]
    url = "/sale/offer-price-change-commands/41111111-2222-4333-8444-55555555555"
    body = {"modification": {"type": "FIXED_PRICE", "price": {"amount": "149.00", "currency": "PLN"}},
            "offerCriteria": _offers_body(offer)}
    assert api.put(url + "1", json=body).status_code == 201 and offer["price"]["amount"] == "149.00"
    body["modification"].update(price={"amount": "899.50", "currency": "CZK"}, marketplaceId="allegro-cz")
    api.put(url + "2", json=body)
    assert api.get(url + "2/tasks").json()["tasks"][0]["status"] == "FAIL"  # CZK prices are whole
    body["modification"]["price"]["amount"] = "899"
    api.put(url + "3", json=body)
    listed = api.get("/sale/offers", params={"offer.id": offer["id"]}).json()["offers"][0]
    assert listed["additionalMarketplaces"]["allegro-cz"]["sellingMode"]["price"] == {
        "amount": "899.00", "currency": "CZK"}


def test_offer_event_journal(emu, api):
    offer = emu.offers[5]
    emu.set_offer_stock(offer["id"], 3)
    emu.set_offer_stock(offer["id"], 0)
    events = api.get("/sale/offer-events").json()["offerEvents"]
    assert [e["type"] for e in events] == ["OFFER_STOCK_CHANGED", "OFFER_STOCK_CHANGED", "OFFER_ENDED"]
    assert {e["offer"]["id"] for e in events} == {offer["id"]}
    after = api.get("/sale/offer-events", params={"from": events[0]["id"], "type": "OFFER_ENDED"}).json()
    assert [e["type"] for e in after["offerEvents"]] == ["OFFER_ENDED"]
    assert api.get("/sale/offer-events", params={"limit": 1001}).status_code == 400


def test_refused_offer_changes_fail_their_task_only(emu, api):
    first, second = emu.offers[6], emu.offers[7]
    emu.refuse_offer_changes(first["id"], "Offer is blocked.")
    url = "/sale/offer-quantity-change-commands/51111111-2222-4333-8444-555555555555"
    api.put(url, json={"modification": {"changeType": "FIXED", "value": 2},
                       "offerCriteria": _offers_body(first, second)})
    tasks = api.get(url + "/tasks").json()["tasks"]
    assert [t["status"] for t in tasks] == ["FAIL", "SUCCESS"] and tasks[0]["message"] == "Offer is blocked."
    assert first["stock"]["available"] == 15 and second["stock"]["available"] == 2


def test_me_and_marketplaces(emu, api):
    me = api.get("/me").json()
    assert (me["id"], me["login"], me["baseMarketplace"]["id"]) == ("12345678", "demo-seller", "allegro-pl")
    marketplaces = {m["id"]: m["currencies"]["base"]["code"] for m in api.get("/marketplaces").json()["marketplaces"]}
    assert marketplaces == {"allegro-pl": "PLN", "allegro-cz": "CZK", "allegro-sk": "EUR", "allegro-hu": "HUF"}


# -- faults, request log ---------------------------------------------------------
def test_fault_429_with_retry_after_then_recovery(emu, api):
    emu.faults.add(status=429, count=2, path_prefix="/order", retry_after=3)
    for _ in range(2):
        limited = api.get("/order/checkout-forms")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
        assert limited.json()["errors"][0]["code"]
    assert api.get("/me").status_code == 200  # other paths are not affected
    assert api.get("/order/checkout-forms").status_code == 200

    emu.faults.add(status=429, count=1, path_prefix="/order", method="POST")
    assert api.get("/order/carriers").status_code == 200


def test_fault_500_503_and_clear(emu, api):
    emu.faults.add(status=503, count=None, path_prefix="/me", retry_after=None)
    for _ in range(3):
        unavailable = api.get("/me")
        assert unavailable.status_code == 503 and "Retry-After" not in unavailable.headers
        assert unavailable.json()["errors"][0]["message"]
    emu.faults.clear()
    emu.faults.add(status=500, path_prefix="/auth/oauth/token")
    tokens = emu.issue_tokens()
    params = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert oauth_post(emu, "/token", params=params).status_code == 500
    assert oauth_post(emu, "/token", params=params).status_code == 200
    assert api.get("/me").status_code == 200


def test_lost_answer_processes_the_request_then_drops_or_replaces_its_answer(emu, api):
    order = emu.add_order()
    path = "/order/checkout-forms/%s/shipments" % order["id"]
    body = {"carrierId": "INPOST", "waybill": "LOST-1"}
    emu.faults.lose_answer(count=1, path_prefix=path, method="POST")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(path, json=body)
    emu.faults.lose_answer(count=1, path_prefix=path, method="POST", status=504)
    assert api.post(path, json=dict(body, waybill="LOST-2")).status_code == 504
    # Both were made, as when Allegro's gateway gives up on a finished request.
    assert [s["waybill"] for s in emu.shipments(order["id"])] == ["LOST-1", "LOST-2"]
    assert [r["answer_lost"] for r in emu.requests if r.path == path] == [True, True]
    assert emu.duplicates() == {"shipments": 0, "invoices": 0}
    assert api.post(path, json=body).status_code == 201  # no fault left: answered
    assert emu.duplicates() == {"shipments": 1, "invoices": 0}
    control = requests.get(emu.url + "/_emulator/duplicates", timeout=10).json()
    assert control == {"shipments": 1, "invoices": 0}


def test_fault_delay_triggers_client_timeout(emu, api):
    emu.faults.delay(0.6, count=1, path_prefix="/order/events")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get("/order/events", timeout=0.2)
    assert api.get("/order/events", timeout=2).status_code == 200
    assert time.monotonic() - started < 1.5


def test_requests_are_recorded(emu, api):
    emu.reset_requests()
    order = emu.add_order()
    api.put("/order/checkout-forms/%s/fulfillment" % order["id"], params={"checkoutForm.revision": order["revision"]},
            json={"status": "PROCESSING"})
    api.get("/order/events", params=[("type", "BOUGHT"), ("type", "FILLED_IN"), ("limit", "5")])
    requests.get(emu.url + "/_emulator/stats", timeout=10)  # control calls are not recorded
    put, get = emu.requests
    assert (put["method"], put.path, put["route"], put["status"]) == (
        "PUT", "/order/checkout-forms/%s/fulfillment" % order["id"], "/order/checkout-forms/{id}/fulfillment", 204)
    assert put["query"] == {"checkoutForm.revision": order["revision"]} and put["json"] == {"status": "PROCESSING"}
    assert put.headers.get("authorization").startswith("Bearer ") and put["headers"]["Accept"] == api.headers["Accept"]
    assert get["query"] == {"type": ["BOUGHT", "FILLED_IN"], "limit": "5"} and get["response_body"].startswith(b"{")
    emu.reset_requests()
    assert emu.requests == []


def test_control_endpoints(emu):
    def control(method, path, **kwargs):
        response = requests.request(method, emu.url + "/_emulator/" + path, timeout=10, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    demo = control("POST", "seed_demo")["orders"]
    assert len(demo) == 6
    assert control("POST", "seed", json={"n": 5})["created"] == 5
    unpaid = next(o for o in emu.orders if o["status"] == "FILLED_IN")
    assert control("POST", "pay/" + unpaid["id"])["status"] == "READY_FOR_PROCESSING"
    assert control("POST", "cancel/" + demo[0], json={"auto": True})["status"] == "CANCELLED"
    assert emu.events[-1]["type"] == "AUTO_CANCELLED"
    start_device(emu)
    assert control("POST", "approve", json={})["approved"] == 1
    control("POST", "faults", json={"status": 503, "count": 1, "path_prefix": "/me", "retry_after": 2})
    control("POST", "faults", json={"delay": 0.1, "path_prefix": "/me"})
    with ApiSession(emu, emu.issue_tokens()["access_token"]) as session:
        assert session.get("/me").status_code == 503
    control("DELETE", "faults")
    assert control("POST", "orders", json={"status": "FILLED_IN"})["status"] == "FILLED_IN"
    stats = control("GET", "stats")
    assert stats["orders"] == 12 and stats["events"] == len(emu.events) and stats["refreshCount"] == 0
    assert requests.post(emu.url + "/_emulator/pay/unknown", timeout=10).status_code == 404


# -- generated data --------------------------------------------------------------
def test_seed_orders_is_fast_varied_and_consistent():
    emulator = AllegroEmulator(random_seed=7)  # no server needed for the data
    started = time.monotonic()
    orders = emulator.seed_orders(2000)
    assert time.monotonic() - started < 5
    assert len({o["id"] for o in orders}) == 2000

    # Some buyers pay for additional services or deposits too.
    assert any("deposit" in li for o in orders for li in o["lineItems"])
    assert any("selectedAdditionalServices" in li for o in orders for li in o["lineItems"])
    skus = {o["external"]["id"] for o in emulator.offers}
    for order in orders:
        items = order["lineItems"]
        assert 1 <= len(items) <= 3 and all(li["offer"]["external"]["id"] in skus for li in items)
        currency = order["summary"]["totalToPay"]["currency"]
        total = sum(Decimal(li["price"]["amount"]) * li["quantity"] for li in items)
        total += sum(Decimal(s["price"]["amount"]) * s["quantity"]
                     for li in items for s in li.get("selectedAdditionalServices", []))
        total += sum(Decimal(li["deposit"]["price"]["amount"]) * li["quantity"] for li in items if "deposit" in li)
        total += Decimal(order["delivery"]["cost"]["amount"])
        assert order["summary"]["totalToPay"]["amount"] == str(total.quantize(Decimal("0.01")))
        assert all(re.fullmatch(r"\d+\.\d\d", li["price"]["amount"]) and li["price"]["currency"] == currency
                   for li in items)
        payment = order.get("payment", {})
        settled = bool(payment.get("finishedAt")) or payment.get("type") == "CASH_ON_DELIVERY"
        assert (order["status"] == "READY_FOR_PROCESSING") == settled
        if payment.get("paidAmount"):
            assert payment["paidAmount"] == order["summary"]["totalToPay"]
        for company_id in order["invoice"].get("address", {}).get("company", {}).get("ids", []):
            assert company_id["type"] != "PL_NIP" or valid_nip(company_id["value"])

    currencies = {(o["marketplace"]["id"], o["summary"]["totalToPay"]["currency"]) for o in orders}
    assert currencies == {("allegro-pl", "PLN"), ("allegro-cz", "CZK"), ("allegro-sk", "EUR"), ("allegro-hu", "HUF")}
    assert {o["status"] for o in orders} == {"BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "CANCELLED"}
    assert {o["payment"]["type"] for o in orders if "payment" in o} == {"ONLINE", "CASH_ON_DELIVERY"}
    lockers = [o["delivery"]["pickupPoint"]["id"] for o in orders if "pickupPoint" in o["delivery"]]
    assert len(lockers) > 100 and all(re.fullmatch(r"[A-Z]{3}\d\d[AMN]", code) for code in lockers)
    companies = [o for o in orders if "company" in o["invoice"].get("address", {})]
    assert len(companies) > 100 and all(o["invoice"]["required"] and o["buyer"]["companyName"] for o in companies)
    plain = sum(1 for o in orders if o["marketplace"]["id"] == "allegro-pl")
    assert 0.7 < plain / 2000 < 0.9

    occurred = [e["occurredAt"] for e in emulator.events]
    assert occurred == sorted(occurred)  # seeded history reads in time order
    last = {e["order"]["checkoutForm"]["id"]: e for e in emulator.events}
    assert all(last[o["id"]]["order"]["checkoutForm"]["revision"] == o["revision"] for o in orders)


def test_random_seed_makes_data_repeatable():
    ids = [[o["id"] for o in AllegroEmulator(random_seed=3).seed_orders(20)] for _ in range(2)]
    assert ids[0] == ids[1]


def test_seed_demo_covers_the_typical_cases():
    demo = AllegroEmulator(random_seed=1).seed_demo()
    logins = ["jan_kowalski", "petr_novak", "nowak_consulting", "piotr_w", "kasia_wojcik", "tomek_kam"]
    assert [o["buyer"]["login"] for o in demo] == logins
    private, czech, company, cod, locker, unpaid = demo
    assert private["payment"]["type"] == "ONLINE" and private["status"] == "READY_FOR_PROCESSING"
    assert "pickupPoint" not in private["delivery"] and not private["invoice"]["required"]
    assert czech["marketplace"]["id"] == "allegro-cz" and czech["summary"]["totalToPay"]["currency"] == "CZK"
    nip = company["invoice"]["address"]["company"]["ids"][0]
    assert company["invoice"]["required"] and nip["type"] == "PL_NIP" and valid_nip(nip["value"])
    assert cod["payment"]["type"] == "CASH_ON_DELIVERY" and cod["status"] == "READY_FOR_PROCESSING"
    assert locker["delivery"]["pickupPoint"]["id"] == "GDA01M"
    assert unpaid["status"] == "FILLED_IN" and "finishedAt" not in unpaid["payment"]
    method_costs = {o["delivery"]["method"]["name"]: o["delivery"]["cost"]["amount"] for o in demo[2:]}
    assert method_costs["Allegro Kurier DPD pobranie"] == "17.99"


def test_command_line_serves_until_terminated():
    tests_dir = Path(__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=str(tests_dir))
    process = subprocess.Popen([sys.executable, "-m", "allegro_emulator", "--port", "0", "--seed-demo", "--seed", "3",
                                "--auto-approve", "--quiet"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = process.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        stats = requests.get(url + "/_emulator/stats", timeout=10).json()
        assert stats["orders"] == 9
        device = requests.post(url + "/auth/oauth/device", auth=("demo-client", "demo-secret"), timeout=10).json()
        tokens = requests.post(url + "/auth/oauth/token", auth=("demo-client", "demo-secret"), timeout=10,
                               params={"grant_type": DEVICE_GRANT, "device_code": device["device_code"]})
        assert tokens.status_code == 200  # --auto-approve
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_offer_control_endpoints(emu):
    base = emu.url + "/_emulator/offers"
    assert requests.post(base + "/seed", json={"n": 3, "stock": 4}, timeout=5).json()["offers"] == 18
    offer = emu.offers[-1]
    changed = requests.post(base + "/%s/stock" % offer["id"], json={"available": 0}, timeout=5).json()
    assert changed["stock"]["available"] == 0 and changed["publication"]["status"] == "ENDED"
    assert emu.offer_events[-1]["offer"]["publication"] == {"endedBy": "USER"}
