"""Allegro HTTP client against the Allegro emulator, over real HTTP on 127.0.0.1.

The client package (allegro_connector/allegro_api) is loaded straight from its
directory under the name ``allegro_api``: importing ``allegro_connector``
would run the addon's ``__init__`` and pull in Odoo, which the client must not
need.  Only that one package name is registered, nothing is added to sys.path
for it (putting the addon directory on sys.path would expose its ``models``,
``tests``... as top-level packages).
"""

import email.utils
import logging
import math
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent

if str(TESTS_DIR) not in sys.path:  # for the emulator when run without -o pythonpath=tests
    sys.path.insert(0, str(TESTS_DIR))

from allegro_api_standalone import API_DIR, api  # noqa: E402
from allegro_emulator import AllegroEmulator  # noqa: E402

PUBLIC = "application/vnd.allegro.public.v1+json"
BETA = "application/vnd.allegro.beta.v1+json"
CLIENT_ID, CLIENT_SECRET = "demo-client", "demo-secret"


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def emu():
    emulator = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=7)
    emulator.start(host="127.0.0.1", port=0)
    emulator.seed_demo()
    emulator.seed_orders(20)
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def clean_emulator(emu):
    emu.faults.clear()
    emu.reset_requests()
    saved = {name: getattr(emu, name) for name in (
        "duplicate_events", "shuffle_events", "enforce_poll_interval", "device_code_lifetime")}
    yield
    emu.faults.clear()
    for name, value in saved.items():
        setattr(emu, name, value)


class TokenProvider:
    """What the Odoo side will do: cached tokens, refreshed on demand (rotation)."""

    def __init__(self, oauth, token_response):
        self.oauth = oauth
        self.tokens = api.TokenSet.from_response(token_response)
        self.calls = []

    def __call__(self, force_refresh=False):
        self.calls.append(force_refresh)
        if force_refresh:
            self.tokens = self.oauth.refresh(self.tokens.refresh_token)
        return self.tokens.access_token


class RecordingSleep:
    def __init__(self, real=0.0):
        self.waits = []
        self.real = real

    def __call__(self, seconds):
        self.waits.append(seconds)
        if self.real:
            time.sleep(self.real)


def a_paid_order(emu):
    return emu.add_order(status="READY_FOR_PROCESSING")


def dead_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------
# package
# ---------------------------------------------------------------------------
def test_package_loads_without_odoo():
    code = (
        "import importlib.util, sys\n"
        "d = sys.argv[1]\n"
        "spec = importlib.util.spec_from_file_location('allegro_api', d + '/__init__.py',"
        " submodule_search_locations=[d])\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['allegro_api'] = m; spec.loader.exec_module(m)\n"
        "bad = sorted(n for n in sys.modules if n == 'odoo' or n.startswith(('odoo.', 'allegro_connector')))\n"
        "assert not bad, bad\n"
        "print(m.AllegroClient.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(API_DIR)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "AllegroClient"


def test_package_uses_relative_imports_only():
    for source in API_DIR.glob("*.py"):
        for line in source.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import odoo", "from odoo", "from allegro", "import allegro")), \
                "%s: %s" % (source.name, stripped)


# ---------------------------------------------------------------------------
# headers, basic calls
# ---------------------------------------------------------------------------
def test_headers_and_basic_calls(emu, make_client):
    client = make_client(accept_language="pl-PL")
    me = client.get_me()
    assert me["login"] == emu.seller_login
    record = emu.requests[-1]
    headers = record["headers"]
    assert headers["Accept"] == PUBLIC
    assert headers["Content-Type"] == PUBLIC
    assert headers["Accept-Language"] == "pl-PL"
    assert headers["User-Agent"] == "allegro_connector/19.0 (+odoo)"
    assert headers["Authorization"].startswith("Bearer ey")
    carriers = client.get_carriers()["carriers"]
    assert {"id": "OTHER"} in carriers or any(c["id"] == "OTHER" for c in carriers)
    assert client.get_order_event_stats()["latestEvent"]["id"].isdigit()
    assert client.request_count == 3


def test_no_accept_language_by_default(emu, client):
    client.get_me()
    assert "Accept-Language" not in emu.requests[-1]["headers"]


def test_refusal_in_polish_where_allegro_speaks_it(emu, make_client):
    order = a_paid_order(emu)
    client = make_client(accept_language="pl-PL")
    with pytest.raises(api.AllegroValidationError) as caught:
        client.add_shipment(order["id"], "NOPE", "PL-1")
    # Allegro's media type names no charset: the message is read as UTF-8.
    assert caught.value.user_message == "Nieznany identyfikator przewoźnika NOPE"
    client.set_fulfillment_status(order["id"], "PROCESSING")
    client.get_invoices(order["id"])
    # These operations take en-US only (the specification's enum).
    assert [r["headers"].get("Accept-Language") for r in emu.requests[-3:]] == ["pl-PL", None, None]


def test_one_session_per_client_and_timeout_is_passed(emu, make_client):
    seen = []

    import requests

    class Spy(requests.Session):
        def request(self, *args, **kwargs):
            seen.append(kwargs.get("timeout"))
            return super().request(*args, **kwargs)

    session = Spy()
    client = make_client(session=session, timeout=(3, 7))
    client.get_me()
    client.get_carriers()
    assert client.session is session
    assert seen == [(3, 7), (3, 7)]
    assert api.AllegroClient(emu.url, lambda force_refresh=False: "x")._transport.timeout == (5, 30)


def test_beta_media_type_through_generic_request(emu, client):
    page = client.request("GET", "/order/customer-returns", media_type=api.MEDIA_TYPE_BETA)
    assert page["customerReturns"] == [] and page["count"] == 0
    assert emu.requests[-1]["headers"]["Accept"] == BETA


# ---------------------------------------------------------------------------
# retries
# ---------------------------------------------------------------------------
def test_429_retried_honouring_retry_after(emu, client, sleep, caplog):
    caplog.set_level(logging.WARNING)
    emu.faults.add(status=429, count=2, path_prefix="/order/checkout-forms", retry_after=2)
    page = client.list_checkout_forms(limit=5)
    assert page["checkoutForms"]
    assert sleep.waits == [2.0, 2.0]
    assert client.request_count == 3
    assert [r["status"] for r in emu.requests] == [429, 429, 200]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("allegro_api")]
    assert len(warnings) == 2
    assert "HTTP 429; retry 1/3 in 2.00 s" in warnings[0].getMessage()


