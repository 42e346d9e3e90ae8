"""Ship with Allegro as the seller's account holds it: parcels, their asynchronous commands, pickups.

Commands (create, cancel, pickup) stay IN_PROGRESS for ``command_reads``
status reads and at least ``command_delay`` seconds, then are carried out
(SUCCESS or ERROR), as Allegro passes them on to the carrier first. A parcel
is tied to its order by the receiver's email, the buyer's Allegro address.
Once created, its waybills show in the order's shipments, as on Allegro.
"""

import copy
from datetime import timedelta

from .catalogue import CARRIER_NAMES
from .common import iso, new_uuid, utcnow
from .generator import METHODS_BY_ID

# Allegro Standard methods that ship with Allegro: method id -> carrier, delivery type, limits.
# Other methods (e.g. the seller's own "Kurier DHL") answer UNSUPPORTED_DELIVERY_METHOD.
SERVICES = {
    "1fa56f79-4b6a-4821-a6f2-ca9c16d5c925": ("INPOST", "APM", (64, 38, 41), 25),
    "2488f7b7-5d1c-4d65-b85c-4cbcf253fd93": ("INPOST", "DOOR", (120, 80, 80), 30),
    "c3066682-97a3-42fe-9eb5-3beeccab840c": ("DPD", "DOOR", (150, 100, 100), 31.5),
    "845efe05-0c96-47ea-a4a7-3d3b5c8a2ed5": ("DPD", "DOOR", (150, 100, 100), 31.5),
    "b20ef9e1-faa2-4f25-9032-adbea23e5cb9": ("INPOST", "APM", (64, 38, 41), 25),
}
# The partner carrying a cross-border parcel abroad: a second transportingInfo entry.
PARTNERS = {("DPD", "CZ"): "DPD_CZ", ("DPD", "SK"): "DPD_SK", ("DPD", "HU"): "DPD_HU",
            ("INPOST", "CZ"): "PACKETA", ("INPOST", "SK"): "PACKETA", ("INPOST", "HU"): "PACKETA"}
COD_LIMIT = "5000.00"
INSURANCE_LIMIT = "50000.00"
ADDITIONAL_SERVICES = {
    "DOOR": [("ADDITIONAL_HANDLING", "Non-standard parcel", "Parcel is non-standard")],
    "APM": [],
}
DEFAULT_PACKAGE = {"type": "PACKAGE", "length": {"value": 30, "unit": "CENTIMETER"},
                   "width": {"value": 20, "unit": "CENTIMETER"}, "height": {"value": 10, "unit": "CENTIMETER"},
                   "weight": {"value": 1.0, "unit": "KILOGRAMS"}}
PICKUP_WINDOWS = (("09:00", "12:00"), ("12:00", "16:00"))


def error(code, message, path, polish, details=""):
    """One Error400 of a command's ``errors[]`` (``userMessage`` chosen when it is served)."""
    return {"code": code, "message": message, "details": details, "path": path, "polish": polish}


