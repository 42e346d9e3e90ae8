"""Fees (billing entries) and payment operations through the client, against the emulator over real HTTP."""

from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from allegro_emulator import AllegroEmulator
from test_client import CLIENT_ID, CLIENT_SECRET, RecordingSleep, TokenProvider, api

ENTRIES = "/billing/billing-entries"
OPERATIONS = "/payments/payment-operations"


def utc(**delta):
    return datetime.now(timezone.utc) - timedelta(**delta)


@pytest.fixture
def emu():
    emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=7)
    emulator.start(host="127.0.0.1", port=0)
    yield emulator
    emulator.stop()


@pytest.fixture
def client(emu):
    oauth = api.AllegroOAuth(emu.url + "/auth/oauth", CLIENT_ID, CLIENT_SECRET, sleep=RecordingSleep())
    client = api.AllegroClient(emu.url, TokenProvider(oauth, emu.issue_tokens()), timeout=(2, 10),
                               sleep=RecordingSleep())
    yield client
    client.close()


def requests_to(emu, route):
    return [r for r in emu.requests if r["route"] == route]


def test_billing_types_are_named_in_the_clients_language(emu, client):
    assert {t["id"]: t["description"] for t in client.get_billing_types()}["SUC"] == "Sales commission"
    polish = api.AllegroClient(emu.url, client.token_provider, accept_language="pl-PL", sleep=RecordingSleep())
    try:
        assert {t["id"]: t["description"] for t in polish.get_billing_types()}["SUC"] == "Prowizja od sprzedaży"
    finally:
        polish.close()


def test_a_generated_month_is_consistent_with_the_orders(emu, client):
    emu.seed_orders(40)
    emu.seed_money()
    orders = {o["id"]: o for o in emu.orders}
    entries = list(client.iter_billing_entries(utc(days=40)))
    assert len(entries) == len({e["id"] for e in entries}) == len(
        [e for e in emu.billing_entries if e["value"]["currency"] == "PLN"])
    for entry in entries:
        if entry["type"]["id"] == "SUC":
            order = orders[entry["order"]["id"]]
            assert entry["offer"]["id"] in {item["offer"]["id"] for item in order["lineItems"]}
    for currency in ("PLN", "CZK", "HUF", "EUR"):
        operations = list(client.iter_payment_operations(utc(days=40), currency=currency))
        if not operations:
            continue
        total = sum(Decimal(o["value"]["amount"]) for o in operations)
        assert Decimal(operations[0]["wallet"]["balance"]["amount"]) == total  # newest first
        assert operations[0]["wallet"]["balance"]["amount"] == "%.2f" % emu.wallet_balance(currency)
        payments = {o["payment"]["id"] for o in operations if o["type"] == "CONTRIBUTION"}
        assert payments <= {(o.get("payment") or {}).get("id") for o in orders.values()}
    payouts = [o for o in emu.payment_operations if o["type"] == "PAYOUT"]
    assert payouts and all(o["wallet"]["balance"]["amount"] == "0.00" for o in payouts)
    for operation in payouts:
        bank = emu.payouts[operation["payout"]["id"]]
        assert bank["amount"] == operation["value"]["amount"].lstrip("-")
        assert operation["payout"]["id"] in bank["reference"]


