"""Customer returns, payment refunds and commission refund claims through the client,
against the emulator over real HTTP on 127.0.0.1."""

import time
import uuid
from datetime import timedelta

import pytest

from allegro_emulator import AllegroEmulator
from allegro_emulator.common import iso, utcnow
from allegro_emulator.contract import require_spec, validate_request, validate_response
from allegro_emulator.returns import RETURN_STATUSES
from test_client import CLIENT_ID, CLIENT_SECRET, api

REFUNDS = "/payments/refunds"
SWITCHES = ("refund_status", "claim_window_days")


@pytest.fixture(scope="module")
def emu():
    emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=7)
    emulator.start(host="127.0.0.1", port=0)
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def clean_emulator(emu):
    saved = {name: getattr(emu, name) for name in SWITCHES}
    emu.faults.clear()
    emu.reset_requests()
    yield
    emu.faults.clear()
    for name, value in saved.items():
        setattr(emu, name, value)


def an_order(emu, quantities=(2, 1), **overrides):
    """A paid order of one line per quantity, each of another offer."""
    items = [{"offer": {"id": emu.offers[n]["id"]}, "quantity": q} for n, q in enumerate(quantities)]
    overrides.setdefault("payment", {"type": "ONLINE"})
    return emu.add_order(status="READY_FOR_PROCESSING", lineItems=items, **overrides)


def a_return(emu, order, lines=None, **fields):
    """A return of ``lines`` (index -> quantity) of the order, default all of it."""
    items = None
    if lines:
        items = [(order["lineItems"][n]["offer"]["id"], q) for n, q in lines.items()]
    return emu.add_customer_return(order["id"], items, **fields)


# ---------------------------------------------------------------------------
# customer returns
# ---------------------------------------------------------------------------
def test_returns_read_incrementally_with_a_return_added_between_pages(emu, client):
    start = client.list_customer_returns(limit=1000)["customerReturns"]
    cursor = start[-1]["id"] if start else None
    first = [a_return(emu, an_order(emu))["id"] for _ in range(5)]
    returns = client.iter_customer_returns(from_id=cursor, page_size=2)
    read = [next(returns)["id"], next(returns)["id"]]
    added = a_return(emu, an_order(emu))["id"]  # while the list is read
    read += [r["id"] for r in returns]
    assert read == first + [added]
    assert returns.cursor == added
    requests = [r for r in emu.requests if r["path"] == "/order/customer-returns"]
    assert requests[0]["headers"]["Accept"] == api.MEDIA_TYPE_BETA
    assert [r["query"].get("from") for r in requests][1:3] == [cursor, first[1]]
    # The next run starts at the cursor: nothing read twice, a new return read.
    later = a_return(emu, an_order(emu))["id"]
    assert [r["id"] for r in client.iter_customer_returns(from_id=returns.cursor)] == [later]


def test_partial_full_and_second_return_of_one_order(emu, client):
    order = an_order(emu, (3, 1))
    partial = a_return(emu, order, {0: 1}, reason="DONT_LIKE_IT", comment="Za mały", waybill="RET-1",
                       carrier_id="DPD")
    second = a_return(emu, order, {0: 2, 1: 1}, reason="DAMAGED")
    got = client.get_customer_return(partial["id"])
    assert got["orderId"] == order["id"] and got["status"] == "CREATED"
    [item] = got["items"]
    assert (item["offerId"], item["quantity"]) == (order["lineItems"][0]["offer"]["id"], 1)
    assert item["reason"] == {"type": "DONT_LIKE_IT", "userComment": "Za mały"}
    assert item["price"] == order["lineItems"][0]["price"]
    [parcel] = got["parcels"]
    assert (parcel["waybill"], parcel["carrierId"]) == ("RET-1", "DPD")
    listed = client.list_customer_returns(order_id=order["id"])["customerReturns"]
    assert [r["id"] for r in listed] == [partial["id"], second["id"]]
    assert sum(i["quantity"] for r in listed for i in r["items"]) == 4
    full = a_return(emu, an_order(emu, (2,)))
    assert client.get_customer_return(full["id"])["items"][0]["quantity"] == 2
    assert [r["id"] for r in client.list_customer_returns(waybill="RET-1")["customerReturns"]] == [partial["id"]]


