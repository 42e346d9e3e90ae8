"""Fixed reference data: marketplaces, carriers, delivery methods, people, offers.

Everything here is constant; ``generator`` draws from it and ``state`` copies
the offer catalogue so each emulator instance can change its own stock.
"""

from decimal import Decimal

BASE_MARKETPLACE = "allegro-pl"

# Prices of the (Polish) seller are converted for cross-border purchases.
# ``whole``: CZK and HUF prices are shown in whole units (still 2 decimals).
MARKETPLACES = {
    mp_id: {"currency": currency, "country": country, "language": language, "rate": Decimal(rate), "whole": whole}
    for mp_id, currency, country, language, rate, whole in (
        ("allegro-pl", "PLN", "PL", "pl-PL", "1", False),
        ("allegro-cz", "CZK", "CZ", "cs-CZ", "5.8", True),
        ("allegro-sk", "EUR", "SK", "sk-SK", "0.23", False),
        ("allegro-hu", "HUF", "HU", "hu-HU", "88", True),
    )
}
# Share of orders per marketplace in generated data.
MARKETPLACE_WEIGHTS = {"allegro-pl": 80, "allegro-cz": 10, "allegro-sk": 5, "allegro-hu": 5}


def marketplaces_response():
    """Body of GET /marketplaces (AllegroMarketplaces)."""
    items = []
    for mp_id, mp in MARKETPLACES.items():
        lang = mp["language"]
        items.append({
            "id": mp_id,
            "languages": {
                "offerCreation": [{"code": lang}, {"code": "en-US"}] if lang != "pl-PL" else [{"code": "pl-PL"}],
                "offerDisplay": [{"code": lang}],
            },
            "currencies": {"base": {"code": mp["currency"]}, "additional": []},
            "shippingCountries": [{"code": mp["country"]}],
        })
    return {"marketplaces": items}


# GET /order/carriers; OTHER has no name, as in the spec's example.
CARRIERS = [
    ("ALLEGRO", "Allegro"), ("INPOST", "InPost"), ("DPD", "DPD"), ("DHL", "DHL"),
    ("UPS", "UPS"), ("GLS", "GLS"), ("POCZTA_POLSKA", "Poczta Polska"), ("ORLEN", "ORLEN Paczka"),
    ("FEDEX", "FedEx"), ("AMBRO_EXPRESS", "Ambro Express"), ("GEIS", "Geis"), ("RABEN", "Raben"),
    ("PPL", "PPL"), ("PACKETA", "Packeta"), ("CZECH_POST", "Česká pošta"),
    ("SLOVAK_POST", "Slovenská pošta"), ("MAGYAR_POSTA", "Magyar Posta"), ("YUN_EXPRESS", "Yun Express"),
    ("OTHER", None),
]
CARRIER_NAMES = dict(CARRIERS)

# Delivery methods: fixed ids so orders can be grouped by method.
# (id, name, cost in PLN, delivered to an InPost parcel locker, cash on delivery)
DELIVERY_METHODS = [
    {"id": mid, "name": name, "cost": cost, "locker": locker, "cod": cod}
    for mid, name, cost, locker, cod in (
        ("1fa56f79-4b6a-4821-a6f2-ca9c16d5c925", "Allegro Paczkomaty InPost", "9.99", True, False),
        ("2488f7b7-5d1c-4d65-b85c-4cbcf253fd93", "Allegro Kurier24 InPost", "12.99", False, False),
        ("c3066682-97a3-42fe-9eb5-3beeccab840c", "Allegro Kurier DPD", "13.49", False, False),
        ("7203cb90-864c-4cda-bf08-dc883f0c78ad", "Kurier DHL", "15.99", False, False),
        ("845efe05-0c96-47ea-a4a7-3d3b5c8a2ed5", "Allegro Kurier DPD pobranie", "17.99", False, True),
        ("b20ef9e1-faa2-4f25-9032-adbea23e5cb9", "Allegro Paczkomaty InPost pobranie", "13.99", True, True),
    )
]