def test_every_entry_read_once_with_equal_times_at_page_boundaries_and_entries_arriving(emu, client):
    moment = utc(hours=2).replace(microsecond=0)
    for index in range(25):  # five entries per instant: every page of 10 ends inside a group
        emu.add_billing_entry("SUC", -Decimal(index + 1), moment + timedelta(seconds=index // 5))
    arrived = []
    emu.change_during_money_listing(lambda: arrived.append(emu.add_billing_entry("FEA", "-1.00")), after_pages=1)
    # late, inside the window: it pushes every entry not read yet one place down
    emu.change_during_money_listing(lambda: arrived.append(emu.add_billing_entry("SUC", "-2.00", moment)),
                                    after_pages=2)
    first = Counter(e["id"] for e in client.iter_billing_entries(moment, page_size=10))
    assert max(first.values()) == 1
    assert arrived[1]["id"] in first and arrived[0]["id"] not in first  # the new one comes after the read's end
    read_until = max(r["query"]["occurredAt.lte"] for r in requests_to(emu, ENTRIES))
    second = Counter(e["id"] for e in client.iter_billing_entries(read_until, page_size=10))
    assert set(second) == {arrived[0]["id"]}
    assert set(first) | set(second) == {e["id"] for e in emu.billing_entries}


def test_the_offset_cap_moves_the_window_instead_of_losing_entries(emu, client, monkeypatch):
    monkeypatch.setattr(api.client, "MAX_MONEY_OFFSET", 20)
    moment = utc(hours=1).replace(microsecond=0)
    for index in range(60):
        emu.add_billing_entry("SUC", "-1.00", moment + timedelta(seconds=index // 4))
    entries = list(client.iter_billing_entries(moment, page_size=10))
    assert sorted(e["id"] for e in entries) == sorted(e["id"] for e in emu.billing_entries)
    assert any(r["query"].get("occurredAt.lte") for r in requests_to(emu, ENTRIES))


def test_billing_filters(emu, client):
    emu.seed_orders(20)
    emu.seed_money()
    entry = next(e for e in emu.billing_entries if e["type"]["id"] == "SUC" and e["value"]["currency"] == "PLN")
    by_order = list(client.iter_billing_entries(utc(days=40), order_id=entry["order"]["id"]))
    assert by_order and all(e["order"]["id"] == entry["order"]["id"] for e in by_order)
    by_offer = list(client.iter_billing_entries(utc(days=40), offer_id=entry["offer"]["id"], type_id=["SUC"]))
    assert by_offer and all(e["offer"]["id"] == entry["offer"]["id"] and e["type"]["id"] == "SUC"
                            for e in by_offer)
    fees = list(client.iter_billing_entries(utc(days=40), type_id=["FEA", "SB2"]))
    assert {e["type"]["id"] for e in fees} == {"FEA", "SB2"}
    czech = list(client.iter_billing_entries(utc(days=40), marketplace_id="allegro-cz"))
    assert all(e["value"]["currency"] == "CZK" for e in czech)
    window = list(client.iter_billing_entries(utc(days=10), utc(days=5)))
    assert all(utc(days=10) - timedelta(minutes=1) <= datetime.fromisoformat(e["occurredAt"].replace("Z", "+00:00"))
               <= utc(days=5) for e in window)
    with pytest.raises(ValueError):
        client.iter_billing_entries(utc(days=1), unknown=1)
    with pytest.raises(ValueError):
        client.list_billing_entries(limit=101)
    with pytest.raises(ValueError):
        client.list_billing_entries(offset=10001)
    with pytest.raises(ValueError):
        client.iter_billing_entries(utc(days=1), utc(days=2))


def test_payment_operation_filters(emu, client):
    emu.seed_orders(30)
    emu.seed_money()
    payouts = list(client.iter_payment_operations(utc(days=40), group=["OUTCOME"], currency="PLN"))
    assert payouts and {o["type"] for o in payouts} == {"PAYOUT"}
    contribution = next(o for o in emu.payment_operations if o["type"] == "CONTRIBUTION")
    by_payment = list(client.iter_payment_operations(utc(days=40), payment_id=contribution["payment"]["id"]))
    assert contribution["payment"]["id"] in {o["payment"]["id"] for o in by_payment}
    by_login = list(client.iter_payment_operations(
        utc(days=40), participant_login=contribution["participant"]["login"]))
    assert by_login and all(o["participant"]["login"] == contribution["participant"]["login"] for o in by_login)
    assert list(client.iter_payment_operations(utc(days=40), wallet_type="WAITING")) == []
    assert list(client.iter_payment_operations(utc(days=40), payment_operator="P24")) == []
    page = client.list_payment_operations(limit=5, currency="PLN")
    assert page["count"] == len(page["paymentOperations"]) <= 5 and page["totalCount"] >= page["count"]
    for bad in ({"wallet_type": "OTHER"}, {"payment_operator": "X"}, {"group": ["NONE"]}, {"limit": 51}):
        with pytest.raises(ValueError):
            client.list_payment_operations(**bad)


def test_odd_entries_and_operations_are_kept(emu, client):
    moment = utc(minutes=30)
    order = emu.add_order(status="READY_FOR_PROCESSING")
    odd = [
        emu.add_billing_entry("XYZ", "-3.00", moment, name="Some new fee"),
        emu.add_billing_entry("LIS", "-0.50", moment),  # no order
        emu.add_billing_entry("FEA", "0.00", moment, tax={"annotation": "OUT_OF_SCOPE"}),
    ]
    commission = emu.add_billing_entry("SUC", "-7.00", moment, order_id=order["id"],
                                       offer=order["lineItems"][0]["offer"])
    odd.append(emu.reverse_billing_entry(commission["id"], moment + timedelta(seconds=1)))
    entries = {e["id"]: e for e in client.iter_billing_entries(moment - timedelta(seconds=1))}
    assert {e["id"] for e in odd} | {commission["id"]} == set(entries)
    assert entries[odd[0]["id"]]["type"] == {"id": "XYZ", "name": "Some new fee"}
    assert entries[odd[3]["id"]]["value"]["amount"] == "7.00"
    assert entries[odd[3]["id"]]["balance"]["amount"] == entries[odd[2]["id"]]["balance"]["amount"] == "-3.50"
    emu.add_payment_operation("TOP_UP", "10.00", moment)  # a type newer than the client
    emu.add_payment_operation("CORRECTION", "-0.01", moment, group="REFUND")
    emu.add_payment_operation("CORRECTION", "-0.01", moment, group="REFUND")  # the same again: two operations
    operations = list(client.iter_payment_operations(moment - timedelta(seconds=1)))
    assert [o["type"] for o in operations] == ["CORRECTION", "CORRECTION", "TOP_UP"]
    assert operations[0]["wallet"]["balance"]["amount"] == "9.98"


def test_a_search_finding_too_many_operations_is_read_in_halves(emu, client):
    emu.bulk_money(operations=10_500, days=10)
    operations = list(client.iter_payment_operations(utc(days=11)))
    assert len(operations) == 10_500
    statuses = Counter(r["status"] for r in requests_to(emu, OPERATIONS))
    assert statuses[422] >= 1
    assert Decimal(operations[0]["wallet"]["balance"]["amount"]) == sum(
        Decimal(o["value"]["amount"]) for o in operations)


def test_faults_on_money_routes_are_retried(emu, client):
    emu.add_billing_entry("SUC", "-1.00", utc(minutes=5))
    emu.faults.add(status=429, count=1, path_prefix="/billing", retry_after=1)
    emu.faults.add(status=503, count=1, path_prefix="/payments/payment-operations")
    assert len(list(client.iter_billing_entries(utc(minutes=10)))) == 1
    assert list(client.iter_payment_operations(utc(minutes=10))) == []


def test_requests_for_a_busy_month(emu, client, capsys):
    emu.bulk_money(entries=30_000, operations=20_000)
    emu.reset_requests()
    entries = sum(1 for _ in client.iter_billing_entries(utc(days=31)))
    billing_requests = len(requests_to(emu, ENTRIES))
    operations = sum(1 for _ in client.iter_payment_operations(utc(days=31)))
    operation_requests = len(requests_to(emu, OPERATIONS))
    assert (entries, operations) == (30_000, 20_000)
    with capsys.disabled():
        print("\nA busy month: %d billing entries in %d requests, %d payment operations in %d requests "
              "(at 100 ms a request: %.0f s)" % (entries, billing_requests, operations, operation_requests,
                                                  (billing_requests + operation_requests) / 10))