def test_every_status_and_unknown_values_kept(emu, client):
    order = an_order(emu)
    for status in RETURN_STATUSES + ("SOMETHING_NEW",):
        created = a_return(emu, order, status=status, reason="BRAND_NEW_REASON")
        got = client.get_customer_return(created["id"])
        assert got["status"] == status and got["items"][0]["reason"]["type"] == "BRAND_NEW_REASON"
    assert client.list_customer_returns(order_id=order["id"], status="SOMETHING_NEW")["count"] == 1


def test_rejection_accepted_then_refused(emu, client):
    customer_return = a_return(emu, an_order(emu))
    rejected = client.reject_customer_return(customer_return["id"], "REFUND_REJECTED", "Towar używany")
    assert rejected["status"] == "REJECTED"
    assert rejected["rejection"]["code"] == "REFUND_REJECTED" and rejected["rejection"]["reason"] == "Towar używany"
    assert emu.requests[-1]["headers"]["Content-Type"] == api.MEDIA_TYPE_BETA
    with pytest.raises(api.AllegroValidationError) as info:
        client.reject_customer_return(customer_return["id"], "ITEM_FIXED")
    assert info.value.status == 422
    finished = a_return(emu, an_order(emu), status="FINISHED")
    with pytest.raises(api.AllegroValidationError):
        client.reject_customer_return(finished["id"], "NO_RETURN_RIGHT")
    with pytest.raises(ValueError):
        client.reject_customer_return(finished["id"], "REFUND_REJECTED")  # needs a reason
    with pytest.raises(ValueError):
        client.reject_customer_return(finished["id"], "BOGUS")
    with pytest.raises(api.AllegroNotFound):
        client.get_customer_return("unknown")


# ---------------------------------------------------------------------------
# payment refunds
# ---------------------------------------------------------------------------
def refund(client, order, **kwargs):
    kwargs.setdefault("reason", "REFUND")
    return client.create_refund(str(uuid.uuid4()), order["payment"]["id"], order["id"], **kwargs)


def test_refund_by_line_item_and_delivery(emu, client):
    order = an_order(emu, (2, 1), delivery={"cost": {"amount": "12.99", "currency": "PLN"}})
    line = order["lineItems"][0]
    done = refund(client, order, line_items=[{"id": line["id"], "quantity": 1}],
                  delivery={"amount": "12.99", "currency": "PLN"}, seller_comment="Zwrot")
    assert done["status"] == "SUCCESS" and done["order"]["id"] == order["id"]
    expected = float(line["price"]["amount"]) + 12.99
    assert float(done["totalValue"]["amount"]) == pytest.approx(expected)
    assert done["lineItems"] == [{"id": line["id"], "type": "QUANTITY", "quantity": 1}]
    sent = emu.requests[-1]["json"]
    assert sent["delivery"] == {"value": {"amount": "12.99", "currency": "PLN"}} and sent["commandId"]
    by_amount = refund(client, order, line_items=[{"id": order["lineItems"][1]["id"],
                                                   "value": {"amount": "1.00", "currency": "PLN"}}])
    assert by_amount["lineItems"][0]["type"] == "AMOUNT"
    with pytest.raises(api.AllegroValidationError) as info:  # the delivery was refunded already
        refund(client, order, delivery={"amount": "1.00", "currency": "PLN"})
    assert "available: 0.00" in str(info.value)
    with pytest.raises(api.AllegroNotFound):
        client.create_refund(str(uuid.uuid4()), str(uuid.uuid4()), order["id"], "REFUND",
                             line_items=[{"id": line["id"], "quantity": 1}])
    with pytest.raises(ValueError):
        refund(client, order)  # nothing to refund
    with pytest.raises(ValueError):
        refund(client, order, reason="BOGUS", line_items=[{"id": line["id"], "quantity": 1}])


