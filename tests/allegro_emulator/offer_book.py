"""The seller's offers as Allegro keeps them: stock, publication, prices, the offer event journal
and the asynchronous batch commands (quantity, price, publication) whose tasks go NEW -> SUCCESS/FAIL."""

import base64
from datetime import timedelta
from decimal import Decimal

from . import catalogue
from .common import iso, money, utcnow

MAX_OFFERS_PER_CRITERION = 1000
# Commands and the fields their tasks report (CommandTask.field).
COMMAND_FIELDS = {"quantity": "stock.available", "price": "sellingMode.price", "publication": "publication.status"}


def event_id(number):
    """Offer event ids are opaque strings; Allegro's look like base64 of a number."""
    return base64.b64encode(str(number).encode()).decode().rstrip("=")


class OfferBook:
    def __init__(self, offers):
        self.offers = offers  # the list shared with the order generator
        self.by_id = {o["id"]: o for o in offers}
        self.events = []
        self.commands = {}  # (kind, id) -> {"report", "tasks", "body", "due"}
        self.refusals = {}  # offer id -> message: every change of that offer fails (fault injection)
        self.command_delay = 0.0  # seconds a command's tasks stay NEW

    # -- offers ----------------------------------------------------------------
    def add(self, offer):
        self.offers.append(offer)
        self.by_id[offer["id"]] = offer

    def seed(self, n, stock=10):
        """n more offers SKU-00016..., all ACTIVE with ``stock`` items."""
        start = len(self.offers) + 1
        for number in range(start, start + n):
            self.add({
                "id": str(18_000_000_000 + number), "name": "Produkt testowy %d" % number,
                "external": {"id": "SKU-%05d" % number}, "ean": catalogue.ean13("591%09d" % number),
                "price": {"amount": "10.00", "currency": "PLN"}, "stock": {"available": stock, "sold": 0},
                "publication": {"status": "ACTIVE"}, "category": {"id": "257001"},
            })

    def emit(self, offer, kind, **extra):
        event = {"id": event_id(10 ** 9 + len(self.events) + 1), "occurredAt": iso(utcnow()), "type": kind,
                 "offer": dict({"id": offer["id"], "external": dict(offer["external"])}, **extra)}
        self.events.append(event)
        return event

    def set_stock(self, offer, available, ended_by="EMPTY_STOCK"):
        """Stock changed (by a command, by hand on Allegro or by a purchase); 0 ends an active offer."""
        if offer["stock"]["available"] == available:
            return
        offer["stock"]["available"] = available
        self.emit(offer, "OFFER_STOCK_CHANGED")
        if available == 0 and offer["publication"]["status"] in ("ACTIVE", "ACTIVATING"):
            self.set_status(offer, "ENDED", ended_by)

    def set_status(self, offer, status, ended_by="USER"):
        publication = offer["publication"]
        if publication["status"] == status:
            return
        publication["status"] = status
        if status == "ENDED":
            publication["endedAt"] = iso(utcnow())
            self.emit(offer, "OFFER_ENDED", publication={"endedBy": ended_by})
        elif status == "ACTIVE":
            publication.pop("endedAt", None)
            self.emit(offer, "OFFER_ACTIVATED")

    def set_price(self, offer, amount, currency, marketplace):
        if marketplace == catalogue.BASE_MARKETPLACE:
            offer["price"] = {"amount": amount, "currency": currency}
        else:
            offer.setdefault("prices", {})[marketplace] = {"amount": amount, "currency": currency}
        self.emit(offer, "OFFER_PRICE_CHANGED", marketplaces=[{"id": marketplace}])

    def price_on(self, offer, marketplace):
        """The offer's price on a marketplace: set there, or the base price converted."""
        if marketplace == catalogue.BASE_MARKETPLACE:
            return dict(offer["price"])
        if marketplace in offer.get("prices", {}):
            return dict(offer["prices"][marketplace])
        mp = catalogue.MARKETPLACES[marketplace]
        amount = Decimal(offer["price"]["amount"]) * mp["rate"]
        return {"amount": money(amount.quantize(Decimal("1")) if mp["whole"] else amount), "currency": mp["currency"]}

    def events_after(self, after, types, limit):
        start = 0
        if after is not None:
            ids = [e["id"] for e in self.events]
            start = ids.index(after) + 1 if after in ids else 0
        found = [e for e in self.events[start:] if not types or e["type"] in types]
        return found[:limit]

    # -- commands --------------------------------------------------------------
    def register(self, kind, command_id, body, change):
        """Store a command with NEW tasks; ``change(offer) -> error message or None`` runs when it is due."""
        now = utcnow()
        ids = [str((ref or {}).get("id"))
               for criterion in body["offerCriteria"] for ref in criterion.get("offers") or []]
        tasks = [{"offer": {"id": offer_id}, "field": COMMAND_FIELDS[kind], "status": "NEW", "message": "",
                  "errors": []} for offer_id in ids]
        command = {"report": {"id": command_id, "createdAt": iso(now), "completedAt": None,
                              "taskCount": {"total": len(tasks), "success": 0, "failed": 0}},
                   "tasks": tasks, "change": change, "due": now + timedelta(seconds=self.command_delay)}
        self.commands[(kind, command_id)] = command
        self.process()
        return command

    def process(self, now=None):
        """Carry out the commands that are due, oldest first (as Allegro's queue does)."""
        now = now or utcnow()
        for command in self.commands.values():
            if command["report"]["completedAt"] is None and command["due"] <= now:
                self._carry_out(command)

    def _carry_out(self, command):
        count = command["report"]["taskCount"]
        for task in command["tasks"]:
            offer = self.by_id.get(task["offer"]["id"])
            if offer is None:
                message, code = "The offer does not exist.", "NotFoundException"
            elif offer["id"] in self.refusals:
                message, code = self.refusals[offer["id"]], "VALIDATION_ERROR"
            else:
                message, code = command["change"](offer), "VALIDATION_ERROR"
            if message:
                task.update(status="FAIL", message=message, errors=[{
                    "code": code, "message": message, "details": None, "path": task["field"],
                    "userMessage": message, "metadata": {}}])
                count["failed"] += 1
            else:
                task["status"] = "SUCCESS"
                count["success"] += 1
        command["report"]["completedAt"] = iso(utcnow())
        command.pop("change")

    # -- changes (each returns an error message, or None when done) --------------
    def quantity_change(self, change_type, value):
        def change(offer):
            available = value if change_type == "FIXED" else offer["stock"]["available"] + value
            if change_type == "FIXED" and value <= 0:
                return "The quantity must be greater than 0. End the offer to stop selling it."
            if available < 0:
                return "Stock cannot be negative."
            self.set_stock(offer, available)
            return None
        return change

    def price_change(self, amount, currency, marketplace):
        mp = catalogue.MARKETPLACES.get(marketplace)

        def change(offer):
            if mp is None or mp["currency"] != currency:
                return "The price must be in the currency of marketplace %s." % marketplace
            if mp["whole"] and Decimal(amount) != Decimal(amount).to_integral_value():
                return "Prices on %s are whole %s." % (marketplace, currency)
            self.set_price(offer, money(amount), currency, marketplace)
            return None
        return change

    def publication_change(self, action):
        def change(offer):
            status = offer["publication"]["status"]
            if action == "END":
                if status in ("ACTIVE", "ACTIVATING"):
                    self.set_status(offer, "ENDED", "USER")
                return None
            if offer["stock"]["available"] <= 0:
                return "The offer cannot be activated without stock."
            self.set_status(offer, "ACTIVE")
            return None
        return change