def test_retry_after_as_http_date(emu, client, sleep):
    when = email.utils.formatdate(time.time() + 4, usegmt=True)
    emu.faults.add(status=429, count=1, path_prefix="/me", retry_after=when)
    client.get_me()
    assert len(sleep.waits) == 1
    assert 2.0 <= sleep.waits[0] <= 4.0


def test_500_and_503_retried_then_success(emu, client, sleep):
    emu.faults.add(status=500, count=1, path_prefix="/me")
    emu.faults.add(status=503, count=1, path_prefix="/me", retry_after=1)
    assert client.get_me()["login"]
    assert sleep.waits == [0.5, 1.0]  # exponential backoff, then the 503's Retry-After
    assert client.request_count == 3


def test_gives_up_after_max_retries_with_error_body(emu, client, sleep):
    emu.faults.add(status=500, count=10, path_prefix="/me")
    with pytest.raises(api.AllegroServerError) as info:
        client.get_me()
    err = info.value
    assert err.status == 500
    assert err.retryable
    assert err.codes == ["InternalServerError"]
    assert err.errors[0]["userMessage"] == "Internal server error. Try again later."
    assert "Internal server error. Try again later." in str(err)
    assert "after 3 retries" in str(err)
    assert err.response_body["errors"][0]["code"] == "InternalServerError"
    assert sleep.waits == [0.5, 1.0, 2.0]
    assert client.request_count == 4


def test_max_retries_is_configurable(emu, make_client, sleep):
    client = make_client(max_retries=1)
    emu.faults.add(status=502, count=5, path_prefix="/me")
    with pytest.raises(api.AllegroServerError):
        client.get_me()
    assert client.request_count == 2
    assert sleep.waits == [0.5]


def test_retry_after_beyond_max_wait_raises_at_once(emu, client, sleep):
    emu.faults.add(status=429, count=1, path_prefix="/me", retry_after=120)
    with pytest.raises(api.AllegroRateLimited) as info:
        client.get_me()
    assert info.value.retry_after == 120
    assert info.value.retryable
    assert sleep.waits == []
    assert client.request_count == 1


def test_wait_budget_is_per_call(emu, make_client, sleep):
    client = make_client(max_wait=5)
    emu.faults.add(status=429, count=3, path_prefix="/me", retry_after=2)
    with pytest.raises(api.AllegroRateLimited) as info:
        client.get_me()
    assert sleep.waits == [2.0, 2.0]  # the third wait would exceed the 5 s budget
    assert info.value.retry_after == 2
    assert client.request_count == 3
    # the next call has its own budget
    emu.faults.add(status=429, count=1, path_prefix="/me", retry_after=2)
    client.get_me()
    assert sleep.waits == [2.0, 2.0, 2.0]


def test_429_after_all_retries(emu, client, sleep):
    emu.faults.add(status=429, count=10, path_prefix="/me", retry_after=1)
    with pytest.raises(api.AllegroRateLimited) as info:
        client.get_me()
    assert info.value.status == 429
    assert info.value.retry_after == 1
    assert sleep.waits == [1.0, 1.0, 1.0]
    assert client.request_count == 4


def test_read_timeout_retried_then_success(emu, make_client, sleep):
    client = make_client(timeout=(2, 0.5))
    emu.faults.delay(1.2, count=1, path_prefix="/me")
    assert client.get_me()["login"]
    assert sleep.waits == [0.5]
    assert client.request_count == 2


def test_read_timeout_gives_up_with_transport_error(emu, make_client, sleep):
    client = make_client(timeout=(2, 0.4))
    emu.faults.delay(0.8, count=4, path_prefix="/me")
    with pytest.raises(api.AllegroTransportError) as info:
        client.get_me()
    assert info.value.retryable
    assert "ReadTimeout" in str(info.value)
    assert sleep.waits == [0.5, 1.0, 2.0]
    assert client.request_count == 4


def test_connection_refused_retried_then_transport_error(make_client, sleep):
    client = make_client()
    client._transport.base_url = "http://127.0.0.1:%d" % dead_port()
    with pytest.raises(api.AllegroTransportError):
        client.get_me()
    assert client.request_count == 4


def test_post_not_retried_on_500(emu, client, sleep):
    order = a_paid_order(emu)
    emu.faults.add(status=500, count=1, path_prefix="/order/checkout-forms/%s/shipments" % order["id"], method="POST")
    with pytest.raises(api.AllegroServerError):
        client.add_shipment(order["id"], "DPD", "DPD0001")
    assert client.request_count == 1
    assert sleep.waits == []


