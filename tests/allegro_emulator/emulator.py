"""AllegroEmulator: the public Python API that tests and the demo use.

It owns the state (orders, journal, offers, parcels), OAuth, fault switches and the
HTTP server. Every method takes the same lock as the server's request
handling, and returns copies so callers cannot change state by accident.
"""

import json
import random
import threading

from .common import utcnow
from .demo import demo_orders
from .faults import Faults
from .oauth import OAuth
from .server import EmulatorServer
from .state import Store


def _snapshot(data):
    return json.loads(json.dumps(data))  # a deep copy, much faster than copy.deepcopy for JSON data


class AllegroEmulator:
    def __init__(self, client_id="demo-client", client_secret="demo-secret", seller_login="demo-seller",
                 seller_id="12345678", random_seed=None):
        self.client_id = client_id
        self.client_secret = client_secret
        self.seller_login = seller_login
        self.seller_id = seller_id
        self.lock = threading.RLock()
        self.rng = random.Random(random_seed)
        self.store = Store(self.rng, seller_id)
        self.store.messaging.seller_login = seller_login
        self.oauth = OAuth(self)
        self.faults = Faults()
        self.requests = []  # one record per served request, see server.Handler._record
        # Tunables; plain attributes so tests can flip them at any time.
        self.token_lifetime = 43199  # seconds, as Allegro's expires_in
        self.device_code_lifetime = 3600
        self.poll_interval = 5
        self.enforce_poll_interval = False  # answer slow_down to polls faster than poll_interval
        self.auto_approve = False  # device authorizations approved as soon as they start
        self.auto_sent_on_waybill = False  # adding a waybill sets fulfillment SENT
        self.duplicate_events = False  # each journal event twice in a page
        self.shuffle_events = False  # journal pages out of order
        self.strict_media_types = True  # 406/415 for wrong Accept/Content-Type, as Allegro
        self.log_requests = False  # access log on stderr
        self.latency = 0.0  # seconds added to every REST API request (benchmarks)
        # Order id -> the order as the checkout-forms listing still shows it,
        # whatever changes later (Allegro's search lagging behind its journal).
        self.lagging_listing = {}
        # [pages to serve, change]: change() runs once that many listing pages are served.
        self.listing_changes = []
        self.url = None
        self._server = None
        self._thread = None

    # -- server --------------------------------------------------------------
    @property
    def api_url(self):
        return self.url

    @property
    def auth_url(self):
        return self.url and self.url + "/auth/oauth"

    def start(self, host="127.0.0.1", port=0):
        """Serve in a background thread; port 0 picks a free port. Returns self."""
        if self._server:
            raise RuntimeError("emulator already started at %s" % self.url)
        self._server = EmulatorServer((host, port), self)
        shown_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.url = "http://%s:%d" % (shown_host, self._server.server_address[1])
        # A short poll interval keeps stop() fast (shutdown waits for the next poll).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="allegro-emulator",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if not self._server:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self):
        return self if self._server else self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- OAuth ---------------------------------------------------------------
    @property
    def refresh_count(self):
        return self.oauth.refresh_count

    def approve_device(self, user_code=None):
        """Approve one pending device authorization, or all when user_code is None; returns how many."""
        with self.lock:
            return self.oauth.decide(user_code, "approved")

    def deny_device(self, user_code):
        with self.lock:
            return self.oauth.decide(user_code, "denied")

    def issue_tokens(self):
        """A fresh token response (access + refresh) without the device flow."""
        with self.lock:
            return self.oauth.issue()

    def expire_access_tokens(self):
        with self.lock:
            self.oauth.expire_access_tokens()

    def revoke_refresh_tokens(self):
        with self.lock:
            self.oauth.revoke_refresh_tokens()

    # -- data ----------------------------------------------------------------
    @property
    def offers(self):
        """The live offer list (stock changes made over the API show here)."""
        return self.store.offers

    def offer(self, offer_id):
        """A copy of one offer as the emulator holds it."""
        with self.lock:
            return _snapshot(self.store.book.by_id[offer_id])

    def seed_offers(self, n, stock=10):
        """Add n ACTIVE offers (SKU-00016, ...) with ``stock`` items each."""
        with self.lock:
            self.store.book.seed(n, stock)

    def set_offer_stock(self, offer_id, available):
        """The seller changes an offer's stock by hand on Allegro (0 ends an active offer)."""
        with self.lock:
            book = self.store.book
            book.set_stock(book.by_id[offer_id], available, ended_by="USER")

    def set_offer_status(self, offer_id, status):
        with self.lock:
            book = self.store.book
            book.set_status(book.by_id[offer_id], status)

    def refuse_offer_changes(self, offer_id, message="The offer cannot be changed."):
        """Every command task on this offer fails with ``message`` (fault injection)."""
        with self.lock:
            self.store.book.refusals[offer_id] = message

    @property
    def command_delay(self):
        """Seconds the tasks of a new batch command stay NEW before they are carried out."""
        return self.store.book.command_delay

    @command_delay.setter
    def command_delay(self, seconds):
        self.store.book.command_delay = float(seconds)

    @property
    def offer_events(self):
        with self.lock:
            return _snapshot(self.store.book.events)

    @property
    def orders(self):
        with self.lock:
            return _snapshot(list(self.store.orders.values()))

    @property
    def events(self):
        with self.lock:
            return _snapshot(self.store.events)

    def get_order(self, order_id):
        with self.lock:
            return _snapshot(self.store.order(order_id))

    def add_order(self, **overrides):
        """Add one order: a generated valid default deep-merged with ``overrides``
        (None removes a key; lineItems may name just offer.id and quantity)."""
        with self.lock:
            return _snapshot(self.store.add_order(overrides))

    def seed_orders(self, n, days=30, **overrides):
        """Generate n varied orders bought over the last ``days``; ``overrides`` apply to each."""
        with self.lock:
            return _snapshot(self.store.seed(n, overrides, days))

    def seed_demo(self):
        """Add the fixed demo set (six orders, one per typical case)."""
        return [self.add_order(**overrides) for overrides in demo_orders(self.offers)]

    def _change(self, method, order_id, *args, **kwargs):
        with self.lock:
            method(order_id, *args, **kwargs)
            return _snapshot(self.store.order(order_id))

    def pay_order(self, order_id):
        """FILLED_IN (or BOUGHT) -> READY_FOR_PROCESSING; returns the order."""
        return self._change(self.store.pay, order_id)

    def overpay(self, order_id, extra):
        """The buyer of a paid order paid ``extra`` more than its total."""
        return self._change(self.store.overpay, order_id, extra)

    def edit_delivery_address(self, order_id, **fields):
        return self._change(self.store.edit_delivery_address, order_id, fields)

    def revise_order(self, order_id, **overrides):
        """A new revision of the order with ``overrides`` deep-merged in (total recomputed)."""
        return self._change(self.store.revise, order_id, overrides)

    def cancel_order(self, order_id, auto=False):
        return self._change(self.store.cancel, order_id, auto)

    def set_fulfillment(self, order_id, status):
        return self._change(self.store.set_fulfillment, order_id, status)

    def lag_listing(self, order_id):
        """From now on the checkout-forms listing shows this order as it is
        now; a GET of the order shows it as it is."""
        with self.lock:
            self.lagging_listing[order_id] = _snapshot(self.store.order(order_id))

    def change_during_listing(self, change, after_pages=1):
        """Run ``change()`` (e.g. a revise_order) once the next ``after_pages``
        pages of the checkout-forms listing are served, before the next page."""
        with self.lock:
            self.listing_changes.append([after_pages, change])

    def delete_order(self, order_id):
        with self.lock:
            self.store.delete(order_id)

    def shipments(self, order_id):
        with self.lock:
            return _snapshot(self.store.shipments.get(order_id, []))

    def invoices(self, order_id):
        with self.lock:
            return _snapshot(self.store.invoices.get(order_id, []))

    def invoice_file(self, invoice_id):
        """Bytes uploaded for an invoice, or None."""
        return self.store.invoice_files.get(invoice_id)

    # -- Ship with Allegro ---------------------------------------------------
    @property
    def shipment_command_reads(self):
        """Status reads a new shipping command (create, cancel, pickup) answers IN_PROGRESS."""
        return self.store.shipping.command_reads

    @shipment_command_reads.setter
    def shipment_command_reads(self, reads):
        self.store.shipping.command_reads = int(reads)

    @property
    def shipment_command_delay(self):
        """Seconds a new shipping command stays IN_PROGRESS at least."""
        return self.store.shipping.command_delay

    @shipment_command_delay.setter
    def shipment_command_delay(self, seconds):
        self.store.shipping.command_delay = float(seconds)

    @property
    def shipment_retry_after(self):
        """The Retry-After (seconds) of shipping commands in progress."""
        return self.store.shipping.retry_after

    @shipment_retry_after.setter
    def shipment_retry_after(self, seconds):
        self.store.shipping.retry_after = int(seconds)

    def set_shipping_sender(self, **fields):
        """Change the sender of the seller's shipping settings (the delivery proposals' sender)."""
        with self.lock:
            self.store.shipping.sender.update(fields)

    @property
    def parcels(self):
        """The Ship with Allegro parcels (ShipmentDto), oldest first."""
        with self.lock:
            return _snapshot(list(self.store.shipping.shipments.values()))

    def parcel(self, shipment_id):
        with self.lock:
            return _snapshot(self.store.shipping.shipments[shipment_id])

    @property
    def pickups(self):
        with self.lock:
            return _snapshot(list(self.store.shipping.pickups.values()))

    def hand_over_parcel(self, shipment_id):
        """The carrier takes the parcel: it can no longer be canceled nor picked up."""
        with self.lock:
            self.store.shipping.hand_over(shipment_id)

    def close_pickup_point(self, point_id):
        """A pickup point that takes no parcels: creating a parcel for it ends in ERROR."""
        with self.lock:
            self.store.shipping.closed_points.add(point_id)

    # -- customer returns, payment refunds, commission refund claims ---------
    def add_customer_return(self, order_id, items=None, **fields):
        """A buyer's return (CustomerReturn) of an order: ``items`` lists
        (offer id, quantity), default the whole order; ``fields``: status,
        reason, comment, waybill, carrier_id, created_at, shipped_back (False:
        a return without parcel). Any status or reason
        is kept as given, also one the spec does not list."""
        with self.lock:
            return _snapshot(self.store.returns.add_return(order_id, items, **fields))

    def customer_return(self, return_id):
        with self.lock:
            return _snapshot(self.store.returns.customer_return(return_id))

    def set_customer_return_status(self, return_id, status):
        with self.lock:
            self.store.returns.set_return_status(return_id, status)

    @property
    def refunds(self):
        """The payment refunds (RefundDetails), oldest first."""
        with self.lock:
            return _snapshot(list(self.store.returns.refunds.values()))

    @property
    def refund_status(self):
        """The status new payment refunds get (SUCCESS unless a test says otherwise)."""
        return self.store.returns.refund_status

    @refund_status.setter
    def refund_status(self, status):
        self.store.returns.refund_status = status

    def set_refund_status(self, refund_id, status):
        """Allegro moves a payment refund on (SUCCESS, CANCELED...), any status kept as given."""
        with self.lock:
            self.store.returns.refunds[refund_id]["status"] = status

    @property
    def claim_window_days(self):
        """Days after a purchase in which a commission refund claim is accepted."""
        return self.store.returns.claim_window_days

    @claim_window_days.setter
    def claim_window_days(self, days):
        self.store.returns.claim_window_days = int(days)

    @property
    def refund_claims(self):
        with self.lock:
            return _snapshot(list(self.store.returns.claims.values()))

    def set_refund_claim_status(self, claim_id, status):
        """Allegro decides on a claim: GRANTED, REJECTED, APPEALED..."""
        with self.lock:
            self.store.returns.claims[claim_id]["status"] = status

    def add_automatic_refund_claim(self, line_item_id, quantity=1):
        """A claim Allegro filed by itself (type AUTOMATIC): the seller's own is then refused."""
        with self.lock:
            return _snapshot(self.store.returns.add_claim(line_item_id, quantity, kind="AUTOMATIC"))
    # -- messages and post-purchase issues -----------------------------------
    def buyer_message(self, order_id=None, text="Dzień dobry, kiedy wyślecie paczkę?", login=None, attachments=(),
                      offer_id=None):
        """The buyer of ``order_id`` (or ``login``, about no order) writes to the seller.

        ``attachments``: ``(filename, bytes)`` pairs. Returns the Message."""
        with self.lock:
            center = self.store.messaging
            center.base_url = self.url
            if order_id:
                login = self.store.order(order_id)["buyer"]["login"]
            if not login:
                raise ValueError("name an order or a buyer's login")
            files = [center.attachments.add(name, data) for name, data in attachments]
            message = center.post(center.thread_of(login), text, True, order_id, offer_id, files)
            return _snapshot(center.served(message))

    @property
    def threads(self):
        """The message center's threads as listed (last message first)."""
        with self.lock:
            return _snapshot(self.store.messaging.listed_threads())

    def thread_messages(self, thread_id):
        """A thread's messages, oldest first."""
        with self.lock:
            center = self.store.messaging
            return _snapshot([center.served(m) for m in center.messages[thread_id]])

    def open_issue(self, order_id, kind="DISPUTE", text="Paczka nie dotarła.", **overrides):
        """The buyer of ``order_id`` opens a DISPUTE or a CLAIM; ``overrides`` replace top-level fields."""
        with self.lock:
            return _snapshot(self.store.issues.open(self.store.order(order_id), kind, text, **overrides))

    def issue(self, issue_id):
        with self.lock:
            return _snapshot(self.store.issues.issues[issue_id])

    def issue_chat(self, issue_id):
        with self.lock:
            return _snapshot(self.store.issues.chats[issue_id])

    def buyer_issue_message(self, issue_id, text, attachments=(), role="BUYER"):
        """The buyer (or ``role`` ADMIN, SYSTEM...) writes in an issue's chat."""
        with self.lock:
            desk = self.store.issues
            desk.base_url = self.url
            files = [desk.attachments.add(name, data) for name, data in attachments]
            login = desk.issues[issue_id]["buyer"]["login"] if role == "BUYER" else "allegro"
            return _snapshot(desk.say(issue_id, role, login, text, files))

    def move_issue(self, issue_id, status, chat_active=None, **overrides):
        """Allegro moves an issue (e.g. DISPUTE_CLOSED, or a status the client does not know)."""
        with self.lock:
            issue = self.store.issues.issues[issue_id]
            issue["currentState"]["status"] = status
            if chat_active is not None:
                issue["currentState"]["chatActive"] = chat_active
            issue.update(overrides)
            return _snapshot(issue)

    # -- billing entries and payment operations -----------------------------
    def seed_money(self, days=30, payout_every=7):
        """The money of the orders bought in the last ``days`` (seed orders first): payments, fees,
        refunds, a correction and payouts per wallet currency (PLN, CZK, HUF, EUR)."""
        with self.lock:
            self.store.money.seed_from_orders(days, payout_every)

    def add_billing_entry(self, type_id, amount, occurred_at=None, marketplace_id="allegro-pl", order_id=None,
                          offer=None, **fields):
        """One billing entry, also an odd one: an unknown type (``name=``), no order, a zero amount;
        ``fields``: tax, name, additional_info, entry_id."""
        with self.lock:
            return _snapshot(self.store.money.add_entry(type_id, amount, occurred_at, marketplace_id, order_id,
                                                        offer, **fields))

    def reverse_billing_entry(self, entry_id, occurred_at=None):
        """A correction entry cancelling ``entry_id`` (same type and links, opposite amount)."""
        with self.lock:
            return _snapshot(self.store.money.reverse_entry(entry_id, occurred_at))

    def add_payment_operation(self, op_type, amount, occurred_at=None, currency="PLN", **fields):
        """One payment operation, ``amount`` signed as it changes the wallet; ``fields``: group, operator,
        wallet_type, marketplace_id and the type's own fields (payment, participant, payout...)."""
        with self.lock:
            return _snapshot(self.store.money.add_operation(op_type, amount, occurred_at, currency, **fields))

    def payout(self, currency, occurred_at=None):
        """The wallet's balance paid out to the bank now (or at ``occurred_at``); None when nothing to pay."""
        with self.lock:
            return _snapshot(self.store.money.payout(currency, occurred_at or utcnow()))

    def bulk_money(self, entries=0, operations=0, days=30, same_moment=3):
        """Many billing entries and PLN payment operations fast (benchmarks), ``same_moment`` per instant."""
        with self.lock:
            self.store.money.bulk(entries, operations, days, same_moment)

    def change_during_money_listing(self, change, after_pages=1):
        """Run ``change()`` (e.g. an add_billing_entry) once the next ``after_pages`` pages of billing
        entries or payment operations are served, before the next page."""
        with self.lock:
            self.store.money.listing_changes.append([after_pages, change])

    @property
    def billing_entries(self):
        """Billing entries oldest first, as the API shows them (English type names)."""
        with self.lock:
            return _snapshot([{k: v for k, v in e.items() if not k.startswith("_")}
                              for e in self.store.money.entries.items])

    @property
    def payment_operations(self):
        """Payment operations oldest first."""
        with self.lock:
            return _snapshot(self.store.money.operations.items)

    @property
    def payouts(self):
        """Payout id -> amount, currency, occurredAt and the reference the bank statement line carries."""
        with self.lock:
            return _snapshot(self.store.money.payouts)

    def wallet_balance(self, currency, operator="PAYU", wallet_type="AVAILABLE"):
        with self.lock:
            return self.store.money.wallet_balance(currency, operator, wallet_type)

    # -- observation ---------------------------------------------------------
    def duplicates(self):
        """Changes a seller made twice, counted from what the emulator holds:
        the same tracking number twice on an order, and invoice entries beyond
        an order's first."""
        with self.lock:
            shipments = sum(len(items) - len({(s["waybill"], s["carrierId"]) for s in items})
                            for items in self.store.shipments.values())
            invoices = sum(max(0, len(items) - 1) for items in self.store.invoices.values())
            return {"shipments": shipments, "invoices": invoices}

    def reset_requests(self):
        with self.lock:
            self.requests.clear()

    def stats(self):
        with self.lock:
            store = self.store
            return {
                "url": self.url,
                "orders": len(store.orders),
                "events": len(store.events),
                "latestEventId": store.events[-1]["id"] if store.events else None,
                "requests": len(self.requests),
                "refreshCount": self.oauth.refresh_count,
                "pendingAuthorizations": [d["user_code"] for d in self.oauth.devices.values()
                                          if d["status"] == "pending"],
                "offers": [{"id": o["id"], "sku": o["external"]["id"], "stock": o["stock"]["available"],
                            "status": o["publication"]["status"]} for o in store.offers],
                "faults": self.faults.pending(),
            }