def test_refund_over_the_paid_amount_refused_with_allegros_message(emu, make_client):
    client = make_client(accept_language="pl-PL")
    order = an_order(emu, (2,))
    line = order["lineItems"][0]
    refund(client, order, line_items=[{"id": line["id"], "quantity": 2}])
    with pytest.raises(api.AllegroValidationError) as info:
        refund(client, order, line_items=[{"id": line["id"], "quantity": 1}])
    assert info.value.status == 422 and "Ilość przekroczona, dostępna: 0" in str(info.value)
    with pytest.raises(api.AllegroValidationError) as info:
        paid = order["payment"]["paidAmount"]
        refund(client, order, reason="OVERPAID", overpaid={"amount": paid["amount"], "currency": paid["currency"]})
    assert info.value.codes == ["REFUND_AMOUNT_EXCEEDED"] and "przekracza kwotę wpłaty" in str(info.value)
    assert len(client.list_refunds(order_id=order["id"])["refunds"]) == 1


@pytest.mark.parametrize("fault", ["read timeout", "connection dropped", "504"])
def test_refund_whose_answer_is_lost_is_found_by_listing_refunds(emu, make_client, fault):
    client = make_client(timeout=(2, 0.4)) if fault == "read timeout" else make_client()
    order = an_order(emu, (1,))
    line = order["lineItems"][0]
    if fault == "read timeout":  # the client gives up before the emulator, which takes the refund all the same
        emu.faults.delay(0.8, count=1, path_prefix=REFUNDS, method="POST")
    else:
        emu.faults.lose_answer(count=1, path_prefix=REFUNDS, method="POST", status=504 if fault == "504" else None)
    command_id = str(uuid.uuid4())
    with pytest.raises((api.AllegroTransportError, api.AllegroServerError)):
        client.create_refund(command_id, order["payment"]["id"], order["id"], "REFUND",
                             line_items=[{"id": line["id"], "quantity": 1}])
    deadline = time.monotonic() + 5
    while not any(r["path"] == REFUNDS for r in emu.requests) and time.monotonic() < deadline:
        time.sleep(0.05)  # the emulator is still taking the refund
    assert [r["status"] for r in emu.requests if r["path"] == REFUNDS] == [200]  # taken, never sent twice
    found = client.find_refund(order["id"], command_id, reason="REFUND")
    assert found is not None and found["lineItems"] == [{"id": line["id"], "type": "QUANTITY", "quantity": 1}]
    assert len(emu.refunds) == len({r["id"] for r in emu.refunds})
    # Sent again with the same command id, it is the same refund, not a second one.
    again = client.create_refund(command_id, order["payment"]["id"], order["id"], "REFUND",
                                 line_items=[{"id": line["id"], "quantity": 1}])
    assert again["id"] == found["id"]
    assert [r["id"] for r in client.iter_refunds(order_id=order["id"])] == [found["id"]]


def test_refund_list_filters(emu, client):
    order = an_order(emu, (3,))
    line = order["lineItems"][0]
    emu.refund_status = "NEW"
    waiting = refund(client, order, line_items=[{"id": line["id"], "quantity": 1}])
    emu.refund_status = "SUCCESS"
    done = refund(client, order, line_items=[{"id": line["id"], "quantity": 1}])
    assert [r["id"] for r in client.list_refunds(order_id=order["id"], status="WAITING")["refunds"]] == [waiting["id"]]
    listed = client.list_refunds(payment_id=order["payment"]["id"], status=["SUCCESS", "WAITING"])
    assert [r["id"] for r in listed["refunds"]] == [waiting["id"], done["id"]] and listed["totalCount"] == 2
    assert client.list_refunds(refund_id=done["id"])["refunds"][0]["id"] == done["id"]
    since = client.list_refunds(order_id=order["id"], occurred_at_gte=utcnow() + timedelta(minutes=1))
    assert since["refunds"] == []
    with pytest.raises(ValueError):
        client.list_refunds(bogus=1)