def test_post_retried_on_429_and_503(emu, client, sleep):
    order = a_paid_order(emu)
    path = "/order/checkout-forms/%s/shipments" % order["id"]
    emu.faults.add(status=429, count=1, path_prefix=path, method="POST", retry_after=1)
    emu.faults.add(status=503, count=1, path_prefix=path, method="POST", retry_after=2)
    shipment = client.add_shipment(order["id"], "DPD", "DPD0002")
    assert shipment["waybill"] == "DPD0002"
    assert sleep.waits == [1.0, 2.0]
    assert len(emu.shipments(order["id"])) == 1


def test_post_not_retried_on_read_timeout(emu, make_client, sleep):
    """The server may have processed it: a retry could add the waybill twice."""
    client = make_client(timeout=(2, 0.4))
    order = a_paid_order(emu)
    emu.faults.delay(0.8, count=1, path_prefix="/order/checkout-forms/%s/shipments" % order["id"], method="POST")
    with pytest.raises(api.AllegroTransportError):
        client.add_shipment(order["id"], "DPD", "DPD0003")
    assert client.request_count == 1
    assert sleep.waits == []
    deadline = time.time() + 3
    while not emu.shipments(order["id"]) and time.time() < deadline:
        time.sleep(0.05)
    assert len(emu.shipments(order["id"])) == 1  # it did go through


def test_post_retried_when_connection_refused(make_client, sleep):
    client = make_client()
    client._transport.base_url = "http://127.0.0.1:%d" % dead_port()
    with pytest.raises(api.AllegroTransportError):
        client.create_invoice(str(uuid.uuid4()), "invoice.pdf")
    assert client.request_count == 4  # never sent, so safe to retry


# ---------------------------------------------------------------------------
# 401 and token refresh
# ---------------------------------------------------------------------------
def test_401_refreshes_token_once_then_succeeds(emu, client, provider):
    client.get_me()
    before = emu.refresh_count
    emu.expire_access_tokens()
    assert client.get_me()["login"] == emu.seller_login
    assert provider.calls == [False, False, True]
    assert emu.refresh_count == before + 1
    assert client.request_count == 3
    assert [r["status"] for r in emu.requests] == [200, 401, 200, 200]  # 2nd call: 401, refresh, replay


def test_second_401_raises_auth_error(emu, make_client):
    calls = []

    def bad_provider(force_refresh=False):
        calls.append(force_refresh)
        return "not-a-valid-token-%d" % len(calls)

    client = make_client(token_provider=bad_provider)
    with pytest.raises(api.AllegroAuthError) as info:
        client.get_me()
    assert calls == [False, True]
    assert client.request_count == 2
    assert info.value.status == 401
    assert not info.value.retryable
    assert info.value.codes == ["invalid_token"]


# ---------------------------------------------------------------------------
# typed errors
# ---------------------------------------------------------------------------
def test_404_not_found(client):
    missing = str(uuid.uuid4())
    with pytest.raises(api.AllegroNotFound) as info:
        client.get_checkout_form(missing)
    err = info.value
    assert err.status == 404 and not err.retryable
    assert err.codes == ["NotFoundException"]
    assert "Order %s not found" % missing in str(err)
    assert err.user_message == "Order %s not found" % missing


def test_409_outdated_revision(emu, client):
    order = a_paid_order(emu)
    with pytest.raises(api.AllegroConflict) as info:
        client.set_fulfillment_status(order["id"], "PROCESSING", revision="00000000")
    assert info.value.status == 409
    assert info.value.codes == ["OUTDATED_REVISION"]
    assert "is outdated" in str(info.value)
    assert "path: checkoutForm.revision" in str(info.value)


def test_422_and_400_validation_errors(emu, client):
    with pytest.raises(api.AllegroValidationError) as info:
        client.get_checkout_form("not-a-uuid")
    assert info.value.status == 422
    assert "not a valid UUID" in str(info.value)
    order = a_paid_order(emu)
    with pytest.raises(api.AllegroValidationError) as info:
        client.add_shipment(order["id"], "NO_SUCH_CARRIER", "X1")
    assert info.value.status == 400
    assert "Unknown carrier id" in str(info.value)


def test_403_forbidden(emu, client):
    emu.faults.add(status=403, count=1, path_prefix="/me")
    with pytest.raises(api.AllegroForbidden) as info:
        client.get_me()
    assert info.value.status == 403 and not info.value.retryable


def test_error_hierarchy():
    for cls in (api.AllegroAuthError, api.AllegroForbidden, api.AllegroNotFound, api.AllegroConflict,
                api.AllegroValidationError, api.AllegroRateLimited, api.AllegroServerError,
                api.AllegroTransportError, api.AllegroOAuthError, api.AuthorizationPending, api.SlowDown,
                api.AccessDenied, api.ExpiredDeviceCode, api.InvalidGrant, api.InvalidClient):
        assert issubclass(cls, api.AllegroError)
    for cls in (api.AllegroRateLimited, api.AllegroServerError, api.AllegroTransportError):
        assert cls.retryable
    assert not api.AllegroConflict("x").retryable
    err = api.AllegroError("boom", 418, {"errors": [{"code": "C", "message": "tech", "userMessage": "Nice text"}]})
    assert str(err) == "boom: Nice text (C)"
    auth = api.AllegroAuthError("401", 401, {"error": "invalid_token", "error_description": "expired"})
    assert auth.codes == ["invalid_token"] and "expired" in str(auth)
    assert str(api.InvalidGrant("invalid_grant", "Invalid refresh token")) == \
        "OAuth error invalid_grant: Invalid refresh token (invalid_grant)"