# People and places per country. Surnames are (male, female) pairs; cities are
# (city, postcode prefix, InPost locker code prefix).
PEOPLE = {
    "PL": {
        "male": ["Jan", "Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Michał", "Marcin", "Jakub", "Łukasz",
                 "Grzegorz", "Mateusz"],
        "female": ["Anna", "Katarzyna", "Maria", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Magdalena", "Joanna",
                   "Zofia", "Aleksandra", "Natalia"],
        "surnames": [("Kowalski", "Kowalska"), ("Nowak", "Nowak"), ("Wiśniewski", "Wiśniewska"), ("Wójcik", "Wójcik"),
                     ("Kowalczyk", "Kowalczyk"), ("Kamiński", "Kamińska"), ("Lewandowski", "Lewandowska"),
                     ("Zieliński", "Zielińska"), ("Szymański", "Szymańska"), ("Woźniak", "Woźniak"),
                     ("Dąbrowski", "Dąbrowska"), ("Kozłowski", "Kozłowska"), ("Jankowski", "Jankowska"),
                     ("Mazur", "Mazur"), ("Krawczyk", "Krawczyk"), ("Grabowski", "Grabowska")],
        "streets": ["Marszałkowska", "Długa", "Polna", "Leśna", "Słoneczna", "Krótka", "Szkolna", "Ogrodowa", "Lipowa",
                    "Brzozowa", "Łąkowa", "Kwiatowa", "Kościuszki", "Mickiewicza", "Piłsudskiego", "Sienkiewicza",
                    "Grunwaldzka", "3 Maja", "Wiejska", "Kolejowa", "Żeromskiego", "Reymonta"],
        "cities": [("Warszawa", "00", "WAW"), ("Kraków", "31", "KRA"), ("Łódź", "90", "LOD"), ("Wrocław", "50", "WRO"),
                   ("Poznań", "60", "POZ"), ("Gdańsk", "80", "GDA"), ("Szczecin", "70", "SZC"),
                   ("Bydgoszcz", "85", "BYD"), ("Lublin", "20", "LUB"), ("Katowice", "40", "KAT"),
                   ("Białystok", "15", "BIA"), ("Gdynia", "81", "GDY"), ("Częstochowa", "42", "CZE"),
                   ("Toruń", "87", "TOR"), ("Rzeszów", "35", "RZE"), ("Olsztyn", "10", "OLS")],
        "phone": "+48",
    },
    "CZ": {
        "male": ["Jan", "Petr", "Jiří", "Tomáš", "Martin", "Pavel"],
        "female": ["Jana", "Lucie", "Tereza", "Eva", "Petra", "Hana"],
        "surnames": [("Novák", "Nováková"), ("Svoboda", "Svobodová"), ("Dvořák", "Dvořáková"), ("Černý", "Černá"),
                     ("Procházka", "Procházková")],
        "streets": ["Národní", "Vodičkova", "Masarykova", "Husova", "Palackého", "Nádražní"],
        "cities": [("Praha", "110", None), ("Brno", "602", None), ("Ostrava", "702", None), ("Plzeň", "301", None),
                   ("Olomouc", "779", None)],
        "phone": "+420",
    },
    "SK": {
        "male": ["Martin", "Peter", "Jozef", "Marek", "Lukáš"],
        "female": ["Zuzana", "Mária", "Katarína", "Lucia", "Jana"],
        "surnames": [("Horváth", "Horváthová"), ("Kováč", "Kováčová"), ("Varga", "Vargová"), ("Tóth", "Tóthová")],
        "streets": ["Hlavná", "Obchodná", "Štúrova", "Námestie SNP", "Mlynská"],
        "cities": [("Bratislava", "811", None), ("Košice", "040", None), ("Žilina", "010", None),
                   ("Nitra", "949", None)],
        "phone": "+421",
    },
    "HU": {
        "male": ["László", "Zoltán", "István", "Gábor", "Péter"],
        "female": ["Katalin", "Eszter", "Zsófia", "Anna", "Ildikó"],
        "surnames": [("Nagy", "Nagy"), ("Kovács", "Kovács"), ("Tóth", "Tóth"), ("Szabó", "Szabó"),
                     ("Horváth", "Horváth")],
        "streets": ["Andrássy út", "Váci utca", "Rákóczi út", "Kossuth Lajos utca", "Petőfi Sándor utca"],
        "cities": [("Budapest", "1", None), ("Debrecen", "4", None), ("Szeged", "6", None), ("Pécs", "7", None)],
        "phone": "+36",
    },
}

