"""The fixed, readable order set of ``AllegroEmulator.seed_demo()``: one order per typical case."""

from .catalogue import DELIVERY_METHODS
from .common import deep_merge

METHODS = {m["name"]: {"id": m["id"], "name": m["name"]} for m in DELIVERY_METHODS}


def _person(buyer_id, login, first, last, street, city, zip_code, country, phone):
    """Buyer and delivery address overrides for one person."""
    return {
        "buyer": {"id": buyer_id, "login": login, "email": login + "@allegromail.pl", "firstName": first,
                  "lastName": last, "guest": False, "phoneNumber": phone,
                  "address": {"street": street, "city": city, "postCode": zip_code, "countryCode": country}},
        "delivery": {"address": {"firstName": first, "lastName": last, "street": street, "city": city,
                                 "zipCode": zip_code, "countryCode": country, "phoneNumber": phone}},
    }


def _items(offers, *pairs):
    return [{"offer": {"id": offers[index]["id"]}, "quantity": quantity} for index, quantity in pairs]


def _merge(*parts):
    result = {}
    for part in parts:
        deep_merge(result, part)
    return result


def demo_orders(offers):
    """Overrides for add_order(), one dict per demo order."""
    paid = {"status": "READY_FOR_PROCESSING", "payment": {"type": "ONLINE", "provider": "P24"}}
    no_invoice = {"invoice": {"required": False}}
    company = "Nowak Consulting Sp. z o.o."
    nip = "5250001233"
    return [
        # 1. private buyer, paid online, courier
        _merge(_person("40000001", "jan_kowalski", "Jan", "Kowalski", "Marszałkowska 10/5", "Warszawa", "00-590", "PL",
                       "501234567"), paid, no_invoice,
               {"marketplace": {"id": "allegro-pl"}, "delivery": {"method": METHODS["Allegro Kurier DPD"]},
                "lineItems": _items(offers, (0, 2), (3, 1)), "messageToSeller": "Proszę o staranne zapakowanie."}),
        # 2. cross-border purchase on allegro.cz, paid in CZK
        _merge(_person("40000002", "petr_novak", "Petr", "Novák", "Národní 15", "Praha", "110 00", "CZ",
                       "+420601234567"), paid, no_invoice,
               {"marketplace": {"id": "allegro-cz"}, "delivery": {"method": METHODS["Allegro Kurier DPD"]},
                "lineItems": _items(offers, (1, 1))}),
        # 3. company buyer with a NIP who wants an invoice
        _merge(_person("40000003", "nowak_consulting", "Anna", "Nowak", "Grunwaldzka 182", "Poznań", "60-166", "PL",
                       "612345678"), paid,
               {"marketplace": {"id": "allegro-pl"}, "buyer": {"companyName": company},
                "delivery": {"address": {"companyName": company}, "method": METHODS["Allegro Kurier24 InPost"]},
                "invoice": {"required": True, "address": {
                    "street": "Grunwaldzka 182", "city": "Poznań", "zipCode": "60-166", "countryCode": "PL",
                    "company": {"name": company, "ids": [{"type": "PL_NIP", "value": nip}], "vatPayerStatus": "ACTIVE",
                                "taxId": nip}}},
                "lineItems": _items(offers, (2, 3), (10, 1))}),
        # 4. cash on delivery
        _merge(_person("40000004", "piotr_w", "Piotr", "Wiśniewski", "Długa 7", "Kraków", "31-147", "PL", "721345678"),
               no_invoice, {"marketplace": {"id": "allegro-pl"}, "status": "READY_FOR_PROCESSING",
                            "payment": {"type": "CASH_ON_DELIVERY", "provider": "OFFLINE"},
                            "delivery": {"method": METHODS["Allegro Kurier DPD pobranie"]},
                            "lineItems": _items(offers, (6, 1))}),
        # 5. InPost parcel locker
        _merge(_person("40000005", "kasia_wojcik", "Katarzyna", "Wójcik", "Polna 3", "Gdańsk", "80-283", "PL",
                       "531987654"), paid, no_invoice,
               {"marketplace": {"id": "allegro-pl"},
                "delivery": {"method": METHODS["Allegro Paczkomaty InPost"], "pickupPoint": {
                    "id": "GDA01M", "name": "Paczkomat GDA01M", "description": "Przy sklepie Żabka",
                    "address": {"street": "Polna 1", "zipCode": "80-283", "city": "Gdańsk", "countryCode": "PL"}}},
                "lineItems": _items(offers, (12, 2))}),
        # 6. checkout filled in, not paid yet
        _merge(_person("40000006", "tomek_kam", "Tomasz", "Kamiński", "Piotrkowska 120", "Łódź", "90-006", "PL",
                       "661222333"), no_invoice,
               {"marketplace": {"id": "allegro-pl"}, "status": "FILLED_IN", "payment": {"type": "ONLINE"},
                "delivery": {"method": METHODS["Allegro Kurier24 InPost"]}, "lineItems": _items(offers, (4, 1))}),
    ]