# ---------------------------------------------------------------------------
# validation before any call
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda c: c.add_shipment("f", "DPD", "x" * 65),
    lambda c: c.add_shipment("f", "DPD", ""),
    lambda c: c.add_shipment("f", "DPD", "W1", carrier_name="My carrier"),
    lambda c: c.add_shipment("f", "OTHER", "W1", carrier_name="x" * 31),
    lambda c: c.set_fulfillment_status("f", "RETURNED"),
    lambda c: c.set_fulfillment_status("f", "DONE"),
    lambda c: c.set_fulfillment_status("", "SENT"),
    lambda c: c.change_offer_quantity(str(uuid.uuid4()), [str(i) for i in range(1001)], 1),
    lambda c: c.change_offer_quantity(str(uuid.uuid4()), ["1"], 1, change_type="SET"),
    lambda c: c.change_offer_quantity(str(uuid.uuid4()), ["1"], -1),
    lambda c: c.change_offer_quantity(str(uuid.uuid4()), [], 1),
    lambda c: c.change_offer_quantity(str(uuid.uuid4()), ["1"], 0),  # Allegro refuses 0: end the offer
    lambda c: c.change_offer_publication(str(uuid.uuid4()), ["1"], "PAUSE"),
    lambda c: c.change_offer_price(str(uuid.uuid4()), ["1"], "", "PLN"),
    lambda c: c.get_offer_events(limit=1001),
    lambda c: c.list_checkout_forms(limit=101),
    lambda c: c.list_checkout_forms(statuss="NEW"),
    lambda c: c.list_offers(limit=1001),
    lambda c: c.get_order_events(limit=0),
    lambda c: c.create_invoice("f", ""),
    lambda c: c.upload_invoice_file("f", "i", b""),
    lambda c: c.upload_invoice_file("f", "i", b"%PDF" + b"0" * (3 * 1024 * 1024)),
    lambda c: c.iter_checkout_forms(unknown_filter=1),
])
def test_invalid_input_rejected_before_any_call(emu, client, call):
    with pytest.raises(ValueError):
        call(client)
    assert client.request_count == 0
    assert emu.requests == []


# ---------------------------------------------------------------------------
# OAuth
# ---------------------------------------------------------------------------
def test_device_flow(emu, oauth):
    device = oauth.start_device_flow()
    assert isinstance(device, api.DeviceAuthorization)
    assert device.user_code and device.verification_uri.endswith("/skojarz-aplikacje")
    assert device.verification_uri_complete.endswith(device.user_code)
    assert device.interval == emu.poll_interval and device.expires_in > 0
    assert device.device_code not in repr(device)
    record = emu.requests[-1]
    assert record["method"] == "POST" and record["path"] == "/auth/oauth/device"
    assert record["body"] == b"client_id=demo-client"
    assert record["headers"]["Authorization"].startswith("Basic ")

    with pytest.raises(api.AuthorizationPending) as info:
        oauth.poll_device_token(device.device_code)
    assert info.value.retryable and info.value.error == "authorization_pending"

    assert emu.approve_device(device.user_code) == 1
    tokens = oauth.poll_device_token(device.device_code)
    assert isinstance(tokens, api.TokenSet)
    assert tokens.access_token and tokens.refresh_token and tokens.expires_in == emu.token_lifetime
    assert tokens.token_type == "bearer" and "allegro:api:orders:read" in tokens.scope
    poll = emu.requests[-1]
    assert poll["query"] == {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                             "device_code": device.device_code}
    # the tokens work
    client = api.AllegroClient(emu.url, lambda force_refresh=False: tokens.access_token)
    assert client.get_me()["login"] == emu.seller_login
    client.close()
    # a device code is exchanged once
    with pytest.raises(api.InvalidGrant):
        oauth.poll_device_token(device.device_code)


def test_device_flow_slow_down_denied_expired(emu, oauth):
    emu.enforce_poll_interval = True
    device = oauth.start_device_flow()
    with pytest.raises(api.AuthorizationPending):
        oauth.poll_device_token(device.device_code)
    with pytest.raises(api.SlowDown) as info:
        oauth.poll_device_token(device.device_code)
    assert info.value.retryable
    emu.deny_device(device.user_code)
    with pytest.raises(api.AccessDenied) as info:
        oauth.poll_device_token(device.device_code)
    assert not info.value.retryable

    emu.device_code_lifetime = 0
    expired = oauth.start_device_flow()
    with pytest.raises(api.ExpiredDeviceCode):
        oauth.poll_device_token(expired.device_code)


def test_invalid_client(emu):
    oauth = api.AllegroOAuth(emu.url + "/auth/oauth", CLIENT_ID, "wrong-secret")
    with pytest.raises(api.InvalidClient) as info:
        oauth.start_device_flow()
    assert info.value.status == 401
    assert "wrong-secret" not in str(info.value)


