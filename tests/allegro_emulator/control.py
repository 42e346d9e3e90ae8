"""/_emulator/ control endpoints, so other processes (a demo) can drive the emulator.

Not part of Allegro's API: no token needed, plain application/json, and the
calls are not recorded in emu.requests.
"""

from .routing import Reply, Router

CONTROL = Router()


def _ok(body=None, status=200):
    return Reply(status, body if body is not None else {"ok": True}, "application/json")


def _payload(req):
    body = req.json() if req.body else {}
    return body if isinstance(body, dict) else {}


@CONTROL.route("GET", "/_emulator/stats")
def stats(emu, req):
    return _ok(emu.stats())


@CONTROL.route("POST", "/_emulator/seed_demo")
def seed_demo(emu, req):
    return _ok({"orders": [order["id"] for order in emu.seed_demo()]})


@CONTROL.route("POST", "/_emulator/seed")
def seed(emu, req):
    orders = emu.seed_orders(int(_payload(req).get("n", 10)))
    return _ok({"created": len(orders), "orders": [order["id"] for order in orders]})


@CONTROL.route("POST", "/_emulator/orders")
def add_order(emu, req):
    return _ok(emu.add_order(**_payload(req)), 201)


@CONTROL.route("POST", "/_emulator/customer-returns")
def add_customer_return(emu, req):
    """A buyer's return: ``order_id``, ``items`` ([[offer id, quantity]]) and the fields of add_customer_return."""
    spec = _payload(req)
    items = [tuple(item) for item in spec.pop("items", None) or []] or None
    return _ok(emu.add_customer_return(spec.pop("order_id"), items, **spec), 201)


@CONTROL.route("POST", "/_emulator/approve")
def approve(emu, req):
    return _ok({"approved": emu.approve_device(_payload(req).get("user_code"))})


@CONTROL.route("POST", "/_emulator/faults")
def faults(emu, req):
    spec = _payload(req)
    if spec.get("lose_answer"):
        emu.faults.lose_answer(count=spec.get("count", 1), path_prefix=spec.get("path_prefix", "/order"),
                               method=spec.get("method"), status=spec.get("status"))
    elif "delay" in spec:
        emu.faults.delay(spec["delay"], count=spec.get("count", 1), path_prefix=spec.get("path_prefix", ""),
                         method=spec.get("method"))
    else:
        emu.faults.add(status=spec.get("status", 429), count=spec.get("count", 1),
                       path_prefix=spec.get("path_prefix", "/order"), retry_after=spec.get("retry_after", 1),
                       method=spec.get("method"))
    return _ok(emu.faults.pending())


@CONTROL.route("GET", "/_emulator/duplicates")
def duplicates(emu, req):
    return _ok(emu.duplicates())


@CONTROL.route("DELETE", "/_emulator/faults")
def clear_faults(emu, req):
    emu.faults.clear()
    return _ok()


@CONTROL.route("POST", "/_emulator/pay/{id}")
def pay(emu, req, id):
    emu.pay_order(id)
    return _ok(emu.get_order(id))


@CONTROL.route("POST", "/_emulator/cancel/{id}")
def cancel(emu, req, id):
    emu.cancel_order(id, auto=bool(_payload(req).get("auto")))
    return _ok(emu.get_order(id))


@CONTROL.route("POST", "/_emulator/offers/seed")
def seed_offers(emu, req):
    body = _payload(req)
    emu.seed_offers(int(body.get("n", 100)), stock=int(body.get("stock", 10)))
    return _ok({"offers": len(emu.offers)})


@CONTROL.route("POST", "/_emulator/offers/{id}/stock")
def set_offer_stock(emu, req, id):
    """The seller edits an offer's stock by hand on Allegro."""
    emu.set_offer_stock(id, int(_payload(req)["available"]))
    return _ok(emu.offer(id))


@CONTROL.route("POST", "/_emulator/parcels/{id}/handover")
def hand_over_parcel(emu, req, id):
    """The carrier takes a Ship with Allegro parcel."""
    emu.hand_over_parcel(id)
    return _ok(emu.parcel(id))