class ShippingDesk:
    def __init__(self, store):
        self.store = store
        self.rng = store.rng
        # The sender of the seller's shipping settings (the SwA address book's default address).
        self.sender = {"company": "Demo Shop Sp. z o.o.", "name": "Magazyn", "street": "Magazynowa 1",
                       "postalCode": "00-950", "city": "Warszawa", "countryCode": "PL",
                       "email": "magazyn@demo-shop.example", "phone": "226001234"}
        self.command_reads = 1  # status reads answered IN_PROGRESS before a command is carried out
        self.command_delay = 0.0  # and seconds it waits at least
        self.retry_after = 1  # the Retry-After (seconds) of commands still in progress
        self.commands = {"create": {}, "cancel": {}, "pickup": {}}  # kind -> id -> command
        self.shipments = {}  # id -> ShipmentDto
        self.order_of = {}  # shipment id -> order id
        self.delivery_types = {}  # shipment id -> DOOR | APM (courier parcels have a handover protocol)
        self.handed_over = set()  # shipment ids the carrier has taken
        self.closed_points = set()  # pickup points that take no parcels
        self.pickups = {}  # id -> PickupDto

    # -- orders ------------------------------------------------------------------
    def service(self, order):
        """(method id, carrier, delivery type, dimensions, weight) of an order that ships with Allegro, or None."""
        method_id = ((order.get("delivery") or {}).get("method") or {}).get("id")
        return (method_id,) + SERVICES[method_id] if method_id in SERVICES else None

    def order_by_email(self, email):
        email = (email or "").lower()
        return next((o for o in self.store.orders.values() if o["buyer"].get("email", "").lower() == email), None)

    @staticmethod
    def _is_cod(order):
        return (order.get("payment") or {}).get("type") == "CASH_ON_DELIVERY"

    def proposal(self, order):
        """DeliveryProposalDto: a create body filled in from the order, and the options with their limits."""
        method_id, carrier, kind, dims, weight = self.service(order)
        delivery = order["delivery"]
        address = delivery.get("address") or {}
        receiver = {"name": ("%s %s" % (address.get("firstName", ""), address.get("lastName", ""))).strip(),
                    "street": address.get("street"), "postalCode": address.get("zipCode"), "city": address.get("city"),
                    "countryCode": address.get("countryCode", "PL"), "email": order["buyer"]["email"],
                    "phone": address.get("phoneNumber") or order["buyer"].get("phoneNumber")}
        if address.get("companyName"):
            receiver["company"] = address["companyName"]
        if delivery.get("pickupPoint"):
            receiver["point"] = delivery["pickupPoint"]["id"]
        packages = [copy.deepcopy(DEFAULT_PACKAGE) for _ in range(delivery.get("calculatedNumberOfPackages") or 1)]
        suggested = {"sender": dict(self.sender), "receiver": receiver, "packages": packages, "labelFormat": "PDF"}
        cod = self._is_cod(order)
        total = order["summary"]["totalToPay"]
        if cod:
            suggested["cashOnDelivery"] = {"amount": total["amount"], "currency": total["currency"]}
        limits = {"insurance": {"amount": INSURANCE_LIMIT, "currency": "PLN"},
                  "dimensions": {side: {"value": value, "unit": "CENTIMETER"}
                                 for side, value in zip(("length", "width", "height"), dims)},
                  "weight": {"value": weight, "unit": "KILOGRAMS"}}
        if cod:
            limits["cashOnDelivery"] = {"amount": COD_LIMIT, "currency": "PLN"}
        option = {"deliveryType": kind, "paymentType": "POSTPAID" if cod else "PREPAID", "packageType": "PACKAGE",
                  "originCountry": "PL", "destinationCountry": receiver["countryCode"], "limits": limits,
                  "additionalServices": [{"id": i, "name": n, "description": d}
                                         for i, n, d in ADDITIONAL_SERVICES[kind]],
                  "additionalProperties": []}
        return {"orderId": order["id"], "suggestedInput": suggested, "deliveryOptions": [option]}

    def services(self, marketplaces):
        """DeliveryServicesDto (deprecated resource): one Allegro Standard service per method."""
        items = []
        for method_id, (carrier, kind, _dims, _weight) in SERVICES.items():
            method = METHODS_BY_ID[method_id]
            item = {"id": {"deliveryMethodId": method_id}, "name": method["name"], "carrierId": carrier,
                    "owner": "ALLEGRO", "marketplaces": list(marketplaces), "packageTypes": ["PACKAGE"],
                    "insurance": {"limit": float(INSURANCE_LIMIT), "currency": "PLN"},
                    "additionalServices": [{"id": i, "name": n, "description": d}
                                           for i, n, d in ADDITIONAL_SERVICES[kind]],
                    "additionalProperties": [], "features": {}}
            if method["cod"]:
                item["cashOnDelivery"] = {"limit": float(COD_LIMIT), "currency": "PLN", "paymentType": "MONEY_TRANSFER",
                                          "forceRequireIban": False}
            items.append(item)
        return {"services": items}

    # -- commands ----------------------------------------------------------------
    def register(self, kind, command_id, payload):
        """Store a new command IN_PROGRESS; ``payload`` is what carrying it out needs."""
        command = {"id": command_id, "status": "IN_PROGRESS", "payload": payload, "result": {}, "errors": [],
                   "reads": self.command_reads, "due": utcnow() + timedelta(seconds=self.command_delay)}
        self.commands[kind][command_id] = command
        return command

    def read(self, kind, command_id):
        """A command as a status read finds it, carried out once its reads and delay are over; KeyError if unknown."""
        command = self.commands[kind][command_id]
        if command["status"] == "IN_PROGRESS":
            command["reads"] -= 1
            if command["reads"] < 0 and utcnow() >= command["due"]:
                errors, result = getattr(self, "_carry_out_" + kind)(command["payload"])
                command.update(status="ERROR" if errors else "SUCCESS", errors=errors, result=result)
        return command

    def _carry_out_create(self, body):
        order = self.order_by_email((body.get("receiver") or {}).get("email"))
        if order is None:
            return [error("VALIDATION_FAILED", "allegro_order_not_found", "receiver.email",
                          "Nie znaleziono zamówienia Allegro dla adresu e-mail odbiorcy")], {}
        service = self.service(order)
        if service is None or body.get("deliveryMethodId") not in (None, service[0]):
            return [error("DELIVERY_METHOD_NOT_AVAILABLE", "The delivery method is not available for this order",
                          "deliveryMethodId", "Metoda dostawy jest niedostępna dla tego zamówienia")], {}
        method_id, carrier, kind, dims, weight = service
        errors = []
        for index, package in enumerate(body["packages"]):
            sizes = sorted((float((package.get(side) or {}).get("value") or 0)
                            for side in ("length", "width", "height")), reverse=True)
            if any(size <= 0 or size > limit for size, limit in zip(sizes, sorted(dims, reverse=True))):
                errors.append(error("VALIDATION_ERROR", "Package dimensions exceed the limits %s cm"
                                    % "x".join(map(str, dims)), "packages[%d]" % index,
                                    "Wymiary paczki przekraczają limit %s cm" % "x".join(map(str, dims))))
            mass = float((package.get("weight") or {}).get("value") or 0)
            if mass <= 0 or mass > weight:
                errors.append(error("VALIDATION_ERROR", "Package weight must be above 0 and at most %s kg" % weight,
                                    "packages[%d].weight" % index,
                                    "Waga paczki musi być większa od 0 i wynosić najwyżej %s kg" % weight))
        point = (body.get("receiver") or {}).get("point")
        if point and point in self.closed_points:
            errors.append(error("PICKUP_POINT_NOT_AVAILABLE", "Pickup point %s does not accept parcels" % point,
                                "receiver.point", "Punkt odbioru %s nie przyjmuje przesyłek" % point))
        allowed = {i for i, _n, _d in ADDITIONAL_SERVICES[kind]}
        for service_id in body.get("additionalServices") or []:
            if service_id not in allowed:
                errors.append(error("ADDITIONAL_SERVICE_NOT_AVAILABLE", "Additional service %s is not available"
                                    % service_id, "additionalServices",
                                    "Usługa dodatkowa %s jest niedostępna" % service_id))
        if body.get("cashOnDelivery") and not METHODS_BY_ID[method_id]["cod"]:
            errors.append(error("CASH_ON_DELIVERY_NOT_AVAILABLE", "The delivery method has no cash on delivery",
                                "cashOnDelivery", "Metoda dostawy nie obsługuje pobrania"))
        if errors:
            return errors, {}
        shipment = self._create(order, body, carrier, kind, method_id)
        return [], {"shipmentId": shipment["id"]}

    def _waybill(self, carrier):
        if carrier == "INPOST":
            return "%024d" % self.rng.randrange(10 ** 23, 10 ** 24)
        return "%013dU" % self.rng.randrange(10 ** 12, 10 ** 13)

    def _create(self, order, body, carrier, kind, method_id):
        country = (body["receiver"].get("countryCode") or "PL").upper()
        partner = PARTNERS.get((carrier, country))
        packages = []
        for package in body["packages"]:
            waybill = self._waybill(carrier)
            transporting = [{"carrierId": carrier, "carrierWaybill": waybill}]
            if partner:
                transporting.append({"carrierId": partner, "carrierWaybill": "%s%010d" % (
                    country, self.rng.randrange(10 ** 10))})
            packages.append({key: package[key] for key in ("type", "length", "width", "height", "weight", "textOnLabel")
                             if key in package} | {"waybill": waybill, "transportingInfo": transporting})
        shipment = {"id": new_uuid(self.rng), "sender": body["sender"], "receiver": body["receiver"],
                    "packages": packages, "carrier": carrier,
                    "transport": [t["carrierId"] for t in packages[0]["transportingInfo"]],
                    "labelFormat": body.get("labelFormat") or "PDF",
                    "additionalServices": body.get("additionalServices") or [],
                    "additionalProperties": dict(body.get("additionalProperties") or {}),
                    "createdDate": iso(utcnow()), "pickupAvailable": kind == "DOOR"}
        for key in ("referenceNumber", "cashOnDelivery", "insurance", "deliveryMethodId"):
            if body.get(key):
                shipment[key] = body[key]
        self.shipments[shipment["id"]] = shipment
        self.order_of[shipment["id"]] = order["id"]
        self.delivery_types[shipment["id"]] = kind
        # As on Allegro, the parcel's waybills are attached to the order by themselves.
        for package in packages:
            self.store.add_shipment(order, {
                "id": new_uuid(self.rng), "waybill": package["waybill"], "carrierId": carrier,
                "carrierName": CARRIER_NAMES[carrier],
                "lineItems": [{"id": li["id"]} for li in order["lineItems"]], "createdAt": shipment["createdDate"]})
        return shipment

    def waybills_of(self, order_id):
        """Waybills of the order's parcels that are not canceled."""
        return {p["waybill"] for shipment_id, s in self.shipments.items()
                if self.order_of[shipment_id] == order_id and "canceledDate" not in s for p in s["packages"]}

    def _carry_out_cancel(self, shipment_id):
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            return [error("NOT_FOUND", "Shipment %s not found" % shipment_id, "shipmentId",
                          "Nie znaleziono przesyłki %s" % shipment_id)], {}
        if shipment_id in self.handed_over:
            return [error("CANCELLATION_NOT_POSSIBLE", "The parcel was handed over to the carrier",
                          "shipmentId", "Przesyłka została już nadana")], {}
        if "canceledDate" not in shipment:
            shipment["canceledDate"] = iso(utcnow())
            shipment["pickupAvailable"] = False
            order = self.store.orders.get(self.order_of[shipment_id])
            if order is not None:
                self.store.remove_waybills(order, {p["waybill"] for p in shipment["packages"]})
        return [], {"shipmentId": shipment_id}

    def refusal_of_pickup(self, shipment_id):
        """Why a pickup cannot take this parcel, or None."""
        shipment = self.shipments[shipment_id]
        if shipment_id in self.handed_over or "canceledDate" in shipment:
            return "Package status forbids pickup orders"
        if not shipment["pickupAvailable"]:
            return "The carrier does not pick up this parcel"
        return None

    def pickup_times(self, ready):
        days, day = [], ready
        while len(days) < 3:
            if day.weekday() < 5:
                days.append(day)
            day += timedelta(days=1)
        return [{"date": d.isoformat(), "minTime": start, "maxTime": end}
                for d in days for start, end in PICKUP_WINDOWS]

    def _carry_out_pickup(self, body):
        errors = []
        for shipment_id in body["shipmentIds"]:
            reason = self.refusal_of_pickup(shipment_id)
            if reason:
                errors.append(error("PICKUP_NOT_POSSIBLE", reason, "shipmentIds",
                                    "Status paczki uniemożliwia zamówienie odbioru", details=shipment_id))
        shipments = [self.shipments[s] for s in body["shipmentIds"]]
        if len({s["carrier"] for s in shipments}) > 1:
            errors.append(error("PICKUP_NOT_POSSIBLE", "The parcels of one pickup must have the same carrier",
                                "shipmentIds", "Paczki jednego odbioru muszą mieć tego samego przewoźnika"))
        if errors:
            return errors, {}
        pickup = {"id": new_uuid(self.rng), "carrierPickupId": "P%010d" % self.rng.randrange(10 ** 10),
                  "carrier": shipments[0]["carrier"], "pickupCarrier": shipments[0]["carrier"],
                  "address": body["address"], "shipmentIds": list(body["shipmentIds"]),
                  "waybills": [p["waybill"] for s in shipments for p in s["packages"]]}
        self.pickups[pickup["id"]] = pickup
        return [], {"pickupId": pickup["id"], "carrierPickupId": pickup["carrierPickupId"]}

    def hand_over(self, shipment_id):
        shipment = self.shipments[shipment_id]
        self.handed_over.add(shipment_id)
        shipment["pickupAvailable"] = False