def test_refresh_rotation(emu, oauth):
    first = emu.issue_tokens()
    before = emu.refresh_count
    second = oauth.refresh(first["refresh_token"])
    assert second.refresh_token != first["refresh_token"]
    assert second.access_token != first["access_token"]
    assert emu.refresh_count == before + 1
    record = emu.requests[-1]
    assert record["query"] == {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    assert record["headers"]["Authorization"].startswith("Basic ")
    # the used refresh token is dead now
    with pytest.raises(api.InvalidGrant) as info:
        oauth.refresh(first["refresh_token"])
    assert not info.value.retryable
    assert isinstance(info.value, api.AllegroAuthError)
    third = oauth.refresh(second.refresh_token)
    assert third.refresh_token not in (first["refresh_token"], second.refresh_token)


def test_token_set_helpers():
    tokens = api.TokenSet.from_response({"access_token": "eyJhbGciOi.secretpart.sig", "refresh_token": "r" * 40,
                                         "expires_in": 43199, "token_type": "bearer", "scope": "a b"})
    text = repr(tokens) + str(tokens)
    assert "secretpart" not in text and "rrrr" not in text and "43199" in text
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert tokens.expires_at(now) == datetime(2024, 1, 1, 11, 59, 59, tzinfo=timezone.utc)
    assert tokens.expires_at(1000.0) == 44199.0


# ---------------------------------------------------------------------------
# order events
# ---------------------------------------------------------------------------
def order_journal(client, from_id, limit):
    """The order journal followed with the client's cursor pagination."""
    def fetch(from_id, limit):
        return client.get_order_events(from_id=from_id, limit=limit)

    return api.CursorIterator(fetch, "events", from_id=from_id, limit=limit)


def test_event_iteration_dedups_and_orders(emu, client):
    start = client.get_order_event_stats()["latestEvent"]["id"]
    emu.seed_orders(25)
    truth = [e["id"] for e in emu.events if int(e["id"]) > int(start)]
    assert len(truth) > 30
    emu.duplicate_events = True
    emu.shuffle_events = True
    client.request_count = 0
    events = order_journal(client, start, 7)
    ids = [event["id"] for event in events]
    assert ids == sorted(truth, key=int)
    assert len(set(ids)) == len(ids)
    assert events.cursor == truth[-1]
    assert client.request_count <= math.ceil(len(truth) / 7) + 1
    queries = [r["query"].get("from") for r in emu.requests if r["path"] == "/order/events"]
    assert queries[0] == start
    assert all(int(b) > int(a) for a, b in zip(queries, queries[1:]))  # the cursor only moves forward


def test_event_iteration_resumes_from_cursor(emu, client):
    start = client.get_order_event_stats()["latestEvent"]["id"]
    emu.seed_orders(10)
    truth = [e["id"] for e in emu.events if int(e["id"]) > int(start)]
    emu.shuffle_events = True
    first = order_journal(client, start, 4)
    taken = [next(first)["id"] for _ in range(5)]  # stop in the middle of the second page
    rest = [e["id"] for e in order_journal(client, first.cursor, 4)]
    assert taken + rest == truth


def test_event_types_and_single_page(emu, client):
    page = client.get_order_events(types=["READY_FOR_PROCESSING", "BOUGHT"], limit=5)
    assert 0 < len(page["events"]) <= 5
    assert {e["type"] for e in page["events"]} <= {"READY_FOR_PROCESSING", "BOUGHT"}
    assert emu.requests[-1]["query"]["type"] == ["READY_FOR_PROCESSING", "BOUGHT"]


def test_cursor_iterator_never_loops_forever():
    page = {"events": [{"id": "5"}, {"id": "3"}, {"id": "5"}]}
    calls = []

    def server_ignoring_from(from_id, limit):
        calls.append(from_id)
        return page

    events = api.CursorIterator(server_ignoring_from, "events", limit=3)
    assert [e["id"] for e in events] == ["3", "5"]
    assert calls == [None, "5"] and events.cursor == "5"


def test_cursor_compares_numerically_then_as_strings():
    pages = [{"events": [{"id": "9"}, {"id": "10"}]}, {"events": [{"id": "11"}]}]
    events = api.CursorIterator(lambda from_id, limit: pages.pop(0), "events", limit=2)
    assert [e["id"] for e in events] == ["9", "10", "11"]
    assert events.cursor == "11"
    text = api.CursorIterator(lambda from_id, limit: {"events": [{"id": "MTB"}, {"id": "MTA"}]}, "events", limit=5)
    assert [e["id"] for e in text] == ["MTA", "MTB"] and text.cursor == "MTB"


# ---------------------------------------------------------------------------
# checkout forms
# ---------------------------------------------------------------------------
def test_checkout_form_pagination_over_100_orders(emu, client):
    total = client.list_checkout_forms(limit=1)["totalCount"]
    if total <= 100:
        emu.seed_orders(150 - total)
    total = client.list_checkout_forms(limit=1)["totalCount"]
    assert total > 100
    client.request_count = 0
    forms = list(client.iter_checkout_forms())
    assert len(forms) == total
    assert len({f["id"] for f in forms}) == total
    assert client.request_count == math.ceil(total / 100)
    assert [r["query"]["offset"] for r in emu.requests[-client.request_count:]] == \
        [str(100 * i) for i in range(client.request_count)]


def test_offset_pagination_request_count(emu, client):
    total = client.list_checkout_forms(limit=1)["totalCount"]
    client.request_count = 0
    emu.reset_requests()
    forms = list(client.iter_checkout_forms(page_size=30, sort="updatedAt"))
    assert len(forms) == total
    assert client.request_count == math.ceil(total / 30) == len(emu.requests)
    assert all(r["query"]["limit"] == "30" and r["query"]["sort"] == "updatedAt" for r in emu.requests)
    updated = [f["updatedAt"] for f in forms]
    assert updated == sorted(updated)


def test_checkout_form_filters(emu, client):
    order = emu.add_order(status="READY_FOR_PROCESSING", buyer={"login": "filter_buyer"},
                          marketplace={"id": "allegro-pl"})
    since = datetime(2000, 1, 1, tzinfo=timezone.utc)
    page = client.list_checkout_forms(
        status="READY_FOR_PROCESSING", fulfillment_status=["NEW", "PROCESSING"], updated_at_gte=since,
        marketplace_id="allegro-pl", buyer_login="filter_buyer", sort="-updatedAt", limit=10)
    query = emu.requests[-1]["query"]
    assert query["fulfillment.status"] == ["NEW", "PROCESSING"]
    assert query["updatedAt.gte"] == "2000-01-01T00:00:00.000Z"
    assert query["marketplace.id"] == "allegro-pl" and query["buyer.login"] == "filter_buyer"
    assert [f["id"] for f in page["checkoutForms"]] == [order["id"]]
    # Allegro's dotted names, directly or in a dict
    page = client.list_checkout_forms(**{"buyer.login": "filter_buyer", "lineItems.boughtAt.gte": since})
    assert [f["id"] for f in page["checkoutForms"]] == [order["id"]]
    page = client.list_checkout_forms(filters={"buyer.login": "filter_buyer"})
    assert page["totalCount"] == 1
    assert [f["id"] for f in client.iter_checkout_forms(buyer_login="filter_buyer")] == [order["id"]]


def test_get_checkout_form_and_fulfillment(emu, client):
    order = a_paid_order(emu)
    form = client.get_checkout_form(order["id"])
    assert form["id"] == order["id"]
    assert client.set_fulfillment_status(order["id"], "PROCESSING", revision=form["revision"]) is None
    record = emu.requests[-1]
    assert record["status"] == 204
    assert record["query"] == {"checkoutForm.revision": form["revision"]}
    assert record["json"] == {"status": "PROCESSING"}
    assert emu.get_order(order["id"])["fulfillment"]["status"] == "PROCESSING"
    client.set_fulfillment_status(order["id"], "READY_FOR_SHIPMENT")
    assert emu.requests[-1]["query"] == {}


# ---------------------------------------------------------------------------
# shipments, invoices
# ---------------------------------------------------------------------------
def test_shipments(emu, client):
    order = a_paid_order(emu)
    line_item = order["lineItems"][0]["id"]
    created = client.add_shipment(order["id"], "OTHER", "TRACK-1", carrier_name="Kurier Lokalny",
                                  line_item_ids=[line_item])
    assert emu.requests[-1]["json"] == {"carrierId": "OTHER", "waybill": "TRACK-1", "carrierName": "Kurier Lokalny",
                                         "lineItems": [{"id": line_item}]}
    assert created["carrierName"] == "Kurier Lokalny"
    client.add_shipment(order["id"], "INPOST", "6" * 24)
    assert emu.requests[-1]["json"] == {"carrierId": "INPOST", "waybill": "6" * 24}
    shipments = client.get_shipments(order["id"])["shipments"]
    assert [s["waybill"] for s in shipments] == ["TRACK-1", "6" * 24]


def test_invoice_flow(emu, client):
    order = emu.add_order(status="READY_FOR_PROCESSING", invoice={"required": True})
    invoice_id = client.create_invoice(order["id"], "FV-1-2024.pdf", invoice_number="FV/1/2024")
    assert isinstance(invoice_id, str) and invoice_id
    assert emu.requests[-1]["json"] == {"file": {"name": "FV-1-2024.pdf"}, "invoiceNumber": "FV/1/2024"}
    pdf = b"%PDF-1.4\n% test invoice\n%%EOF\n"
    assert client.upload_invoice_file(order["id"], invoice_id, pdf) is None
    upload = emu.requests[-1]
    assert upload["headers"]["Content-Type"] == "application/pdf"
    assert upload["body"] == pdf and upload["status"] == 200
    assert emu.invoice_file(invoice_id) == pdf
    invoices = client.get_invoices(order["id"])["invoices"]
    assert invoices[0]["id"] == invoice_id and invoices[0]["file"]["securityVerification"]["status"] == "ACCEPTED"
    with pytest.raises(api.AllegroConflict):
        client.create_invoice(order["id"], "again.pdf")
    with pytest.raises(api.AllegroConflict):
        client.upload_invoice_file(order["id"], invoice_id, pdf)  # a plain 409 is an error


def test_invoice_metadata_too_fast_is_rate_limited(emu, client, sleep):
    order = a_paid_order(emu)
    client.create_invoice(order["id"], "a.pdf")
    client.request_count = 0
    with pytest.raises(api.AllegroRateLimited) as info:
        client.create_invoice(order["id"], "b.pdf")  # 429: the first metadata has no file yet
    assert info.value.retry_after is None
    assert sleep.waits == [0.5, 1.0, 2.0]
    assert client.request_count == 4
    assert "previously added invoice metadata" in str(info.value)


def test_invoice_upload_409_after_ambiguous_retry_is_success(emu, make_client):
    slow_sleep = RecordingSleep(real=1.5)  # long enough for the first attempt to be processed
    client = make_client(timeout=(2, 0.4), sleep=slow_sleep)
    order = a_paid_order(emu)
    invoice_id = client.create_invoice(order["id"], "late.pdf")
    emu.faults.delay(0.8, count=1, path_prefix="/order/checkout-forms/%s/invoices/%s/file" % (order["id"], invoice_id))
    client.upload_invoice_file(order["id"], invoice_id, b"%PDF-1.4 late")
    assert slow_sleep.waits == [0.5]
    assert [r["status"] for r in emu.requests if r["method"] == "PUT"] == [200, 409]
    assert emu.invoice_file(invoice_id) == b"%PDF-1.4 late"


# ---------------------------------------------------------------------------
# offers
# ---------------------------------------------------------------------------
def test_offers_listing_and_pagination(emu, client):
    total = len(emu.offers)
    page = client.list_offers(limit=5)
    assert page["totalCount"] == total and len(page["offers"]) == min(5, total)
    client.request_count = 0
    offers = list(client.iter_offers(page_size=7))
    assert len(offers) == total
    assert client.request_count == math.ceil(total / 7)
    sku = emu.offers[0]["external"]["id"]
    found = client.list_offers(external_id=[sku], publication_status=["ACTIVE", "INACTIVE", "ENDED", "ACTIVATING"])
    assert [o["external"]["id"] for o in found["offers"]] == [sku]
    assert emu.requests[-1]["query"]["external.id"] == sku


def test_change_offer_quantity(emu, client):
    offers = [o["id"] for o in emu.offers[:3]]
    command_id = str(uuid.uuid4())
    report = client.change_offer_quantity(command_id, offers, 42)
    assert report["id"] == command_id and report["taskCount"]["success"] == 3
    assert emu.requests[-1]["json"] == {
        "modification": {"changeType": "FIXED", "value": 42},
        "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": o} for o in offers]}],
    }
    assert all(o["stock"]["available"] == 42 for o in emu.offers[:3])
    assert client.get_offer_command("quantity", command_id)["taskCount"]["total"] == 3
    tasks = client.get_offer_command_tasks("quantity", command_id)["tasks"]
    assert {t["offer"]["id"] for t in tasks} == set(offers)
    client.change_offer_quantity(uuid.uuid4(), offers[:1], -2, change_type="GAIN")
    assert emu.offers[0]["stock"]["available"] == 40
    with pytest.raises(api.AllegroConflict):
        client.change_offer_quantity(command_id, offers, 1)  # command id reused