# ---------------------------------------------------------------------------
# commission refund claims
# ---------------------------------------------------------------------------
def test_refund_claim_filed_once_refused_the_second_time_statuses_moving(emu, client):
    order = an_order(emu, (2, 1))
    line = order["lineItems"][0]
    claim_id = client.create_refund_claim(line["id"], 2)["id"]
    claim = client.get_refund_claim(claim_id)
    assert claim["status"] == "IN_PROGRESS" and claim["type"] == "MANUAL" and claim["quantity"] == 2
    assert claim["lineItem"]["id"] == line["id"] and isinstance(claim["commission"]["amount"], float)
    with pytest.raises(api.AllegroValidationError) as info:
        client.create_refund_claim(line["id"], 1)
    assert info.value.codes == [api.CLAIM_EXISTS]
    for status in ("WAITING_FOR_PAYMENT_REFUND", "GRANTED"):
        emu.set_refund_claim_status(claim_id, status)
        assert client.get_refund_claim(claim_id)["status"] == status
    with pytest.raises(api.AllegroValidationError):  # processed: no longer cancellable
        client.cancel_refund_claim(claim_id)
    listed = list(client.iter_refund_claims(offer_id=line["offer"]["id"], status="GRANTED", page_size=1))
    assert claim_id in [c["id"] for c in listed]
    other = client.create_refund_claim(order["lineItems"][1]["id"], 1)["id"]
    client.cancel_refund_claim(other)
    assert client.get_refund_claim(other)["status"] == "CANCELLED"
    with pytest.raises(api.AllegroValidationError) as info:  # cancelled still counts
        client.create_refund_claim(order["lineItems"][1]["id"], 1)
    assert info.value.codes == [api.CLAIM_EXISTS]
    with pytest.raises(api.AllegroNotFound):
        client.get_refund_claim(str(uuid.uuid4()))


def test_refund_claim_refused_after_the_window_or_when_allegro_claimed_it(emu, client):
    bought = iso(utcnow() - timedelta(days=50))
    old = emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"},
                        lineItems=[{"offer": {"id": emu.offers[0]["id"]}, "quantity": 1, "boughtAt": bought}])
    with pytest.raises(api.AllegroValidationError) as info:
        client.create_refund_claim(old["lineItems"][0]["id"], 1)
    assert info.value.codes == ["ClaimTimeExceededException"]
    emu.claim_window_days = 60
    assert client.create_refund_claim(old["lineItems"][0]["id"], 1)["id"]
    order = an_order(emu, (1,))
    emu.add_automatic_refund_claim(order["lineItems"][0]["id"])
    with pytest.raises(api.AllegroValidationError) as info:
        client.create_refund_claim(order["lineItems"][0]["id"], 1)
    assert info.value.codes == [api.CLAIM_EXISTS]


# ---------------------------------------------------------------------------
# contract
# ---------------------------------------------------------------------------
def test_every_call_sends_and_reads_what_the_spec_describes(emu, client):
    spec = require_spec()
    order = an_order(emu, (2, 1), delivery={"cost": {"amount": "9.99", "currency": "PLN"}})
    line = order["lineItems"][0]
    customer_return = a_return(emu, order, {0: 1})
    client.list_customer_returns(order_id=order["id"], status=["CREATED", "DELIVERED"],
                                 created_at_gte=utcnow() - timedelta(days=1))
    list(client.iter_customer_returns(page_size=2))
    client.get_customer_return(customer_return["id"])
    client.reject_customer_return(customer_return["id"], "REFUND_REJECTED", "Brak oryginalnego opakowania")
    refund(client, order, line_items=[{"id": line["id"], "quantity": 1}],
           delivery={"amount": "9.99", "currency": "PLN"}, seller_comment="Zwrot")
    refund(client, order, reason="COMPLAINT", line_items=[{"id": order["lineItems"][1]["id"],
                                                           "value": {"amount": "1.00", "currency": "PLN"}}])
    client.list_refunds(order_id=order["id"], status=["SUCCESS"], occurred_at_gte=utcnow() - timedelta(days=1))
    claim_id = client.create_refund_claim(line["id"], 1)["id"]
    client.get_refund_claim(claim_id)
    client.list_refund_claims(offer_id=line["offer"]["id"], status="IN_PROGRESS")
    client.cancel_refund_claim(claim_id)
    checked = set()
    for record in emu.requests:
        if record["route"] not in spec["paths"]:
            continue
        checked.add((record["method"], record["route"]))
        if record["json"] is not None:
            validate_request(spec, record["method"], record["route"], record["json"],
                             record["headers"].get("Content-Type"))
        validate_response(spec, record["method"], record["route"], record["status"], record["response_body"],
                          record["response_headers"].get("Content-Type"))
    assert {(m.upper(), path) for path, operations in spec["paths"].items()
            if path.startswith(("/order/customer-returns", "/payments/refunds", "/order/refund-claims"))
            for m in operations if m != "parameters"} <= checked
