"""Generation of realistic, schema-valid checkout forms (orders).

``OrderFactory.order`` returns the order plus its *timeline*: the journal
events (type, time) that led to its status. ``state`` turns the timeline into
events and revisions, so generation stays free of shared state and fast.
"""

import random
import unicodedata
from datetime import timedelta
from decimal import Decimal

from . import catalogue as cat
from .common import deep_merge, iso, new_uuid, price

PAID, COD, UNPAID, BOUGHT, CANCELLED = "paid", "cod", "unpaid", "bought", "cancelled"
# Share of each order profile in generated data.
PROFILE_WEIGHTS = {PAID: 60, COD: 15, UNPAID: 15, BOUGHT: 4, CANCELLED: 6}
METHODS_BY_ID = {m["id"]: m for m in cat.DELIVERY_METHODS}
STATUS_OF_PROFILE = {PAID: "READY_FOR_PROCESSING", COD: "READY_FOR_PROCESSING", UNPAID: "FILLED_IN",
                     BOUGHT: "BOUGHT", CANCELLED: "CANCELLED"}
PROFILE_OF_STATUS = {status: profile for profile, status in STATUS_OF_PROFILE.items() if profile != COD}


def _ascii(text):
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def convert(pln, marketplace_id):
    """PLN amount -> Decimal amount in the marketplace's currency."""
    mp = cat.MARKETPLACES[marketplace_id]
    amount = Decimal(pln) * mp["rate"]
    return amount.quantize(Decimal("1") if mp["whole"] else Decimal("0.01"))


def recompute_total(order):
    """summary.totalToPay: what the buyer pays for the items (at their paid
    price), their additional services and deposits, and the delivery.
    Surcharges are separate payments, on top of it."""
    items = order["lineItems"]
    currency = items[0]["price"]["currency"]
    total = Decimal(0)
    for li in items:
        quantity = int(li["quantity"])
        total += Decimal(li["price"]["amount"]) * quantity
        total += sum(Decimal(s["price"]["amount"]) * int(s.get("quantity", 1))
                     for s in li.get("selectedAdditionalServices") or [])
        if li.get("deposit"):
            total += Decimal(li["deposit"]["price"]["amount"]) * quantity
    total += Decimal(order.get("delivery", {}).get("cost", {}).get("amount", "0"))
    order["summary"] = {"totalToPay": price(total, currency)}
    payment = order.get("payment")
    if payment and payment.get("finishedAt") and payment["type"] != "CASH_ON_DELIVERY":
        payment["paidAmount"] = dict(order["summary"]["totalToPay"])


def hints_from(overrides):
    """Generation hints implied by hand-written overrides, so defaults agree with them."""
    cod = (overrides.get("payment") or {}).get("type") == "CASH_ON_DELIVERY"
    profile = COD if cod else PROFILE_OF_STATUS.get(overrides.get("status"))
    invoice_address = ((overrides.get("invoice") or {}).get("address") or {})
    company = None
    if "company" in invoice_address or (overrides.get("buyer") or {}).get("companyName"):
        company = True
    elif "invoice" in overrides or "buyer" in overrides:  # a hand-written buyer without a company is private
        company = False
    delivery = overrides.get("delivery") or {}
    marketplace = (overrides.get("marketplace") or {}).get("id")
    return {
        # A marketplace the catalogue does not know (Allegro adds some): generated
        # like any, the hand-written id and amounts win.
        "marketplace": marketplace if marketplace in cat.MARKETPLACES else None,
        "profile": profile,
        "company": company,
        "locker": True if delivery.get("pickupPoint") else None,
        "method_id": (delivery.get("method") or {}).get("id"),  # its cost is used when it is a catalogue method
    }