def test_offer_price_and_publication_commands(emu, client):
    offer = emu.offers[6]
    command_id = str(uuid.uuid4())
    client.change_offer_price(command_id, [offer["id"]], "300", "HUF", marketplace_id="allegro-hu")
    assert emu.requests[-1]["json"]["modification"] == {
        "type": "FIXED_PRICE", "price": {"amount": "300", "currency": "HUF"}, "marketplaceId": "allegro-hu"}
    tasks = client.get_offer_command_tasks("price", command_id)["tasks"]
    assert [t["status"] for t in tasks] == ["SUCCESS"]
    client.change_offer_publication(uuid.uuid4(), [offer["id"]], "END")
    assert emu.offer(offer["id"])["publication"]["status"] == "ENDED"
    assert client.get_offer_command("publication", emu.requests[-1]["path"].rsplit("/", 1)[1])["taskCount"] == {
        "total": 1, "success": 1, "failed": 0}


def test_offer_events_follow_the_journal_with_opaque_ids(emu, client):
    start = emu.offer_events[-1]["id"] if emu.offer_events else None  # the emulator is shared by the module
    for stock in (5, 4, 3):
        emu.set_offer_stock(emu.offers[7]["id"], stock)
    events = client.iter_offer_events(from_id=start, limit=2)
    assert [e["type"] for e in events] == ["OFFER_STOCK_CHANGED"] * 3
    assert events.cursor == emu.offer_events[-1]["id"] and not events.cursor.isdigit()
    emu.set_offer_stock(emu.offers[7]["id"], 9)
    later = client.iter_offer_events(from_id=events.cursor)
    assert [e["id"] for e in later] == [emu.offer_events[-1]["id"]]


