"""Allegro REST API client (orders, shipments, invoices, offers, Ship with Allegro, messages, issues,
returns, refunds and commission refund claims).

Plain Python, no Odoo import.  The client does not store tokens: it asks a
``token_provider(force_refresh=False) -> str`` for one before each call and,
on a 401, once more with ``force_refresh=True`` before retrying the call once.
"""

import json
import logging
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from .errors import AllegroAuthError, AllegroConflict, AllegroError, AllegroValidationError
from .pagination import CursorIterator, iter_by_time, iter_newest_first, iter_offset
from .params import (
    BILLING_ENTRY_FILTERS, CHECKOUT_FORM_FILTERS, CUSTOMER_RETURN_FILTERS, OFFER_EXTRA_PARAMS, OFFER_FILTERS,
    PAYMENT_OPERATION_FILTERS, REFUND_CLAIM_FILTERS, REFUND_FILTERS, build_filters, format_value, parse_timestamp,
)
from .transport import (
    DEFAULT_TIMEOUT, MEDIA_TYPE_BETA, MEDIA_TYPE_BINARY, MEDIA_TYPE_PDF, MEDIA_TYPE_PUBLIC, USER_AGENT, Transport,
    parse_retry_after,
)

_logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.allegro.pl"
SANDBOX_API_URL = "https://api.allegro.pl.allegrosandbox.pl"

# CheckoutFormFulfillmentStatus enum; RETURNED is set by Allegro only.
FULFILLMENT_STATUSES = (
    "NEW", "PROCESSING", "READY_FOR_SHIPMENT", "READY_FOR_PICKUP", "SENT", "PICKED_UP",
    "CANCELLED", "SUSPENDED", "RETURNED",
)
SELLER_FULFILLMENT_STATUSES = tuple(s for s in FULFILLMENT_STATUSES if s != "RETURNED")
QUANTITY_CHANGE_TYPES = ("FIXED", "GAIN")
MAX_WAYBILL_LENGTH = 64
MAX_CARRIER_NAME_LENGTH = 30
CARRIER_OTHER = "OTHER"
MAX_OFFERS_PER_COMMAND = 1000
# Batch commands on offers: kind -> collection under /sale/.
OFFER_COMMANDS = {
    "quantity": "offer-quantity-change-commands",
    "price": "offer-price-change-commands",
    "publication": "offer-publication-commands",
}
PUBLICATION_ACTIONS = ("ACTIVATE", "END")
MAX_INVOICE_FILE_SIZE = 3 * 1024 * 1024
# Ship with Allegro (/shipment-management).
SHIPPING = "/shipment-management"
LABEL_PAGE_SIZES = ("A4", "A6")
MAX_PICKUP_SHIPMENTS = 100
COMMAND_EXISTS = "COMMAND_EXISTS"  # Allegro's 400 code for a command id used before
# Customer returns, payment refunds, commission refund claims.
CUSTOMER_RETURNS = "/order/customer-returns"  # beta: MEDIA_TYPE_BETA
RETURN_REJECTION_CODES = ("REFUND_REJECTED", "NEW_ITEM_SENT", "ITEM_FIXED", "MISSING_PART_SENT", "ITEM_MISMATCH",
                          "BUSINESS_PURCHASE", "NO_RETURN_RIGHT")
MAX_REJECTION_REASON_LENGTH = 250
REFUND_REASONS = ("REFUND", "COMPLAINT", "PRODUCT_NOT_AVAILABLE", "PAID_VALUE_TOO_LOW", "OVERPAID",
                  "CANCELLED_BY_BUYER", "NOT_COLLECTED")
MAX_SELLER_COMMENT_LENGTH = 250
CLAIM_EXISTS = "ClaimExistsException"  # one commission refund claim per line item, whatever its status
# Message center (/messaging) and post-purchase issues (/sale/issues, beta).
MESSAGING = "/messaging"
ISSUES = "/sale/issues"
MAX_THREADS_PAGE = 20  # threads and messages per page
MAX_ISSUES_PAGE = 100
MAX_MESSAGE_LENGTH = 2000
MAX_ISSUE_MESSAGE_LENGTH = 20000
MAX_ATTACHMENT_SIZE = 5 * 1024 * 1024
ATTACHMENT_MEDIA_TYPES = {"png": "image/png", "gif": "image/gif", "bmp": "image/bmp", "tif": "image/tiff",
                          "tiff": "image/tiff", "jpg": "image/jpeg", "jpeg": "image/jpeg", "pdf": "application/pdf"}
ISSUE_MESSAGE_TYPES = ("REGULAR", "END_REQUEST", "RETURN_REQUIRED_SELLER_LABEL", "RETURN_REQUIRED_CUSTOM",
                       "RETURN_NOT_REQUIRED")
CLAIM_DECISIONS = ("ACCEPTED_REPAIR", "ACCEPTED_REFUND", "ACCEPTED_EXCHANGE", "ACCEPTED_PARTIAL_REFUND",
                   "REJECTED_ADDITIONAL_REQUIREMENTS_NOT_COMPLETED", "REJECTED_PRODUCT_NOT_RETURNED",
                   "REJECTED_PRODUCT_DAMAGED_BY_USER", "REJECTED_PRODUCT_CONFORMS_TO_CONTRACT",
                   "REJECTED_MINOR_DEFECT", "REJECTED_OTHER", "REJECTED_CLAIM_WITHDRAWN_BY_BUYER")
# Fees (/billing) and payment operations: both cap the offset; payment operations refuse (422)
# a search finding more than 10,000 operations.
BILLING_PAGE_SIZE = 100
PAYMENT_OPERATIONS_PAGE_SIZE = 50
MAX_MONEY_OFFSET = 10000
MONEY_TIME_FILTERS = {"occurred_at_gte": "occurredAt.gte", "occurred_at_lte": "occurredAt.lte"}
WALLET_TYPES = ("AVAILABLE", "WAITING")
PAYMENT_OPERATORS = ("PAYU", "P24", "AF", "AF_P24", "AF_PAYU")
OPERATION_GROUPS = ("INCOME", "OUTCOME", "REFUND", "BLOCKADES")


def _segment(value, what):
    """One URL path segment, percent-encoded; refuses empty ids."""
    if value is None or str(value).strip() == "":
        raise ValueError("%s is required" % what)
    return quote(str(value), safe="")


def _item_id(item):
    return item.get("id") if isinstance(item, dict) else None


def _updated_at(item):
    return item.get("updatedAt") if isinstance(item, dict) else None


def _offer_criteria(offer_ids):
    """``offerCriteria`` naming at most 1000 offers (chunking is the caller's job)."""
    offer_ids = [str(o) for o in (offer_ids or [])]
    if not offer_ids:
        raise ValueError("offer_ids is empty")
    if len(offer_ids) > MAX_OFFERS_PER_COMMAND:
        raise ValueError("At most %d offers per command (got %d); split them into several commands"
                         % (MAX_OFFERS_PER_COMMAND, len(offer_ids)))
    return [{"type": "CONTAINS_OFFERS", "offers": [{"id": o} for o in offer_ids]}]


def _journal_params(from_id, types, limit):
    """Query of one page of an event journal (orders or offers)."""
    _check_range("limit", limit, 1, 1000)
    params = {"limit": limit}
    if from_id is not None:
        params["from"] = str(from_id)
    if types:
        params["type"] = [types] if isinstance(types, str) else list(types)
    return params


