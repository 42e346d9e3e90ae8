#!/usr/bin/env python3
"""Benchmark of Ship with Allegro (make bench-swa).

WHAT IT MEASURES
    200 paid Allegro orders (--orders), half by courier and half to a parcel
    locker, imported into a shop whose Allegro delivery methods map to an
    "Allegro shipping" carrier, on an emulator that adds a latency to every
    request (default 100 ms). Then:
    1. a warehouse user (Inventory / User) validates every delivery, each in
       its own transaction; each validation records a parcel and queues its
       job; the parcel jobs are run as queue_job's runner runs them (its own
       controller code: acquired, performed, postponed on RetryableJobError
       until their eta, at most --workers at once). Printed: the requests per
       parcel, in all and by endpoint (delivery proposal, create command,
       command status reads, shipment, label), and the seconds from the first
       validation until every label is attached to its delivery;
    2. the labels of 100 of those deliveries (--labels) as one PDF, by the
       deliveries list's print action: requests and seconds.
    Allegro carries out a create command in --command-seconds (default 1 s)
    and answers Retry-After: 1 while it works, as the emulator does.

WHY 5 REQUESTS A PARCEL, NOT 4
    The delivery proposal is kept: its receiver email (the buyer's Allegro
    address) is what ties the parcel to the order, and its service, pickup
    point, cash on delivery and insurance are Allegro's own; rebuilding them
    from the order would guess. The label is read per parcel: each delivery
    holds its own label, and the label resource answers one file for all the
    shipments asked, with no promise of one page per parcel (A4 pages hold
    several labels), so it cannot be cut into the deliveries' labels. The
    job already waits the create answer's Retry-After before its first
    status read: one read suffices when Allegro is done by then.

HOW IT RUNS
    On the database given with --db (a fresh one made by make bench-swa), in
    this process: Odoo's registry, and an AllegroEmulator on 127.0.0.1.
    Everything it creates is committed there; make bench-swa drops the
    database afterwards. Only the parcel jobs are run in part 1: the status
    and tracking number updates the validations also queue are left pending.
"""

import logging
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta

from bench_common import TESTS_DIR, arguments, connected_shop, start_odoo

COURIER = {"id": "2488f7b7-5d1c-4d65-b85c-4cbcf253fd93", "name": "Allegro Kurier24 InPost"}
LOCKER = {"id": "1fa56f79-4b6a-4821-a6f2-ca9c16d5c925", "name": "Allegro Paczkomaty InPost"}
POINT = {"id": "GDA01M", "name": "Paczkomat GDA01M", "description": "Przy sklepie",
         "address": {"street": "Polna 1", "zipCode": "80-283", "city": "Gdańsk", "countryCode": "PL"}}
SHIPPING = "/shipment-management"
# The requests of a parcel, by endpoint: (name, method, path test).
ENDPOINTS = [
    ("delivery proposal", "GET", lambda path: path.startswith(SHIPPING + "/delivery-proposals/")),
    ("create command", "POST", lambda path: path == SHIPPING + "/shipments/create-commands"),
    ("command status reads", "GET", lambda path: path.startswith(SHIPPING + "/shipments/create-commands/")),
    ("shipment", "GET", lambda path: path.startswith(SHIPPING + "/shipments/")
     and not path.startswith(SHIPPING + "/shipments/create-commands/")),
    ("label", "POST", lambda path: path == SHIPPING + "/label"),
]


def endpoint(request):
    for name, method, matches in ENDPOINTS:
        if request.method == method and matches(request.path):
            return name
    return "other"