def test_change_offer_quantity_409_after_ambiguous_retry_returns_report(emu, make_client):
    client = make_client(timeout=(2, 0.4), sleep=RecordingSleep(real=1.5))
    command_id = str(uuid.uuid4())
    emu.faults.delay(0.8, count=1, path_prefix="/sale/offer-quantity-change-commands/" + command_id)
    report = client.change_offer_quantity(command_id, [emu.offers[4]["id"]], 7)
    assert report["id"] == command_id and report["taskCount"]["success"] == 1
    assert [r["status"] for r in emu.requests] == [201, 409, 200]


# ---------------------------------------------------------------------------
# secrets never leak
# ---------------------------------------------------------------------------
def test_mask_secrets_helper():
    text = ('Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln '
            '/token?grant_type=refresh_token&refresh_token=opaque-refresh-123 '
            '{"access_token": "opaque-access-456", "device_code": "dc-789xyz", "code": "NotFound"} '
            "{'Authorization': 'Basic ZGVtbzpzZWNyZXQ='} client_secret=s3cr3t-value")
    masked = api.mask_secrets(text)
    for secret in ("eyJhbGciOiJIUzI1NiJ9", "opaque-refresh-123", "opaque-access-456", "dc-789xyz",
                   "ZGVtbzpzZWNyZXQ=", "s3cr3t-value"):
        assert secret not in masked
    assert '"code": "NotFound"' in masked and "grant_type=refresh_token" in masked
    assert api.mask_secrets("x my-literal-secret y", extra=["my-literal-secret"]) == "x *** y"
    assert api.mask_secrets("tok%2Fen%3D%3D", extra=["tok/en=="]) == "***"