COMPANY_NAMES = ["Handel", "Serwis", "Consulting", "Technika", "Bud-Pol", "Trans", "Media", "Ogrody", "Meble", "Eko"]
COMPANY_FORMS = ["Sp. z o.o.", "S.A.", "s.c.", "Sp. j.", ""]
LOCKER_PLACES = ["Przy sklepie Żabka", "Stacja paliw ORLEN", "Obok wejścia do Biedronki", "Parking przy Lidlu",
                 "Przy stacji BP", "Osiedle, obok wiaty śmietnikowej"]
MESSAGES = ["Proszę o staranne zapakowanie.", "Czy mogę prosić o fakturę na firmę?",
            "Proszę o wysyłkę jak najszybciej.", "Prezent - proszę nie dołączać paragonu do paczki."]

# Offer catalogue: (name, PLN price, stock). Seller SKUs are SKU-001... in this order.
OFFER_CATALOGUE = [
    ("Kubek termiczny stalowy 500 ml czarny", "49.99", 120),
    ("Słuchawki bezprzewodowe Bluetooth 5.3 ANC", "189.00", 35),
    ("Ładowarka USB-C GaN 65 W", "99.90", 80),
    ("Kabel USB-C / USB-C 2 m w oplocie", "29.99", 300),
    ("Plecak miejski 25 l wodoodporny", "159.00", 40),
    ("Lampka biurkowa LED z ładowarką indukcyjną", "134.50", 25),
    ("Zestaw noży kuchennych 5 el. ze stojakiem", "219.00", 15),
    ("Patelnia granitowa 28 cm indukcja", "89.99", 60),
    ("Koc polarowy 150x200 szary", "39.90", 200),
    ("Butelka filtrująca 600 ml", "54.00", 90),
    ("Powerbank 20000 mAh PD 22,5 W", "119.99", 70),
    ("Mysz bezprzewodowa ergonomiczna", "69.00", 110),
    ("Etui silikonowe do telefonu przezroczyste", "19.99", 500),
    ("Klocki konstrukcyjne 500 el.", "79.99", 45),
    ("Kawa ziarnista Arabica 1 kg", "64.90", 150),
]


def ean13(base12):
    """Complete 12 digits with the EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(base12))
    return base12 + str((10 - total % 10) % 10)


NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


def nip_check_digit(base9):
    """Polish NIP check digit, or None when the 9 digits cannot form a NIP (sum % 11 == 10)."""
    digit = sum(int(d) * w for d, w in zip(base9, NIP_WEIGHTS)) % 11
    return None if digit == 10 else str(digit)


def offers():
    """A fresh, mutable copy of the seller's offers (emu.offers)."""
    result = []
    for n, (name, pln, stock) in enumerate(OFFER_CATALOGUE, start=1):
        result.append({
            "id": str(17_000_000_000 + n * 7919),
            "name": name,
            "external": {"id": "SKU-%03d" % n},
            "ean": ean13("590%09d" % (1_000_000 + n * 37)),
            "price": {"amount": pln, "currency": "PLN"},
            "stock": {"available": stock, "sold": n * 3},
            "publication": {"status": "ACTIVE"},
            "category": {"id": str(257_000 + n)},
        })
    return result