def _check_range(name, value, minimum, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("%s must be an integer, got %r" % (name, value))
    if value < minimum or (maximum is not None and value > maximum):
        bounds = "%d..%d" % (minimum, maximum) if maximum is not None else ">= %d" % minimum
        raise ValueError("%s must be %s, got %d" % (name, bounds, value))


def _shipment_ids(shipment_ids, maximum=None):
    """A non-empty list of shipment ids as strings (at most ``maximum``)."""
    if isinstance(shipment_ids, (str, bytes)):
        raise ValueError("shipment_ids must be a list of ids, not one string")
    given = list(shipment_ids or [])
    ids = [str(s) for s in given if s is not None and str(s).strip()]
    if not ids or len(ids) != len(given):
        raise ValueError("shipment_ids must list at least one shipment id, none of them empty")
    if maximum is not None and len(ids) > maximum:
        raise ValueError("At most %d shipments per call (got %d)" % (maximum, len(ids)))
    return ids


def _required_id(value, what):
    """An id sent in a body, as a string; refuses empty ids."""
    if value is None or str(value).strip() == "":
        raise ValueError("%s is required" % what)
    return str(value)


class CommandAnswer(dict):
    """The JSON answer of a Ship with Allegro command (its id, its status...).

    ``retry_after``: the seconds Allegro asks to wait before reading the
    command's status again (its ``Retry-After`` header), or ``None``.
    """

    def __init__(self, body, retry_after=None):
        super().__init__(body if isinstance(body, dict) else {})
        self.retry_after = retry_after


class AllegroClient:
    """Client of the Allegro REST API.

    :param api_url: API base, e.g. ``https://api.allegro.pl``.
    :param token_provider: ``token_provider(force_refresh=False) -> str``.
    :param session: optional ``requests.Session`` (one per client otherwise).
    :param timeout: ``(connect, read)`` seconds or one number.
    :param max_retries: retries of one call on 429/5xx/network errors.
    :param max_wait: total seconds one call may sleep between retries.
    :param sleep: sleep callable (injectable for tests).
    :param accept_language: optional ``Accept-Language`` (e.g. ``"pl-PL"``):
        the language of Allegro's ``userMessage`` in errors. Not sent to the
        operations that accept ``en-US`` only (fulfillment status, invoices).
    :param before_request: called before each request (see Transport).
    """

    def __init__(self, api_url, token_provider, session=None, timeout=DEFAULT_TIMEOUT, max_retries=3,
                 max_wait=30, sleep=time.sleep, accept_language=None, *, backoff_factor=0.5,
                 backoff_max=8.0, user_agent=USER_AGENT, before_request=None):
        if not callable(token_provider):
            raise TypeError("token_provider must be callable")
        self.api_url = api_url.rstrip("/")
        self.token_provider = token_provider
        self.accept_language = accept_language
        self._transport = Transport(
            self.api_url, session=session, timeout=timeout, max_retries=max_retries,
            max_wait=max_wait, sleep=sleep, backoff_factor=backoff_factor,
            backoff_max=backoff_max, user_agent=user_agent, before_request=before_request,
        )

    def __repr__(self):
        return "AllegroClient(api_url=%r)" % self.api_url

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Close the HTTP session if the client created it."""
        self._transport.close()

    @property
    def session(self):
        return self._transport.session

    @property
    def request_count(self):
        """HTTP attempts made by this client (retries and 401 replays included)."""
        return self._transport.request_count

    @request_count.setter
    def request_count(self, value):
        self._transport.request_count = value

    # ------------------------------------------------------------------
    # Core
    # ------------------------------------------------------------------
    def _send(self, method, path, *, params=None, json=None, data=None, media_type=MEDIA_TYPE_PUBLIC,
              content_type=None, idempotent=None, localized=True):
        def attempt(token):
            headers = {
                "Authorization": "Bearer %s" % token,
                "Accept": media_type,
                "Content-Type": content_type or media_type,
            }
            if self.accept_language and localized:
                headers["Accept-Language"] = self.accept_language
            return self._transport.request(
                method, path, params=params, json=json, data=data, headers=headers,
                idempotent=idempotent, secrets=(token,),
            )

        token = self._token()
        try:
            return attempt(token)
        except AllegroAuthError:
            # Expired / revoked access token: refresh once and replay once.
            # A second 401 propagates as AllegroAuthError.
            _logger.info("Allegro %s %s -> HTTP 401; refreshing the access token", method, path)
            return attempt(self._token(force_refresh=True))

    def _token(self, force_refresh=False):
        token = self.token_provider(force_refresh=True) if force_refresh else self.token_provider()
        if not token:
            raise AllegroAuthError("No Allegro access token available; connect the account first")
        return token

    @staticmethod
    def _parse(response):
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def request(self, method, path, params=None, json=None, media_type=MEDIA_TYPE_PUBLIC):
        """Call any endpoint (e.g. beta ones with ``MEDIA_TYPE_BETA``); parsed JSON."""
        return self._parse(self._send(method, path, params=params, json=json, media_type=media_type))

    def _get(self, path, params=None):
        return self._parse(self._send("GET", path, params=params))

    # ------------------------------------------------------------------
    # Account / dictionaries
    # ------------------------------------------------------------------
    def get_me(self):
        """``GET /me`` (MeResponse)."""
        return self._get("/me")

    def get_carriers(self):
        """``GET /order/carriers`` (OrdersShippingCarriersResponse)."""
        return self._get("/order/carriers")

    # ------------------------------------------------------------------
    # Order events
    # ------------------------------------------------------------------
    def get_order_event_stats(self):
        """``GET /order/event-stats`` (``latestEvent{id, occurredAt}``)."""
        return self._get("/order/event-stats")

    def get_order_events(self, from_id=None, types=None, limit=100):
        """``GET /order/events``: one page of the order event journal."""
        return self._get("/order/events", _journal_params(from_id, types, limit))

    # ------------------------------------------------------------------
    # Checkout forms (orders)
    # ------------------------------------------------------------------
    def _checkout_forms_page(self, offset, limit, params):
        _check_range("offset", offset, 0)
        _check_range("limit", limit, 1, 100)
        query = dict(params)
        query.update(offset=offset, limit=limit)
        return self._get("/order/checkout-forms", query)

    def list_checkout_forms(self, offset=0, limit=100, **filters):
        """``GET /order/checkout-forms``: one page (``checkoutForms``, ``count``, ``totalCount``).

        Filters use Allegro's names (``**{"fulfillment.status": "NEW"}``) or
        aliases: ``status``, ``fulfillment_status``, ``fulfillment_provider``,
        ``line_items_sent``, ``bought_at_gte``/``_lte``, ``updated_at_gte``/``_lte``,
        ``payment_id``, ``surcharges_id``, ``delivery_method_id``,
        ``buyer_login``, ``marketplace_id``, ``sort``.  A ``filters`` dict is
        accepted too.  Lists become repeated parameters.
        """
        params = build_filters(self._merge_filters(filters), CHECKOUT_FORM_FILTERS, what="checkout form filter")
        return self._checkout_forms_page(offset, limit, params)

    def iter_checkout_forms(self, page_size=100, **filters):
        """Iterate over all checkout forms matching ``filters`` (offset pagination).

        Makes ``ceil(totalCount / page_size)`` calls.  Filters are validated
        now, not at the first ``next()``.
        """
        _check_range("page_size", page_size, 1, 100)
        params = build_filters(self._merge_filters(filters), CHECKOUT_FORM_FILTERS, what="checkout form filter")

        def fetch(offset, limit):
            return self._checkout_forms_page(offset, limit, params)

        return iter_offset(fetch, "checkoutForms", page_size, key=_item_id)

    def iter_checkout_forms_updated(self, updated_at_gte, page_size=100, **filters):
        """Iterate over the checkout forms updated since ``updated_at_gte``
        (and matching ``filters``), oldest change first, paged by ``updatedAt``:
        an order changed meanwhile is read again at the end, none is skipped."""
        _check_range("page_size", page_size, 1, 100)
        params = build_filters(dict(self._merge_filters(filters), sort="updatedAt"), CHECKOUT_FORM_FILTERS,
                               what="checkout form filter")

        def fetch(since, offset, limit):
            return self._checkout_forms_page(offset, limit, dict(params, **{"updatedAt.gte": since}))

        return iter_by_time(fetch, "checkoutForms", page_size, updated_at_gte,
                            moment=_updated_at, key=_item_id)

    def get_checkout_form(self, form_id):
        """``GET /order/checkout-forms/{id}`` (CheckoutForm)."""
        return self._get("/order/checkout-forms/%s" % _segment(form_id, "form_id"))

    def set_fulfillment_status(self, form_id, status, revision=None):
        """``PUT /order/checkout-forms/{id}/fulfillment`` (204, returns ``None``).

        :param revision: the order's ``revision``; Allegro answers 409
            (:class:`AllegroConflict`) when the order changed since.
        :raises ValueError: status not in the enum, or ``RETURNED``.
        """
        if status == "RETURNED":
            raise ValueError("The RETURNED fulfillment status is set by Allegro; a seller cannot set it")
        if status not in SELLER_FULFILLMENT_STATUSES:
            raise ValueError("Unknown fulfillment status %r; use one of %s"
                             % (status, ", ".join(SELLER_FULFILLMENT_STATUSES)))
        params = {"checkoutForm.revision": revision} if revision else None
        self._send("PUT", "/order/checkout-forms/%s/fulfillment" % _segment(form_id, "form_id"),
                   params=params, json={"status": status}, localized=False)

    # ------------------------------------------------------------------
    # Shipments (tracking numbers)
    # ------------------------------------------------------------------
    def get_shipments(self, form_id):
        """``GET /order/checkout-forms/{id}/shipments`` (``shipments[]``)."""
        return self._get("/order/checkout-forms/%s/shipments" % _segment(form_id, "form_id"))

    def add_shipment(self, form_id, carrier_id, waybill, carrier_name=None, line_item_ids=None):
        """``POST /order/checkout-forms/{id}/shipments`` (CheckoutFormAddWaybillCreated).

        :param line_item_ids: ids of the line items in the parcel; empty or
            ``None`` means the whole order.
        :raises ValueError: empty/too long waybill (> 64), carrier name too
            long (> 30) or given with a carrier other than ``OTHER``.
        """
        if not carrier_id:
            raise ValueError("carrier_id is required")
        waybill = (waybill or "").strip()
        if not waybill:
            raise ValueError("waybill is required")
        if len(waybill) > MAX_WAYBILL_LENGTH:
            raise ValueError("waybill must be at most %d characters" % MAX_WAYBILL_LENGTH)
        body = {"carrierId": carrier_id, "waybill": waybill}
        if carrier_name:
            if carrier_id != CARRIER_OTHER:
                raise ValueError("carrier_name is only allowed with carrier_id %r" % CARRIER_OTHER)
            if len(carrier_name) > MAX_CARRIER_NAME_LENGTH:
                raise ValueError("carrier_name must be at most %d characters" % MAX_CARRIER_NAME_LENGTH)
            body["carrierName"] = carrier_name
        if line_item_ids:
            body["lineItems"] = [{"id": str(item_id)} for item_id in line_item_ids]
        return self._parse(self._send(
            "POST", "/order/checkout-forms/%s/shipments" % _segment(form_id, "form_id"), json=body))

    # ------------------------------------------------------------------
    # Invoices
    # ------------------------------------------------------------------
    def get_invoices(self, form_id):
        """``GET /order/checkout-forms/{id}/invoices`` (CheckoutFormsOrderInvoices)."""
        return self._parse(self._send("GET", "/order/checkout-forms/%s/invoices" % _segment(form_id, "form_id"),
                                      localized=False))

    def create_invoice(self, form_id, file_name, invoice_number=None):
        """``POST /order/checkout-forms/{id}/invoices``: invoice metadata; returns its id."""
        if not file_name:
            raise ValueError("file_name is required")
        body = {"file": {"name": file_name}}
        if invoice_number:
            body["invoiceNumber"] = invoice_number
        data = self._parse(self._send(
            "POST", "/order/checkout-forms/%s/invoices" % _segment(form_id, "form_id"), json=body,
            localized=False))
        if not isinstance(data, dict) or not data.get("id"):
            raise AllegroError("Allegro created the invoice metadata but returned no id", status=201,
                               response_body=data)
        return data["id"]

    def upload_invoice_file(self, form_id, invoice_id, pdf_bytes):
        """``PUT .../invoices/{invoiceId}/file`` with the PDF (``application/pdf``).

        A 409 ("already uploaded") after a retry of an attempt that may have
        gone through (read timeout, 5xx) means our own upload succeeded: it is
        treated as success.

        :raises ValueError: empty file or larger than 3 MB.
        """
        if not pdf_bytes:
            raise ValueError("pdf_bytes is empty")
        if len(pdf_bytes) > MAX_INVOICE_FILE_SIZE:
            raise ValueError("Invoice file too large (%d bytes, max 3 MB)" % len(pdf_bytes))
        path = "/order/checkout-forms/%s/invoices/%s/file" % (
            _segment(form_id, "form_id"), _segment(invoice_id, "invoice_id"))
        try:
            self._send("PUT", path, data=bytes(pdf_bytes), content_type=MEDIA_TYPE_PDF, localized=False)
        except AllegroConflict as exc:
            if not exc.after_ambiguous_retry:
                raise
            _logger.info("Allegro PUT %s -> 409 after an ambiguous retry: file already uploaded", path)

    # ------------------------------------------------------------------
    # Offers
    # ------------------------------------------------------------------
    def _offers_page(self, offset, limit, params):
        _check_range("offset", offset, 0, 9999999)
        _check_range("limit", limit, 1, 1000)
        if offset + limit > 10000000:
            raise ValueError("offset + limit must be <= 10000000")
        query = dict(params)
        query.update(offset=offset, limit=limit)
        return self._get("/sale/offers", query)

    def list_offers(self, offset=0, limit=100, **filters):
        """``GET /sale/offers``: one page (``offers``, ``count``, ``totalCount``).

        Filters: Allegro names (``**{"publication.status": ["ACTIVE"]}``) or
        aliases ``offer_id``, ``name``, ``publication_status``, ``external_id``,
        ``selling_mode_format``, ``price_gte``/``price_lte``, ``category_id``,
        ``marketplace_id``, ``sort``... (see ``params.OFFER_FILTERS``).
        """
        params = build_filters(self._merge_filters(filters), OFFER_FILTERS, OFFER_EXTRA_PARAMS, "offer filter")
        return self._offers_page(offset, limit, params)

    def iter_offers(self, page_size=1000, **filters):
        """Iterate over all offers matching ``filters`` (offset pagination)."""
        _check_range("page_size", page_size, 1, 1000)
        params = build_filters(self._merge_filters(filters), OFFER_FILTERS, OFFER_EXTRA_PARAMS, "offer filter")

        def fetch(offset, limit):
            return self._offers_page(offset, limit, params)

        return iter_offset(fetch, "offers", page_size, key=_item_id)

    def get_offer_events(self, from_id=None, types=None, limit=100):
        """``GET /sale/offer-events``: one page of the offer event journal (last 24 hours)."""
        return self._get("/sale/offer-events", _journal_params(from_id, types, limit))

    def iter_offer_events(self, from_id=None, types=None, limit=1000, max_pages=None):
        """Iterate over offer events after ``from_id``.

        Offer event ids are opaque strings: they are taken in the order the
        journal gives them and ``.cursor`` is the last one read.
        """
        _check_range("limit", limit, 1, 1000)

        def fetch(from_id, limit):
            return self.get_offer_events(from_id=from_id, types=types, limit=limit)

        return CursorIterator(fetch, "offerEvents", from_id=from_id, limit=limit, max_pages=max_pages,
                              ordered_ids=False)

    def _put_offer_command(self, kind, command_id, body):
        """PUT one batch command; a 409 after an ambiguous retry returns the command's report."""
        command = _segment(command_id, "command_id")  # str or uuid.UUID
        try:
            return self._parse(self._send("PUT", "/sale/%s/%s" % (OFFER_COMMANDS[kind], command), json=body))
        except AllegroConflict as exc:
            if not exc.after_ambiguous_retry:
                raise
            _logger.info("Allegro %s command %s -> 409 after an ambiguous retry; reading its report", kind, command)
            return self.get_offer_command(kind, command_id)

    def change_offer_quantity(self, command_id, offer_ids, value, change_type="FIXED"):
        """``PUT /sale/offer-quantity-change-commands/{commandId}`` (GeneralReport).

        :param command_id: the caller's UUID for this command (store it before
            calling: it is the idempotency key).
        :param offer_ids: at most 1000 offer ids (chunking is the caller's job).
        :param value: new quantity (FIXED, > 0: Allegro refuses 0, end the
            offer instead) or the delta (GAIN, may be negative).
        """
        if change_type not in QUANTITY_CHANGE_TYPES:
            raise ValueError("change_type must be one of %s" % ", ".join(QUANTITY_CHANGE_TYPES))
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("value must be an integer, got %r" % (value,))
        if change_type == "FIXED" and value <= 0:
            raise ValueError("A FIXED quantity must be positive; end the offer to stop selling it")
        body = {"modification": {"changeType": change_type, "value": value},
                "offerCriteria": _offer_criteria(offer_ids)}
        return self._put_offer_command("quantity", command_id, body)

    def change_offer_price(self, command_id, offer_ids, amount, currency, marketplace_id=None):
        """``PUT /sale/offer-price-change-commands/{commandId}``: one FIXED_PRICE for the offers.

        :param amount: the price as a string with the currency's decimals
            (e.g. ``"49.99"``); Allegro keeps amounts as strings.
        :param marketplace_id: the marketplace whose price changes; the
            offers' base marketplace when omitted.
        """
        if not amount or not currency:
            raise ValueError("amount and currency are required")
        modification = {"type": "FIXED_PRICE", "price": {"amount": str(amount), "currency": currency}}
        if marketplace_id:
            modification["marketplaceId"] = marketplace_id
        body = {"modification": modification, "offerCriteria": _offer_criteria(offer_ids)}
        return self._put_offer_command("price", command_id, body)

    def change_offer_publication(self, command_id, offer_ids, action):
        """``PUT /sale/offer-publication-commands/{commandId}``: ``END`` or ``ACTIVATE`` the offers."""
        if action not in PUBLICATION_ACTIONS:
            raise ValueError("action must be one of %s" % ", ".join(PUBLICATION_ACTIONS))
        body = {"publication": {"action": action}, "offerCriteria": _offer_criteria(offer_ids)}
        return self._put_offer_command("publication", command_id, body)

    def get_offer_command(self, kind, command_id):
        """The GeneralReport of a ``quantity``, ``price`` or ``publication`` command."""
        return self._get("/sale/%s/%s" % (OFFER_COMMANDS[kind], _segment(command_id, "command_id")))

    def get_offer_command_tasks(self, kind, command_id, offset=0, limit=1000):
        """One page of a command's tasks (TaskReport): ``tasks[{offer{id}, status NEW|SUCCESS|FAIL, ...}]``."""
        _check_range("offset", offset, 0, 999)
        _check_range("limit", limit, 1, 1000)
        return self._get("/sale/%s/%s/tasks" % (OFFER_COMMANDS[kind], _segment(command_id, "command_id")),
                         {"offset": offset, "limit": limit})

    # ------------------------------------------------------------------
    # Ship with Allegro
    # ------------------------------------------------------------------
    def _command(self, method, path, json=None):
        """A command's answer with its ``Retry-After`` (POST of a command, or GET of its status)."""
        # A command id makes a repeat safe: Allegro answers COMMAND_EXISTS instead of doing it twice.
        response = self._send(method, path, json=json, idempotent=True)
        return CommandAnswer(self._parse(response), parse_retry_after(response.headers.get("Retry-After")))

    def _post_command(self, collection, command_id, command_input, status_of):
        """POST a command; after an attempt that may have gone through, its status is read instead."""
        try:
            return self._command("POST", "%s/%s" % (SHIPPING, collection),
                                 {"commandId": _required_id(command_id, "command_id"), "input": command_input})
        except AllegroValidationError as exc:
            if COMMAND_EXISTS not in exc.codes or not exc.after_ambiguous_retry:
                raise
            _logger.info("Allegro %s %s -> COMMAND_EXISTS after an ambiguous retry; reading its status",
                         collection, command_id)
            return status_of(command_id)

    def _binary(self, path, body):
        """POST answered with a file: its bytes, or ``None`` for 204 (no file for these parcels)."""
        # A read: repeating it after a timeout is harmless.
        response = self._send("POST", path, json=body, media_type=MEDIA_TYPE_BINARY, content_type=MEDIA_TYPE_PUBLIC,
                              idempotent=True)
        return None if response.status_code == 204 else response.content

    def get_delivery_proposals(self, order_id):
        """``GET /shipment-management/delivery-proposals/{orderId}`` (DeliveryProposalDto).

        ``suggestedInput`` is a create body filled in from the order (its
        receiver email ties the parcel to the order); ``deliveryOptions[]``
        give the limits. Allegro answers 400 ``UNSUPPORTED_DELIVERY_METHOD``
        (:class:`AllegroValidationError`) for an order that cannot ship with Allegro.
        """
        return self._get("%s/delivery-proposals/%s" % (SHIPPING, _segment(order_id, "order_id")))

    def get_delivery_services(self):
        """``GET /shipment-management/delivery-services`` (DeliveryServicesDto).

        Deprecated by Allegro and due to be removed in Q1 2027: use
        :meth:`get_delivery_proposals`, and this only for what the proposals lack.
        """
        return self._get("%s/delivery-services" % SHIPPING)

    def create_shipment(self, command_id, shipment_input):
        """``POST /shipment-management/shipments/create-commands``: order a parcel.

        :param command_id: the caller's UUID for this parcel (store it before
            calling: it is the idempotency key). A repeat of an attempt whose
            answer was lost (timeout, 5xx) gets COMMAND_EXISTS from Allegro and
            returns the command's status instead: never a second parcel. A
            later call of the caller's own with a used id raises
            :class:`AllegroValidationError` with that code in ``codes``; read
            the command with :meth:`get_shipment_command` then.
        :param shipment_input: ShipmentCreateRequestDto (``sender``,
            ``receiver``, ``packages``...), e.g. a proposal's ``suggestedInput``.
        :returns: :class:`CommandAnswer` (``commandId``...); ``retry_after``
            says when to read its status.
        """
        if not isinstance(shipment_input, dict):
            raise ValueError("shipment_input must be a dict (ShipmentCreateRequestDto)")
        missing = [key for key in ("sender", "receiver", "packages") if not shipment_input.get(key)]
        if missing:
            raise ValueError("shipment_input lacks %s" % ", ".join(missing))
        return self._post_command("shipments/create-commands", command_id, shipment_input,
                                  self.get_shipment_command)

    def follow_command(self, answer, read, max_seconds=10.0):
        """Read a Ship with Allegro command again (``read()``), waiting what
        its Retry-After asks, until it ends or ``max_seconds`` have gone;
        returns its last answer. For a person waiting on a button: a job
        should rather come back later by itself."""
        waited = 0.0
        while answer.get("status") not in ("SUCCESS", "ERROR"):
            wait = answer.retry_after if answer.retry_after is not None else 1.0
            if waited + wait > max_seconds:
                break
            self._transport.sleep(wait)
            waited += wait
            answer = read()
        return answer

    def get_shipment_command(self, command_id):
        """``GET .../shipments/create-commands/{commandId}``: ``status`` IN_PROGRESS|SUCCESS|ERROR,
        ``shipmentId`` on SUCCESS, ``errors[]`` on ERROR (a :class:`CommandAnswer`)."""
        return self._command("GET", "%s/shipments/create-commands/%s" % (SHIPPING, _segment(command_id, "command_id")))

    def get_shipment(self, shipment_id):
        """``GET /shipment-management/shipments/{shipmentId}`` (ShipmentDto).

        The tracking numbers are ``packages[].waybill``, one per package; a
        package's ``transportingInfo[]`` may name more than one carrier.
        Allegro attaches the waybills to the order itself: do not add them
        with :meth:`add_shipment`.
        """
        return self._get("%s/shipments/%s" % (SHIPPING, _segment(shipment_id, "shipment_id")))

    def cancel_shipment(self, command_id, shipment_id):
        """``POST .../shipments/cancel-commands``: cancel a parcel (ERROR once it is handed over).

        ``command_id`` as in :meth:`create_shipment`; returns a :class:`CommandAnswer`.
        """
        return self._post_command("shipments/cancel-commands", command_id,
                                  {"shipmentId": _required_id(shipment_id, "shipment_id")},
                                  self.get_cancel_command)

    def get_cancel_command(self, command_id):
        """``GET .../shipments/cancel-commands/{commandId}`` (a :class:`CommandAnswer`)."""
        return self._command("GET", "%s/shipments/cancel-commands/%s" % (SHIPPING, _segment(command_id, "command_id")))

    def get_labels(self, shipment_ids, page_size=None, cut_line=None):
        """``POST /shipment-management/label``: the labels of the parcels in one file.

        :param page_size: ``A4`` or ``A6`` (PDF labels only); Allegro's default when ``None``.
        :param cut_line: cut lines between labels (PDF A4 only).
        :returns: the file's bytes (PDF or ZPL, as the parcels were created),
            or ``None`` when Allegro has no label for them (204).
        """
        body = {"shipmentIds": _shipment_ids(shipment_ids)}
        if page_size is not None:
            if page_size not in LABEL_PAGE_SIZES:
                raise ValueError("page_size must be one of %s" % ", ".join(LABEL_PAGE_SIZES))
            body["pageSize"] = page_size
        if cut_line is not None:
            body["cutLine"] = bool(cut_line)
        return self._binary("%s/label" % SHIPPING, body)

    def get_protocol(self, shipment_ids):
        """``POST /shipment-management/protocol``: the handover protocol (PDF bytes),
        or ``None`` when the carrier has none (204)."""
        return self._binary("%s/protocol" % SHIPPING, {"shipmentIds": _shipment_ids(shipment_ids)})

    def get_pickup_proposals(self, shipment_ids, address, ready_date=None):
        """``POST /shipment-management/pickup-proposals``: when a courier can pick up 1 to 100 parcels.

        :param address: where the courier comes (AddressDto, required).
        :param ready_date: ``date`` or ``"yyyy-MM-dd"`` the parcels are ready.
        :returns: ``[{proposals: [{shipmentId, pickupTimes: [{date, minTime, maxTime}]}], address}]``.
        """
        if not isinstance(address, dict) or not address:
            raise ValueError("address is required")
        body = {"shipmentIds": _shipment_ids(shipment_ids, MAX_PICKUP_SHIPMENTS), "address": address}
        if ready_date is not None:
            body["readyDate"] = str(ready_date)
        # A read sent as a POST: repeating it is harmless.
        return self._parse(self._send("POST", "%s/pickup-proposals" % SHIPPING, json=body, idempotent=True))

    def create_pickup(self, command_id, shipment_ids, address, pickup_time):
        """``POST /shipment-management/pickups/create-commands``: order a courier for 1 to 100 parcels.

        :param pickup_time: one of the proposals' ``pickupTimes``
            (``{date, minTime, maxTime}``, ``date`` required).
        :returns: a :class:`CommandAnswer`; ``command_id`` as in :meth:`create_shipment`.
        """
        if not isinstance(address, dict) or not address:
            raise ValueError("address is required")
        if not isinstance(pickup_time, dict) or not pickup_time.get("date"):
            raise ValueError("pickup_time needs a date")
        pickup = {"shipmentIds": _shipment_ids(shipment_ids, MAX_PICKUP_SHIPMENTS), "address": address,
                  "pickupTime": {key: str(pickup_time[key]) for key in ("date", "minTime", "maxTime")
                                 if pickup_time.get(key)}}
        return self._post_command("pickups/create-commands", command_id, pickup, self.get_pickup_command)

    def get_pickup_command(self, command_id):
        """``GET .../pickups/create-commands/{commandId}``: ``pickupId`` and ``carrierPickupId`` on SUCCESS."""
        return self._command("GET", "%s/pickups/create-commands/%s" % (SHIPPING, _segment(command_id, "command_id")))

    def get_pickup(self, pickup_id):
        """``GET /shipment-management/pickups/{pickupId}`` (PickupDto)."""
        return self._get("%s/pickups/%s" % (SHIPPING, _segment(pickup_id, "pickup_id")))

    # ------------------------------------------------------------------
    @staticmethod
    def _merge_filters(filters):
        """Accept ``filters={...}`` as well as keyword filters."""
        merged = {}
        nested = filters.pop("filters", None)
        if nested:
            merged.update(nested)
        merged.update(filters)
        return merged

    # ------------------------------------------------------------------
    # Customer returns (beta), payment refunds, commission refund claims
    # ------------------------------------------------------------------
    def _beta(self, method, path, params=None, json=None):
        return self._parse(self._send(method, path, params=params, json=json, media_type=MEDIA_TYPE_BETA))

    def list_customer_returns(self, from_id=None, offset=0, limit=100, **filters):
        """``GET /order/customer-returns`` (beta): one page (``customerReturns``, ``count``).

        :param from_id: the id of the last return read: only returns created
            after it come back (the cursor of an incremental reader).
        Filters use Allegro's names or aliases: ``order_id``, ``status``,
        ``buyer_login``, ``buyer_email``, ``offer_id``, ``waybill``,
        ``reference_number``, ``created_at_gte``/``_lte``, ``marketplace_id``...
        Lists become repeated parameters ("one or more").
        """
        _check_range("offset", offset, 0)
        _check_range("limit", limit, 1, 1000)
        params = build_filters(self._merge_filters(filters), CUSTOMER_RETURN_FILTERS, what="customer return filter")
        params.update(offset=offset, limit=limit)
        if from_id is not None:
            params["from"] = _required_id(from_id, "from_id")
        return self._beta("GET", CUSTOMER_RETURNS, params)

    def iter_customer_returns(self, from_id=None, page_size=100, **filters):
        """Iterate over the returns created after the return ``from_id`` (all
        when None), oldest first, each page asked ``from`` the last return read.

        A return created while the list is read comes at the end, none is
        read twice. The iterator's ``cursor`` is the last id read: store it
        and pass it as ``from_id`` next time. The cursor does not bring back
        a return read before whose status changed since: read the returns
        still open again (``customer_return_id=[...]`` or one by one).
        """
        _check_range("page_size", page_size, 1, 1000)
        params = build_filters(self._merge_filters(filters), CUSTOMER_RETURN_FILTERS, what="customer return filter")

        def fetch(from_id, limit):
            query = dict(params, limit=limit)
            if from_id is not None:
                query["from"] = str(from_id)
            return self._beta("GET", CUSTOMER_RETURNS, query)

        return CursorIterator(fetch, "customerReturns", from_id=from_id, limit=page_size, ordered_ids=False)

    def get_customer_return(self, return_id):
        """``GET /order/customer-returns/{customerReturnId}`` (beta, CustomerReturn).

        ``status`` and ``items[].reason.type`` are free strings: expect values
        the spec does not list. ``items[]`` name the offer, not the line item.
        """
        return self._beta("GET", "%s/%s" % (CUSTOMER_RETURNS, _segment(return_id, "return_id")))

    def reject_customer_return(self, return_id, code, reason=None):
        """``POST /order/customer-returns/{id}/rejection`` (beta): refuse the refund of a return.

        :param code: one of :data:`RETURN_REJECTION_CODES`; ``REFUND_REJECTED``
            needs ``reason`` (1 to 250 characters).
        :returns: the updated CustomerReturn. Allegro answers 422
            (:class:`AllegroValidationError`) for a return already rejected or settled.
        """
        if code not in RETURN_REJECTION_CODES:
            raise ValueError("Unknown rejection code %r; use one of %s" % (code, ", ".join(RETURN_REJECTION_CODES)))
        if reason is not None and not 1 <= len(str(reason)) <= MAX_REJECTION_REASON_LENGTH:
            raise ValueError("reason must have 1 to %d characters" % MAX_REJECTION_REASON_LENGTH)
        if code == "REFUND_REJECTED" and not reason:
            raise ValueError("A REFUND_REJECTED rejection needs a reason")
        rejection = {"code": code}
        if reason:
            rejection["reason"] = str(reason)
        return self._beta("POST", "%s/%s/rejection" % (CUSTOMER_RETURNS, _segment(return_id, "return_id")),
                          json={"rejection": rejection})

    def create_refund(self, command_id, payment_id, order_id, reason, line_items=None, delivery=None,
                      overpaid=None, surcharges=None, additional_services=None, seller_comment=None):
        """``POST /payments/refunds``: refund (part of) a payment to the buyer (RefundDetails).

        :param command_id: the caller's UUID for this refund, stored before
            calling: the spec's idempotency key. The call is not repeated
            after an attempt whose answer was lost (a timeout, a 5xx): it
            raises then, and the caller reads :meth:`list_refunds` for the
            order before sending it again, with the same ``command_id``.
        :param line_items: ``[{"id": line item id, "quantity": n}]`` or
            ``[{"id": ..., "value": {"amount", "currency"}}]`` (the checkout
            form's line item ids, one entry per line).
        :param delivery, overpaid, additional_services: a Price
            (``{"amount", "currency"}``); ``surcharges``: ``[{"id", "value"}]``.
        Allegro answers 422 (:class:`AllegroValidationError`) for more than
        was paid or is left to refund.
        """
        if reason not in REFUND_REASONS:
            raise ValueError("Unknown refund reason %r; use one of %s" % (reason, ", ".join(REFUND_REASONS)))
        body = {"commandId": _required_id(command_id, "command_id"),
                "payment": {"id": _required_id(payment_id, "payment_id")},
                "order": {"id": _required_id(order_id, "order_id")}, "reason": reason}
        lines = []
        for line in line_items or []:
            line_id = _required_id(_item_id(line), "line item id")
            if line.get("quantity") is not None:
                _check_range("quantity", line["quantity"], 1)
                lines.append({"id": line_id, "type": "QUANTITY", "quantity": line["quantity"]})
            elif isinstance(line.get("value"), dict):
                lines.append({"id": line_id, "type": "AMOUNT", "value": line["value"]})
            else:
                raise ValueError("Line item %s needs a quantity or a value" % line_id)
        if lines:
            body["lineItems"] = lines
        others = {"delivery": delivery, "overpaid": overpaid, "additionalServices": additional_services}
        body.update({key: {"value": value} for key, value in others.items() if value is not None})
        if surcharges:
            body["surcharges"] = list(surcharges)
        if not (lines or surcharges or any(value is not None for value in others.values())):
            raise ValueError("Nothing to refund: give line_items, delivery, overpaid, surcharges "
                             "or additional_services")
        if seller_comment:
            if len(seller_comment) > MAX_SELLER_COMMENT_LENGTH:
                raise ValueError("seller_comment can have at most %d characters" % MAX_SELLER_COMMENT_LENGTH)
            body["sellerComment"] = seller_comment
        # A lost answer is not repeated blindly: the caller looks for the refund first (see above).
        return self._parse(self._send("POST", "/payments/refunds", json=body, idempotent=False))

    def list_refunds(self, offset=0, limit=50, **filters):
        """``GET /payments/refunds``: one page (``refunds``, ``count``, ``totalCount``).

        Filters: ``order_id``, ``payment_id``, ``refund_id``,
        ``occurred_at_gte``/``_lte``, ``status`` (WAITING, IN_PROGRESS,
        SUCCESS, CANCELED, PARTIAL: not the refunds' own status values).
        """
        _check_range("offset", offset, 0)
        _check_range("limit", limit, 1, 100)
        params = build_filters(self._merge_filters(filters), REFUND_FILTERS, what="refund filter")
        params.update(offset=offset, limit=limit)
        return self._get("/payments/refunds", params)

    def iter_refunds(self, page_size=100, **filters):
        """Iterate over all refunds matching ``filters`` (offset pagination)."""
        _check_range("page_size", page_size, 1, 100)
        filters = self._merge_filters(filters)
        build_filters(filters, REFUND_FILTERS, what="refund filter")

        def fetch(offset, limit):
            return self.list_refunds(offset, limit, **filters)

        return iter_offset(fetch, "refunds", page_size, key=_item_id)

    def find_refund(self, order_id, command_id=None, **criteria):
        """The order's refund sent in a call whose answer was lost, or None.

        The refunds do not carry the ``commandId``: one is recognised by what
        it refunds (``criteria``: e.g. ``reason``, ``totalValue``), the
        latest first. With ``command_id`` only for the caller's log.
        """
        found = [r for r in self.iter_refunds(order_id=order_id)
                 if all(r.get(key) == value for key, value in criteria.items())]
        if found:
            _logger.info("Allegro refund of order %s (command %s) found: %s", order_id, command_id, found[-1]["id"])
        return found[-1] if found else None

    def create_refund_claim(self, line_item_id, quantity):
        """``POST /order/refund-claims``: claim the commission back for a line item (201 ``{id}``).

        Allegro takes one claim per line item, whatever its status: a second
        one (or one Allegro filed itself) is refused with 422
        :data:`CLAIM_EXISTS` in ``codes``; so is a claim after Allegro's window
        (45 days from the purchase). Not repeated after a lost answer: look
        for the claim with :meth:`iter_refund_claims` first.
        """
        _check_range("quantity", quantity, 1)
        body = {"lineItem": {"id": _required_id(line_item_id, "line_item_id")}, "quantity": quantity}
        return self._parse(self._send("POST", "/order/refund-claims", json=body, idempotent=False))

    def get_refund_claim(self, claim_id):
        """``GET /order/refund-claims/{claimId}`` (RefundClaim; ``commission.amount`` is a number)."""
        return self._get("/order/refund-claims/%s" % _segment(claim_id, "claim_id"))

    def list_refund_claims(self, offset=0, limit=25, **filters):
        """``GET /order/refund-claims``: one page (``refundClaims``, ``count``).

        Filters: ``offer_id``, ``buyer_id``, ``status``.
        """
        _check_range("offset", offset, 0)
        _check_range("limit", limit, 1, 100)
        params = build_filters(self._merge_filters(filters), REFUND_CLAIM_FILTERS, what="refund claim filter")
        params.update(offset=offset, limit=limit)
        return self._get("/order/refund-claims", params)

    def iter_refund_claims(self, page_size=100, **filters):
        """Iterate over all claims matching ``filters`` (offset pagination; the
        answer has no ``totalCount``: a short page ends it)."""
        _check_range("page_size", page_size, 1, 100)
        filters = self._merge_filters(filters)
        build_filters(filters, REFUND_CLAIM_FILTERS, what="refund claim filter")

        def fetch(offset, limit):
            return self.list_refund_claims(offset, limit, **filters)

        return iter_offset(fetch, "refundClaims", page_size, key=_item_id)

    def cancel_refund_claim(self, claim_id):
        """``DELETE /order/refund-claims/{claimId}`` (204); cannot be undone, 422 once processed."""
        self._send("DELETE", "/order/refund-claims/%s" % _segment(claim_id, "claim_id"))
    # Message center (/messaging) and post-purchase issues (/sale/issues, beta)
    # ------------------------------------------------------------------
    def list_threads(self, offset=0, limit=MAX_THREADS_PAGE):
        """``GET /messaging/threads``: one page (ThreadsList), last message first."""
        _check_range("limit", limit, 1, MAX_THREADS_PAGE)
        _check_range("offset", offset, 0)
        return self._get("%s/threads" % MESSAGING, {"offset": offset, "limit": limit})

    def iter_threads(self, since=None, page_size=MAX_THREADS_PAGE):
        """Threads whose ``lastMessageDateTime`` is later than ``since``, last message first.

        Allegro lists threads by last message and offers no date filter, so
        the pages are read until a thread at or before ``since`` (an ISO
        string, or a datetime, naive meaning UTC; ``None``: every thread). When nothing is
        new, that is one request. Keep the newest ``lastMessageDateTime``
        yielded as the next ``since``: a thread that moves to the top while
        the pages are read shifts the others down (each is still yielded
        once) and is found by the next call.
        """
        _check_range("page_size", page_size, 1, MAX_THREADS_PAGE)
        since = _as_utc(since, "since")
        offset, seen = 0, set()
        while True:
            threads = (self.list_threads(offset, page_size) or {}).get("threads") or []
            for thread in threads:
                last = thread.get("lastMessageDateTime")
                if since is not None and (not last or parse_timestamp(last) <= since):
                    return
                if thread.get("id") not in seen:
                    seen.add(thread.get("id"))
                    yield thread
            if len(threads) < page_size:
                return
            offset += len(threads)

    def get_thread(self, thread_id):
        """``GET /messaging/threads/{threadId}`` (Thread: ``read``, ``lastMessageDateTime``, ``interlocutor``)."""
        return self._get("%s/threads/%s" % (MESSAGING, _segment(thread_id, "thread_id")))

    def mark_thread_read(self, thread_id, read=True):
        """``PUT /messaging/threads/{threadId}/read``; returns the Thread."""
        return self._parse(self._send("PUT", "%s/threads/%s/read" % (MESSAGING, _segment(thread_id, "thread_id")),
                                      json={"read": bool(read)}))

    def iter_thread_messages(self, thread_id, after=None, page_size=MAX_THREADS_PAGE):
        """A thread's messages created after ``after`` (exclusive; ``None``: all), newest first.

        Pages are chained by ``before`` rather than by offset, so a message
        arriving meanwhile shifts nothing: it is newer than every message
        yielded, and the next call with the newest ``createdAt`` yielded as
        ``after`` finds it. ``before`` is a millisecond past the oldest
        ``createdAt`` of the page before, as messages may share a millisecond;
        the ones already yielded are skipped.
        """
        _check_range("page_size", page_size, 1, MAX_THREADS_PAGE)
        path = "%s/threads/%s/messages" % (MESSAGING, _segment(thread_id, "thread_id"))
        after = _as_utc(after, "after")
        params = {"limit": page_size}
        if after is not None:
            params["after"] = format_value(after)
        seen = set()
        while True:
            messages = (self._get(path, dict(params)) or {}).get("messages") or []
            new = [m for m in messages if m.get("id") not in seen]
            seen.update(m.get("id") for m in new)
            yield from new
            if len(messages) < page_size or not new:
                return
            oldest = parse_timestamp(messages[-1]["createdAt"])
            params["before"] = format_value(oldest + timedelta(milliseconds=1))

    def get_message(self, message_id):
        """``GET /messaging/messages/{messageId}`` (Message)."""
        return self._get("%s/messages/%s" % (MESSAGING, _segment(message_id, "message_id")))

    def delete_message(self, message_id):
        """``DELETE /messaging/messages/{messageId}`` (the seller's own message)."""
        self._send("DELETE", "%s/messages/%s" % (MESSAGING, _segment(message_id, "message_id")))

    def send_message(self, thread_id, text, attachment_ids=None):
        """``POST /messaging/threads/{threadId}/messages``: the seller answers in a thread; returns the Message.

        Allegro takes no idempotency key for messages, so an attempt whose
        answer is lost (:class:`AllegroTransportError` with ``unanswered``, or
        a 500/502/504) is not repeated here. Note the time before sending; after
        such a failure, :meth:`find_sent_message` tells whether Allegro took it
        before sending it again. A refused text (too long, a link outside
        Allegro) raises :class:`AllegroValidationError` with Allegro's message.
        """
        body = _message_body(text, attachment_ids, MAX_MESSAGE_LENGTH)
        return self._parse(self._send(
            "POST", "%s/threads/%s/messages" % (MESSAGING, _segment(thread_id, "thread_id")), json=body))

    def start_thread(self, login, order_id, text, attachment_ids=None):
        """``POST /messaging/messages``: the seller writes first to the buyer ``login`` about an order.

        Allegro requires the order. Returns the Message (its ``thread.id`` is
        the buyer's thread); a lost answer as in :meth:`send_message`.
        """
        body = _message_body(text, attachment_ids, MAX_MESSAGE_LENGTH)
        body.update(recipient={"login": _required_id(login, "login")}, order={"id": _required_id(order_id, "order_id")})
        return self._parse(self._send("POST", "%s/messages" % MESSAGING, json=body))

    def find_sent_message(self, thread_id, text, sent_after):
        """The seller's message in the thread with this ``text``, created after ``sent_after``, or ``None``.

        How to tell whether a message whose answer was lost reached Allegro:
        ``sent_after`` is a time taken before the attempt (a little earlier
        covers clock differences).
        """
        for message in self.iter_thread_messages(thread_id, after=sent_after):
            author = message.get("author") or {}
            if not author.get("isInterlocutor") and message.get("text") == text:
                return message
        return None

    def declare_attachment(self, filename, size):
        """``POST /messaging/message-attachments``: announce a file (at most 5 MB); returns its id."""
        _check_range("size", size, 0, MAX_ATTACHMENT_SIZE)
        body = {"filename": _required_id(filename, "filename"), "size": size}
        return self._parse(self._send("POST", "%s/message-attachments" % MESSAGING, json=body))["id"]

    def upload_attachment(self, attachment_id, data, filename):
        """``PUT /messaging/message-attachments/{attachmentId}`` with the file's bytes.

        The media type comes from ``filename`` (PNG, GIF, BMP, TIFF, JPEG or
        PDF only). Sending the same bytes again is harmless, so it is retried.
        """
        self._send("PUT", "%s/message-attachments/%s" % (MESSAGING, _segment(attachment_id, "attachment_id")),
                   data=bytes(data), content_type=_attachment_type(filename), idempotent=True, localized=False)

    def add_attachment(self, filename, data):
        """Declare and upload a file for :meth:`send_message`; returns its id."""
        attachment_id = self.declare_attachment(filename, len(data))
        self.upload_attachment(attachment_id, data, filename)
        return attachment_id

    def download_attachment(self, attachment_id=None, url=None):
        """The bytes of a message's attachment, by id or by the ``url`` a Message gives.

        Allegro keeps attachments for 6 months; older ones are not found.
        """
        path = url or "%s/message-attachments/%s" % (MESSAGING, _segment(attachment_id, "attachment_id"))
        return self._send("GET", path, media_type="*/*", localized=False).content

    def list_issues(self, offset=0, limit=MAX_ISSUES_PAGE, order_id=None, statuses=None):
        """``GET /sale/issues`` (beta): one page of disputes and claims, last opened first."""
        _check_range("limit", limit, 1, MAX_ISSUES_PAGE)
        _check_range("offset", offset, 0)
        params = {"offset": offset, "limit": limit}
        if order_id:
            params["checkoutForm.id"] = str(order_id)
        if statuses:
            params["status"] = list(statuses)
        return self._beta("GET", ISSUES, params=params)

    def iter_issues(self, order_id=None, statuses=None, page_size=MAX_ISSUES_PAGE):
        """Every issue (of an order, in ``statuses``), last opened first.

        There is no journal of issues: a poll compares each issue's
        ``currentState`` and ``chat.lastMessage.createdAt`` with what it keeps.
        Types, statuses and reasons Allegro adds later come through as they are.
        """
        _check_range("page_size", page_size, 1, MAX_ISSUES_PAGE)

        def page(offset, limit):
            return self.list_issues(offset, limit, order_id, statuses)
        return iter_offset(page, "issues", page_size, key=_item_id)

    def get_issue(self, issue_id):
        """``GET /sale/issues/{issueId}`` (PostPurchaseIssue, beta)."""
        return self._beta("GET", "%s/%s" % (ISSUES, _segment(issue_id, "issue_id")))

    def get_issue_chat(self, issue_id, page_size=MAX_ISSUES_PAGE):
        """Every message of an issue's chat (``GET /sale/issues/{issueId}/chat``), oldest first."""
        _check_range("page_size", page_size, 1, MAX_ISSUES_PAGE)
        path = "%s/%s/chat" % (ISSUES, _segment(issue_id, "issue_id"))

        def page(offset, limit):
            return self._beta("GET", path, params={"offset": offset, "limit": limit})
        return list(iter_offset(page, "chat", page_size, key=_item_id))

    def send_issue_message(self, issue_id, text, message_type="REGULAR", attachment_ids=None):
        """``POST /sale/issues/{issueId}/message`` (beta); returns the message.

        ``message_type``: REGULAR, END_REQUEST (disputes), RETURN_REQUIRED_SELLER_LABEL,
        RETURN_REQUIRED_CUSTOM or RETURN_NOT_REQUIRED (claims). 409
        (:class:`AllegroConflict`) when the issue takes no message. No
        idempotency key either: after a lost answer, look for the text in
        :meth:`get_issue_chat` before sending it again.
        """
        if message_type not in ISSUE_MESSAGE_TYPES:
            raise ValueError("message_type must be one of %s" % ", ".join(ISSUE_MESSAGE_TYPES))
        body = _message_body(text, attachment_ids, MAX_ISSUE_MESSAGE_LENGTH)
        body["type"] = message_type
        return self._beta("POST", "%s/%s/message" % (ISSUES, _segment(issue_id, "issue_id")), json=body)

    def change_issue_status(self, issue_id, status, message, partial_refund=None):
        """``POST /sale/issues/{issueId}/status`` (beta): accept or reject a claim, with the reason.

        :param partial_refund: ``{amount, currency}`` for ACCEPTED_PARTIAL_REFUND.
        """
        if status not in CLAIM_DECISIONS:
            raise ValueError("status must be one of %s" % ", ".join(CLAIM_DECISIONS))
        if not isinstance(message, str) or not message.strip():
            raise ValueError("message is required")
        body = {"status": status, "message": message}
        if partial_refund is not None:
            body["partialRefund"] = {"amount": str(partial_refund["amount"]), "currency": partial_refund["currency"]}
        self._beta("POST", "%s/%s/status" % (ISSUES, _segment(issue_id, "issue_id")), json=body)

    def add_issue_attachment(self, filename, data):
        """Declare (``POST /sale/issues/attachments``) and upload a file for an issue message; returns its id.

        The upload goes to the one-time URL of the declaration's ``Location``, as given.
        """
        if not data:
            raise ValueError("data is empty")
        _check_range("size", len(data), 1, MAX_ATTACHMENT_SIZE)
        response = self._send("POST", "%s/attachments" % ISSUES, media_type=MEDIA_TYPE_BETA,
                              json={"fileName": _required_id(filename, "filename"), "size": len(data)})
        attachment_id = self._parse(response)["id"]
        location = response.headers.get("Location") or "%s/attachments/%s" % (ISSUES, _segment(attachment_id, "id"))
        self._send("PUT", location, data=bytes(data), media_type=MEDIA_TYPE_BETA,
                   content_type=_attachment_type(filename), idempotent=True, localized=False)
        return attachment_id

    def download_issue_attachment(self, attachment_id=None, url=None):
        """The bytes of an issue's attachment, by id or by its ``url``."""
        path = url or "%s/attachments/%s" % (ISSUES, _segment(attachment_id, "attachment_id"))
        return self._send("GET", path, media_type="*/*", localized=False).content

    def _beta(self, method, path, params=None, json=None):
        return self._parse(self._send(method, path, params=params, json=json, media_type=MEDIA_TYPE_BETA))


    # ------------------------------------------------------------------
    # Fees (billing) and payment operations (wallets, payouts)
    # ------------------------------------------------------------------
    def get_billing_types(self):
        """``GET /billing/billing-types``: ``[{id, description}]``, named in the client's language.

        The full list of codes is not documented: read it, do not hard-code it.
        """
        return self._get("/billing/billing-types")

    def list_billing_entries(self, offset=0, limit=BILLING_PAGE_SIZE, **filters):
        """``GET /billing/billing-entries``: one page (``billingEntries``, newest first, no count).

        Filters: ``occurred_at_gte``/``_lte``, ``type_id`` (a list: repeated),
        ``offer_id``, ``order_id``, ``marketplace_id`` (default: the account's).
        """
        _check_range("offset", offset, 0, MAX_MONEY_OFFSET)
        _check_range("limit", limit, 1, BILLING_PAGE_SIZE)
        params = build_filters(self._merge_filters(filters), dict(BILLING_ENTRY_FILTERS, **MONEY_TIME_FILTERS),
                               what="billing entry filter")
        params.update(offset=offset, limit=limit)
        return self._get("/billing/billing-entries", params)

    def iter_billing_entries(self, occurred_at_gte, occurred_at_lte=None, page_size=BILLING_PAGE_SIZE, **filters):
        """Every billing entry that occurred in ``[occurred_at_gte, occurred_at_lte]`` (up to now when not
        given), each once, newest first: past the offset cap (10,000) the window's end moves back to the
        oldest entry read, so entries sharing a time across a page boundary or arriving meanwhile are
        neither lost nor repeated. The next incremental read starts at this read's end (inclusive)."""
        return self._iter_money(self.list_billing_entries, "billingEntries", BILLING_ENTRY_FILTERS,
                                "billing entry filter", occurred_at_gte, occurred_at_lte, page_size,
                                BILLING_PAGE_SIZE, filters, split=False)

    def list_payment_operations(self, offset=0, limit=PAYMENT_OPERATIONS_PAGE_SIZE, **filters):
        """``GET /payments/payment-operations``: one page (``paymentOperations``, ``count``, ``totalCount``),
        newest first; each operation carries its wallet's balance after it.

        Filters: ``occurred_at_gte``/``_lte``, ``wallet_type`` (AVAILABLE by
        default, WAITING), ``payment_operator``, ``group`` (a list), ``currency``,
        ``marketplace_id``, ``payment_id``, ``participant_login``.
        Allegro answers 422 when the search finds more than 10,000 operations.
        """
        _check_range("offset", offset, 0, MAX_MONEY_OFFSET)
        _check_range("limit", limit, 1, PAYMENT_OPERATIONS_PAGE_SIZE)
        filters = self._merge_filters(filters)
        _check_choices("wallet_type", filters.get("wallet_type"), WALLET_TYPES)
        _check_choices("payment_operator", filters.get("payment_operator"), PAYMENT_OPERATORS)
        _check_choices("group", filters.get("group"), OPERATION_GROUPS)
        params = build_filters(filters, dict(PAYMENT_OPERATION_FILTERS, **MONEY_TIME_FILTERS),
                               what="payment operation filter")
        params.update(offset=offset, limit=limit)
        return self._get("/payments/payment-operations", params)

    def iter_payment_operations(self, occurred_at_gte, occurred_at_lte=None,
                                page_size=PAYMENT_OPERATIONS_PAGE_SIZE, **filters):
        """Every payment operation that occurred in ``[occurred_at_gte, occurred_at_lte]`` (up to now when
        not given), each once, newest first. A window finding more than Allegro lists (422) is read in
        halves; operations have no id, so one is known by its type, time, wallet, value and links."""
        return self._iter_money(self.list_payment_operations, "paymentOperations", PAYMENT_OPERATION_FILTERS,
                                "payment operation filter", occurred_at_gte, occurred_at_lte, page_size,
                                PAYMENT_OPERATIONS_PAGE_SIZE, filters, split=True)

    def _iter_money(self, list_page, items_key, aliases, what, gte, lte, page_size, maximum, filters, split):
        _check_range("page_size", page_size, 1, maximum)
        # A fixed end: what arrives while the list is read comes above it, and shifts no page.
        gte = _as_utc(gte, "occurred_at_gte")
        lte = _as_utc(lte, "occurred_at_lte") or datetime.now(timezone.utc).replace(tzinfo=None)
        if gte is None:
            raise ValueError("occurred_at_gte is required")
        if lte < gte:
            raise ValueError("occurred_at_lte cannot be earlier than occurred_at_gte")
        filters = self._merge_filters(filters)
        if set(filters) & (set(MONEY_TIME_FILTERS) | set(MONEY_TIME_FILTERS.values())):
            raise ValueError("Give the time range as occurred_at_gte/occurred_at_lte arguments")
        build_filters(filters, aliases, what=what)

        def fetch(low, high, offset, limit):
            return list_page(offset, limit, occurred_at_gte=low, occurred_at_lte=high, **filters)

        return iter_newest_first(fetch, items_key, page_size, gte, lte, moment=_occurred_at,
                                 key=_money_key, max_offset=MAX_MONEY_OFFSET,
                                 split=_too_many_found if split else None)


def _as_utc(value, what):
    """A naive UTC datetime (as Odoo stores them) from an ISO string or a datetime; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    moment = parse_timestamp(value)
    if moment is None:
        raise ValueError("%s must be an ISO date-time, got %r" % (what, value))
    return moment


def _message_body(text, attachment_ids, maximum):
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text is required")
    if len(text) > maximum:
        raise ValueError("The message is too long (%d characters, at most %d)" % (len(text), maximum))
    body = {"text": text}
    if attachment_ids:
        body["attachments"] = [{"id": _required_id(a, "attachment id")} for a in attachment_ids]
    return body


def _attachment_type(filename):
    extension = str(filename or "").rsplit(".", 1)[-1].lower()
    if extension not in ATTACHMENT_MEDIA_TYPES:
        raise ValueError("Allegro takes PNG, GIF, BMP, TIFF, JPEG or PDF attachments, not %r" % filename)
    return ATTACHMENT_MEDIA_TYPES[extension]


def _check_choices(name, value, choices):
    values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    for item in values:
        if item is not None and item not in choices:
            raise ValueError("Unknown %s %r; use one of %s" % (name, item, ", ".join(choices)))


def _occurred_at(item):
    return parse_timestamp(item.get("occurredAt")) if isinstance(item, dict) else None


def _money_key(item):
    """A billing entry's id; a payment operation has none, so all it says (with the balance after it,
    which tells two equal operations of one instant apart) is its identity."""
    if not isinstance(item, dict):
        return None
    return item.get("id") or json.dumps(item, sort_keys=True)


def _too_many_found(error):
    """The 422 of a payment operation search that found too many operations."""
    return isinstance(error, AllegroValidationError) and getattr(error, "status", None) == 422