def test_secrets_masked_in_logs_and_errors(emu, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # whatever the host application configured
    caplog.set_level(logging.DEBUG, logger="allegro_api")
    oauth = api.AllegroOAuth(emu.url + "/auth/oauth", CLIENT_ID, CLIENT_SECRET, sleep=RecordingSleep())
    first = emu.issue_tokens()
    provider = TokenProvider(oauth, first)
    client = make_client(token_provider=provider)
    secrets = {first["access_token"], first["refresh_token"], CLIENT_SECRET}

    client.get_me()
    emu.expire_access_tokens()
    client.get_me()  # 401 carrying the token in its description, refresh (query string), replay
    secrets |= {provider.tokens.access_token, provider.tokens.refresh_token}

    errors = []
    # 401 twice: the emulator echoes the rejected token in error_description
    bad_token = emu.issue_tokens()["access_token"]
    emu.expire_access_tokens()
    secrets.add(bad_token)
    with pytest.raises(api.AllegroAuthError) as info:
        make_client(token_provider=lambda force_refresh=False: bad_token).get_me()
    errors.append(info.value)
    assert "Access token expired: ***" in str(info.value)
    # refresh with a dead refresh token (in the query string), then with the server unreachable
    with pytest.raises(api.InvalidGrant) as info:
        oauth.refresh(first["refresh_token"])
    errors.append(info.value)
    dead = api.AllegroOAuth("http://127.0.0.1:%d/auth/oauth" % dead_port(), CLIENT_ID, CLIENT_SECRET,
                            sleep=RecordingSleep())
    with pytest.raises(api.AllegroTransportError) as info:
        dead.refresh(provider.tokens.refresh_token)
    errors.append(info.value)
    assert "refresh_token=***" in str(info.value)
    device = oauth.start_device_flow()
    secrets.add(device.device_code)
    with pytest.raises(api.AuthorizationPending) as info:
        oauth.poll_device_token(device.device_code)
    errors.append(info.value)

    # urllib3 logged the request lines (with the query strings) and was masked
    assert any(r.name.startswith("urllib3") and "refresh_token=***" in r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("allegro_api") and "GET /me -> 200" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.WARNING for r in caplog.records)  # the retries of the dead server
    import base64
    secrets.add(base64.b64encode(("%s:%s" % (CLIENT_ID, CLIENT_SECRET)).encode()).decode())
    texts = [caplog.text] + [r.getMessage() for r in caplog.records]
    texts += [str(e) for e in errors] + [repr(e) for e in errors] + [str(e.response_body) for e in errors]
    texts += [repr(provider.tokens), repr(device), repr(oauth), repr(client)]
    for secret in secrets:
        assert secret
        for text in texts:
            assert secret not in text


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def test_parse_retry_after():
    parse = api.parse_retry_after
    assert parse("3") == 3.0 and parse(" 1.5 ") == 1.5 and parse("-2") == 0.0
    assert parse(None) is None and parse("") is None and parse("soon") is None
    assert parse("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10.0
    assert parse("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490) == 0.0


class FakeSession:
    """Canned answers, for OAuth corner cases the emulator does not produce."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def request(self, method, url, **kwargs):
        import json

        import requests

        self.calls.append((method, url, kwargs.get("params")))
        status, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode() if body is not None else b""
        response.headers["Content-Type"] = "application/json"
        response.url = url
        return response

    def close(self):
        pass


def test_oauth_corner_cases():
    sleep = RecordingSleep()

    def oauth(*answers):
        return api.AllegroOAuth("https://auth.example/auth/oauth", "id", "secret-value", session=FakeSession(*answers),
                                sleep=sleep)

    # a refresh answer without a new refresh token keeps the old one
    tokens = oauth((200, {"access_token": "new-access", "expires_in": 60})).refresh("old-refresh-token")
    assert tokens.refresh_token == "old-refresh-token" and tokens.access_token == "new-access"
    # 503 on the token POST is retried; a server error stays a (retryable) server error
    flaky = oauth((503, {"error": "temporarily_unavailable"}), (503, None), (503, None))
    with pytest.raises(api.AllegroServerError) as info:
        flaky.refresh("old-refresh-token")
    assert info.value.retryable and flaky.request_count == 3
    # 200 without tokens is an error, not a KeyError
    with pytest.raises(api.AllegroError):
        oauth((200, {"token_type": "bearer"})).refresh("old-refresh-token")
    # unknown OAuth error codes keep their code
    with pytest.raises(api.AllegroOAuthError) as info:
        oauth((400, {"error": "invalid_scope", "error_description": "nope"})).refresh("old-refresh-token")
    assert info.value.error == "invalid_scope" and info.value.description == "nope"
    assert api.AllegroRateLimited(retry_after=5).retry_after == 5


def test_token_provider_without_token(make_client):
    client = make_client(token_provider=lambda force_refresh=False: None)
    with pytest.raises(api.AllegroAuthError):
        client.get_me()
    assert client.request_count == 0


def test_offset_iteration_skips_items_shifted_between_pages():
    pages = {0: {"checkoutForms": [{"id": "a"}, {"id": "b"}], "totalCount": 4},
             2: {"checkoutForms": [{"id": "b"}, {"id": "c"}], "totalCount": 4},  # "new" shifted "b" down
             4: {"checkoutForms": [], "totalCount": 4}}
    from allegro_api.pagination import iter_offset

    items = list(iter_offset(lambda offset, limit: pages[offset], "checkoutForms", 2, key=lambda i: i["id"]))
    assert [i["id"] for i in items] == ["a", "b", "c"]