class OrderFactory:
    def __init__(self, rng, offers):
        self.rng = rng
        self.offers = offers

    # -- small random pieces -------------------------------------------------
    def _weighted(self, weights):
        return self.rng.choices(tuple(weights), weights=tuple(weights.values()))[0]

    def person(self, country):
        rng, data = self.rng, cat.PEOPLE[country]
        female = rng.random() < 0.5
        first = rng.choice(data["female" if female else "male"])
        last = rng.choice(data["surnames"])[1 if female else 0]
        city, prefix, locker = rng.choice(data["cities"])
        if country == "PL":
            zip_code = "%s-%03d" % (prefix, rng.randint(1, 999))
            phone = "%d%08d" % (rng.choice((5, 6, 7, 8)), rng.randint(0, 99_999_999))
        else:  # "110 00" in CZ and SK, "1051" in HU
            zip_code = ("%s%03d" if country == "HU" else "%s %02d") % (prefix, rng.randint(0, 99))
            phone = "%s%09d" % (data["phone"], rng.randint(100_000_000, 999_999_999))
        street = "%s %d" % (rng.choice(data["streets"]), rng.randint(1, 180))
        if rng.random() < 0.4:
            street += "/%d" % rng.randint(1, 60)
        return {"firstName": first, "lastName": last, "street": street, "city": city, "zipCode": zip_code,
                "countryCode": country, "phoneNumber": phone, "locker": locker or _ascii(city)[:3].upper()}

    def nip(self):
        while True:
            base = "%d%08d" % (self.rng.randint(1, 9), self.rng.randint(0, 99_999_999))
            check = cat.nip_check_digit(base)
            if check is not None:
                return base + check

    def line_item(self, offer, marketplace_id, bought_at, quantity=1):
        amount = price(convert(offer["price"]["amount"], marketplace_id), cat.MARKETPLACES[marketplace_id]["currency"])
        return {
            "id": new_uuid(self.rng),
            "offer": {"id": offer["id"], "name": offer["name"], "external": dict(offer["external"])},
            "quantity": quantity,
            "originalPrice": dict(amount),
            "price": amount,
            "boughtAt": iso(bought_at),
        }

    def complete_line_items(self, given, marketplace_id, bought_at):
        """Hand-written line items (e.g. just an offer id and quantity) filled in from the catalogue."""
        by_id = {o["id"]: o for o in self.offers}
        result = []
        for item in given:
            offer = by_id.get((item.get("offer") or {}).get("id"), self.offers[0])
            result.append(deep_merge(self.line_item(offer, marketplace_id, bought_at), item))
        return result

    # -- whole order ---------------------------------------------------------
    def order(self, now, bought_at=None, marketplace=None, profile=None, company=None, locker=None, method_id=None):
        rng = self.rng
        marketplace = marketplace or self._weighted(cat.MARKETPLACE_WEIGHTS)
        mp = cat.MARKETPLACES[marketplace]
        country, currency = mp["country"], mp["currency"]
        if profile is None:
            profile = self._weighted(PROFILE_WEIGHTS)
            if profile == COD and country != "PL":
                profile = PAID  # cross-border buyers pay online
        if company is None:
            company = country == "PL" and rng.random() < 0.15
        bought_at = bought_at or now - timedelta(minutes=rng.randint(1, 10))
        timeline = self._timeline(profile, bought_at, now)

        buyer_person = self.person(country)
        login = "%s_%s%d" % (_ascii(buyer_person["firstName"]).lower(), _ascii(buyer_person["lastName"]).lower()[:5],
                             rng.randint(1, 999))
        buyer = {
            "id": str(rng.randint(10_000_000, 99_999_999)),
            "email": "%010x+%07x@allegromail.pl" % (rng.getrandbits(40), rng.getrandbits(28)),
            "login": login,
            "firstName": buyer_person["firstName"],
            "lastName": buyer_person["lastName"],
            "guest": rng.random() < 0.05,
            "phoneNumber": buyer_person["phoneNumber"],
            "preferences": {"language": mp["language"]},
            "address": {"street": buyer_person["street"], "city": buyer_person["city"],
                        "postCode": buyer_person["zipCode"], "countryCode": country},
        }
        address = {k: v for k, v in buyer_person.items() if k != "locker"}

        count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
        line_items = [self.line_item(offer, marketplace, bought_at, rng.choices((1, 2, 3), weights=(80, 15, 5))[0])
                      for offer in rng.sample(self.offers, count)]

        method = METHODS_BY_ID.get(method_id) or rng.choice([
            m for m in cat.DELIVERY_METHODS
            if m["cod"] == (profile == COD) and (locker is None or m["locker"] == locker)
            and (country == "PL" or not m["locker"] or locker)])
        smart = profile != COD and rng.random() < 0.25
        delivery = {
            "address": address,
            "method": {"id": method["id"], "name": method["name"]},
            "cost": price(0 if smart else convert(method["cost"], marketplace), currency),
            "time": {
                "from": iso(bought_at + timedelta(days=1)), "to": iso(bought_at + timedelta(days=3)),
                "dispatch": {"from": iso(bought_at), "to": iso(bought_at + timedelta(days=1))},
            },
            "smart": smart,
            "calculatedNumberOfPackages": 1,
        }
        if method["locker"]:
            code = "%s%02d%s" % (buyer_person["locker"], rng.randint(1, 99), rng.choice("AMN"))
            delivery["pickupPoint"] = {
                "id": code, "name": "Paczkomat " + code, "description": rng.choice(cat.LOCKER_PLACES),
                "address": {"street": "%s %d" % (rng.choice(cat.PEOPLE["PL"]["streets"]), rng.randint(1, 120)),
                            "zipCode": address["zipCode"], "city": address["city"], "countryCode": country},
            }

        invoice = {"required": False}
        invoice_address = {k: address[k] for k in ("street", "city", "zipCode", "countryCode")}
        if company:
            name = " ".join(filter(None, (address["lastName"], rng.choice(cat.COMPANY_NAMES),
                                          rng.choice(cat.COMPANY_FORMS))))
            tax_id = self.nip() if country == "PL" else "%s%08d" % (country, rng.randint(0, 99_999_999))
            tax_type = "PL_NIP" if country == "PL" else "VAT_EU"
            buyer["companyName"] = address["companyName"] = name
            invoice = {"required": True, "address": dict(invoice_address, company={
                "name": name, "ids": [{"type": tax_type, "value": tax_id}], "vatPayerStatus": "ACTIVE",
                "taxId": tax_id})}
        elif rng.random() < 0.05:  # a private buyer who wants an invoice
            invoice = {"required": True, "address": dict(invoice_address, naturalPerson={
                "firstName": address["firstName"], "lastName": address["lastName"]})}

        order = {
            "id": new_uuid(rng),
            "buyer": buyer,
            "status": STATUS_OF_PROFILE[profile],
            "fulfillment": {"status": "NEW", "shipmentSummary": {"lineItemsSent": "NONE"},
                            "provider": {"id": "SELLER"}},
            "delivery": delivery,
            "invoice": invoice,
            "lineItems": line_items,
            "surcharges": [],
            "marketplace": {"id": marketplace},
        }
        if rng.random() < 0.1:
            order["messageToSeller"] = rng.choice(cat.MESSAGES)
        if profile != BOUGHT:  # no payment is chosen before the checkout form is filled in
            order["payment"] = self.payment(profile, timeline)
        self._extras(order, marketplace, country, currency)
        recompute_total(order)
        return order, timeline

    @staticmethod
    def _extras(order, marketplace, country, currency):
        """A few buyers pay for carrying in, or for an item's deposit. Drawn from
        the order's own id so that the main random sequence, and so every other
        generated value, stays what it was."""
        extra = random.Random(order["id"])
        if country == "PL" and extra.random() < 0.04:
            order["lineItems"][0]["selectedAdditionalServices"] = [{
                "definitionId": "CARRY_IN", "name": "Wniesienie", "quantity": 1,
                "price": price(convert("49.00", marketplace), currency)}]
        if extra.random() < 0.03:
            order["lineItems"][-1]["deposit"] = {"price": price(convert("0.50", marketplace), currency)}

    def _timeline(self, profile, bought_at, now):
        """Journal events that brought an order of this profile to its status."""
        rng, t = self.rng, bought_at
        timeline = [("BOUGHT", t)]
        if profile != BOUGHT:
            t += timedelta(seconds=rng.randint(20, 300))
            timeline.append(("FILLED_IN", t))
        if profile in (PAID, COD):
            t += timedelta(seconds=rng.randint(5, 600))
            timeline.append(("READY_FOR_PROCESSING", t))
        elif profile == CANCELLED:
            t += timedelta(minutes=rng.randint(10, 2000))
            timeline.append(("BUYER_CANCELLED", t))
        return [(kind, min(when, now)) for kind, when in timeline]

    def payment(self, profile, timeline):
        payment = {"id": new_uuid(self.rng), "type": "ONLINE", "provider": self.rng.choice(("P24", "PAYU"))}
        if profile == COD:
            payment.update(type="CASH_ON_DELIVERY", provider="OFFLINE")
        elif profile == PAID:
            payment["finishedAt"] = iso(timeline[-1][1])  # paidAmount follows in recompute_total
        return payment