def main():
    parser = arguments(__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--labels", type=int, default=100, help="deliveries whose labels are printed at once")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request (default 0.1)")
    parser.add_argument("--workers", type=int, default=4, help="jobs run at once (the channel's capacity)")
    parser.add_argument("--command-seconds", type=float, default=1.0,
                        help="seconds Allegro takes to carry out a create command (default 1)")
    args = parser.parse_args()

    sys.path.insert(0, TESTS_DIR)
    from allegro_emulator import AllegroEmulator

    registry = start_odoo(args.addons_path, args.db)
    import odoo.api
    from odoo import fields

    emu = AllegroEmulator(client_id="bench-client", client_secret="bench-secret", random_seed=5)
    emu.start(host="127.0.0.1", port=0)
    # Commands are carried out after a time rather than after a count of reads.
    emu.shipment_command_reads = 0
    emu.shipment_command_delay = args.command_seconds
    print("Preparing %d orders, their sale orders and deliveries..." % args.orders, flush=True)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        location = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1).lot_stock_id
        for offer in emu.offers:
            product = env["product.product"].create({
                "name": offer["name"], "type": "consu", "is_storable": True, "default_code": offer["external"]["id"]})
            env["stock.quant"]._update_available_quantity(product, location, 10 * args.orders)
        carrier = env["delivery.carrier"].create({
            "name": "Allegro shipping", "delivery_type": "allegro", "allegro_parcel_weight": 2.0,
            "product_id": env["product.product"].create({"name": "Allegro delivery", "type": "service"}).id,
        })
        for method in (COURIER, LOCKER):
            env["allegro.delivery.method"].create({
                "allegro_ref": method["id"], "name": method["name"], "carrier_id": carrier.id})
        warehouse_user = env["res.users"].create({
            "name": "Warehouse worker", "login": "bench_warehouse",
            "group_ids": [(6, 0, env.ref("stock.group_stock_user").ids)]})
        env.company.stock_text_confirmation = False  # no SMS to the buyer (nothing reaches the internet)
        shop = connected_shop(env, emu, confirm_policy="paid",
                              import_start_date=fields.Datetime.now() - timedelta(hours=1))
        cr.commit()
        shop_id, user_id = shop.id, warehouse_user.id
    for index in range(args.orders):
        method = LOCKER if index % 2 else COURIER
        emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE", "provider": "P24"},
                      delivery={"method": method, "pickupPoint": POINT if method is LOCKER else None},
                      lineItems=[{"offer": {"id": emu.offers[index % len(emu.offers)]["id"]}, "quantity": 1}])
    for _run in range(20):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
            shop = env["allegro.shop"].browse(shop_id)
            env["allegro.importer"]._run_import(shop)
            if env["allegro.order"].search_count([("shop_id", "=", shop_id)]) >= args.orders:
                break
    run_jobs(registry, [("channel", "=like", "root.allegro%")], args.workers)  # the orders' statuses
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        orders = env["allegro.order"].search([("shop_id", "=", shop_id)], order="id")
        pickings = orders.sale_order_id.picking_ids.filtered(
            lambda p: p.state not in ("done", "cancel") and p.carrier_id == carrier)
        picking_ids = pickings.ids
    if len(picking_ids) != args.orders:
        sys.exit("%d Allegro orders gave %d deliveries shipped with Allegro" % (len(orders), len(picking_ids)))

    emu.latency = args.latency
    figures = []

    # 1. Validations, then the parcel jobs.
    emu.reset_requests()
    started = time.monotonic()
    for picking_id in picking_ids:
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, user_id, {})
            picking = env["stock.picking"].browse(picking_id)
            for move in picking.move_ids:
                move.quantity = move.product_uom_qty
                move.picked = True
            if picking.button_validate() is not True:
                sys.exit("validating %s asked for more than a click" % picking.name)
    validated = time.monotonic()
    validation_requests = len(emu.requests)
    jobs = run_jobs(registry, [("method_name", "in", ("_create_job", "_follow_job")),
                               ("model_name", "=", "allegro.parcel")], args.workers)
    finished = time.monotonic()
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        parcels = env["allegro.parcel"].search([("picking_id", "in", picking_ids)])
        done = parcels.filtered(lambda p: p.state == "done" and p.label_id)
        refused = parcels.filtered(lambda p: p.state == "error")
    requests = list(emu.requests)
    count = max(1, len(parcels))
    figures.append(("Deliveries validated; parcels with their label; refused",
                    "%d; %d; %d" % (len(picking_ids), len(done), len(refused)), "%d; %d; 0" % (
                        args.orders, args.orders)))
    figures.append(("Requests while validating", validation_requests, "0"))
    figures.append(("Requests per parcel", round(len(requests) / count, 2),
                    "<= 4 (create, follow, read, label), fewer where the API batches"))
    for name, _method, _test in ENDPOINTS + [("other", None, None)]:
        figures.append(("  of which %s" % name, round(sum(endpoint(r) == name for r in requests) / count, 2), ""))
    figures.append(("Parcel job runs (postponed ones run again)", jobs, ""))
    figures.append(("Seconds validating the deliveries", round(validated - started, 1), ""))
    figures.append(("Seconds until every label is attached", round(finished - started, 1), ""))

    # 2. The labels of many deliveries in one file.
    emu.reset_requests()
    started = time.monotonic()
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, user_id, {})
        pickings = env["stock.picking"].browse(picking_ids[:args.labels])
        action = pickings.action_allegro_print_labels()
        attachment = env["ir.attachment"].sudo().browse(int(action["url"].split("/")[-1].split("?")[0]))
        size = len(attachment.raw or b"")
    seconds = time.monotonic() - started
    figures.append(("One PDF of %d labels: requests" % len(pickings), len(emu.requests), "1"))
    figures.append(("One PDF of %d labels: seconds (%d kB)" % (len(pickings), size // 1024), round(seconds, 1), ""))
    emu.stop()

    width = max(len(name) for name, _v, _t in figures)
    print("\nShip with Allegro, %d orders, %d ms per request, %d workers, commands carried out in %.1f s" % (
        args.orders, args.latency * 1000, args.workers, args.command_seconds))
    for name, value, target in figures:
        print("  %-*s  %10s   %s" % (width, name, value, ("goal " + target) if target else ""))


def run_jobs(registry, domain, workers):
    """Perform the pending jobs of ``domain`` as queue_job's runner does,
    until none is left: each when its eta has passed, at most ``workers`` at
    once, through the runner's own controller (acquire, perform, postpone on
    RetryableJobError). Returns how many runs there were."""
    import odoo.api
    from odoo import fields
    from odoo.addons.queue_job.controllers.main import RunJobController

    def perform(uuid):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
            job = RunJobController._acquire_job(env, uuid)
            if job:
                try:
                    RunJobController._runjob(env, job)
                except Exception:  # noqa: BLE001 - failed and logged by the controller, counted below
                    pass

    logging.getLogger("odoo.addons.queue_job.controllers.main").setLevel(logging.CRITICAL)
    runs = 0
    running = {}
    with ThreadPoolExecutor(workers) as pool:
        while True:
            with registry.cursor() as cr:
                env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
                Job = env["queue.job"]
                due = Job
                if len(running) < workers:
                    due = Job.search(domain + [("state", "=", "pending"), "|", ("eta", "=", False),
                                               ("eta", "<=", fields.Datetime.now())],
                                     order="priority, date_created, id", limit=workers - len(running))
                due.write({"state": "enqueued"})
                left = Job.search_count(domain + [("state", "in", ("pending", "enqueued", "started"))])
                uuids = due.mapped("uuid")
            for uuid in uuids:
                running[uuid] = pool.submit(perform, uuid)
                runs += 1
            if not left and not running:
                return runs
            if running:
                wait(list(running.values()), timeout=0.2, return_when=FIRST_COMPLETED)
            else:
                time.sleep(0.2)
            for uuid in [u for u, future in running.items() if future.done()]:
                running.pop(uuid).result()


if __name__ == "__main__":
    main()
