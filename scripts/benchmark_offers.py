#!/usr/bin/env python3
"""Benchmark of the offer stock sync (make bench-offers).

WHAT IT MEASURES
    A shop with N offers (default 10,000) on an emulator that adds a latency
    to every request (default 100 ms), one storable product per offer (SKU =
    internal reference) and about 300 distinct free quantities in Odoo, all
    different from what Allegro shows:
    1. first sync: the shop's "Read offers" (listing, linking, quantity
       commands grouped by value, their tasks read back): requests, seconds;
    2. reconciliation with nothing changed: requests, and how many of them
       write (must be 0);
    3. one sale: a sale order for one product confirmed in Odoo; the send job
       it queues is run as the job runner would at its eta: requests and the
       seconds until Allegro shows the new stock (the eta delay plus the job);
    4. never more than Odoo can ship: on the first 1,000 offers (--run-offers),
       200 purchases on Allegro (--purchases), half paid at once (the sale
       order is confirmed and reserves), half left unpaid; in rounds of 10
       purchases, then the order import, then the send jobs, during which
       a warehouse move (in or out) of a product the job is sending is
       committed by another transaction while the job talks to Allegro (in 3
       jobs out of 10); the offer journal and a reconciliation every
       5 rounds. Before each purchase and after each round the benchmark
       samples every offer bought so far: units Allegro shows beyond what Odoo
       can ship (free quantity minus the purchases whose sale order is not
       confirmed yet, imported or not; goal 0 at every sample), and the
       requests of the send jobs per stock change (purchases and moves).

HOW IT RUNS
    On the database given with --db (a fresh one made by make bench-offers,
    like make test makes its own), in this process: Odoo's registry, and an
    AllegroEmulator on 127.0.0.1. Everything it creates is committed there;
    make bench-offers drops the database afterwards.
"""

import logging
import random
import sys
import time
from datetime import timedelta

from bench_common import TESTS_DIR, arguments, connected_shop, start_odoo

DISTINCT_VALUES = 300
# Part 4: how often a warehouse move is committed while a job sends to Allegro.
MOVE_DURING_SEND = 0.3


def writes(requests):
    return [r for r in requests if r.method != "GET"]


def main():
    parser = arguments(__doc__.split("\n")[0])
    parser.add_argument("--offers", type=int, default=10000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request (default 0.1)")
    parser.add_argument("--run-offers", type=int, default=1000, help="offers bought from in part 4")
    parser.add_argument("--purchases", type=int, default=200, help="purchases on Allegro in part 4")
    args = parser.parse_args()

    sys.path.insert(0, TESTS_DIR)
    from allegro_emulator import AllegroEmulator

    registry = start_odoo(args.addons_path, args.db)
    import odoo.api
    from odoo.addons.allegro_connector.models.allegro_shop import STOCK_SEND_DELAY
    from odoo.addons.queue_job.job import Job

    emu = AllegroEmulator(client_id="bench-client", client_secret="bench-secret", random_seed=3)
    emu.start(host="127.0.0.1", port=0)
    emu.seed_offers(args.offers - len(emu.offers), stock=1000)
    print("Preparing %d offers, products and stock..." % len(emu.offers), flush=True)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        products = env["product.product"].create([
            {"name": o["name"], "type": "consu", "is_storable": True, "default_code": o["external"]["id"]}
            for o in emu.offers])
        location = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1).lot_stock_id
        Quant = env["stock.quant"]
        for index, product in enumerate(products):
            Quant._update_available_quantity(product, location, 1 + index % DISTINCT_VALUES)
        env["queue.job"].search([]).unlink()  # quants of offers not read yet queue nothing; be sure
        shop = connected_shop(env, emu, confirm_policy="never", stock_sync=True)
        cr.commit()
        # The product of the sale has 100 free: the sale changes the quantity, it does not end the offer.
        sold_index = DISTINCT_VALUES // 3 - 1
        shop_id, product_id = shop.id, products[sold_index].id

    emu.latency = args.latency
    figures = []

    # 1. First sync.
    emu.reset_requests()
    started = time.monotonic()
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        env["allegro.shop"].browse(shop_id).action_read_offers()
        env["queue.job"].search([]).unlink()  # links made by the read queue a send the read already did
    first_seconds = time.monotonic() - started
    first = list(emu.requests)
    stocks = {o["stock"]["available"] for o in emu.offers}
    figures.append(("First sync: requests", len(first), "<= 700"))
    figures.append(("First sync: seconds", round(first_seconds, 1), "< 120"))
    figures.append(("First sync: quantity commands", sum("quantity" in r.path for r in writes(first)), ""))
    figures.append(("Distinct stock values on Allegro after it", len(stocks), "~%d" % DISTINCT_VALUES))

    # 2. Reconciliation, nothing changed.
    emu.reset_requests()
    started = time.monotonic()
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        env["allegro.shop"].browse(shop_id)._job_reconcile_offers()
    reconcile_seconds = time.monotonic() - started
    reconcile = list(emu.requests)
    figures.append(("Reconciliation, nothing changed: requests", len(reconcile), "~10"))
    figures.append(("Reconciliation, nothing changed: writes", len(writes(reconcile)), "0"))
    figures.append(("Reconciliation, nothing changed: seconds", round(reconcile_seconds, 1), ""))

    # 3. One sale in Odoo.
    offer_id = emu.offers[sold_index]["id"]
    before = emu.offer(offer_id)["stock"]["available"]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        partner = env["res.partner"].create({"name": "Benchmark buyer"})
        sale = env["sale.order"].create({"partner_id": partner.id, "order_line": [
            (0, 0, {"product_id": product_id, "product_uom_qty": 1})]})
        confirmed_at = time.monotonic()
        sale.action_confirm()
        cr.commit()
        jobs = env["queue.job"].search([("method_name", "=", "_job_send_stock"), ("state", "=", "pending")])
        job_uuids = jobs.mapped("uuid")
    emu.reset_requests()
    started = time.monotonic()
    for uuid in job_uuids:
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
            Job.load(env, uuid).perform()
    job_seconds = time.monotonic() - started
    confirm_seconds = started - confirmed_at
    after = emu.offer(offer_id)["stock"]["available"]
    sale_requests = list(emu.requests)
    figures.append(("One sale: send jobs queued", len(job_uuids), "1"))
    figures.append(("One sale: requests", len(sale_requests), "1-2"))
    figures.append(("One sale: Allegro stock before -> after", "%d -> %d" % (before, after), ""))
    figures.append(("One sale: seconds to Allegro (job eta %ds + confirm %.1fs + job %.1fs)" % (
        STOCK_SEND_DELAY.total_seconds(), confirm_seconds, job_seconds),
        round(STOCK_SEND_DELAY.total_seconds() + confirm_seconds + job_seconds, 1), "< 60"))
    figures += never_more_than_odoo_can_ship(registry, emu, shop_id, args.run_offers, args.purchases)
    emu.stop()

    width = max(len(name) for name, _v, _t in figures)
    print("\nOffer stock sync, %d offers, %d ms per request" % (len(emu.offers), args.latency * 1000))
    for name, value, target in figures:
        print("  %-*s  %10s   %s" % (width, name, value, ("target " + target) if target else ""))


def never_more_than_odoo_can_ship(registry, emu, shop_id, run_offers, purchases):
    """Part 4 (see the top of this file): purchases, unpaid orders and moves during sends."""
    import odoo.api
    from psycopg2 import OperationalError, errorcodes

    from odoo import fields
    from odoo.addons.allegro_connector.models.allegro_update import AllegroUpdate
    from odoo.addons.queue_job.job import Job

    rng = random.Random(17)
    offers = emu.offers[:run_offers]
    # Purchases fall on a hundred offers more than on the others, so that products sell out.
    hot = offers[:100]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        shop = env["allegro.shop"].browse(shop_id)
        shop.confirm_policy = "paid"
        shop.sudo().import_start_date = fields.Datetime.now() - timedelta(hours=1)
        product_of = {o.allegro_ref: o.product_id.id for o in shop.offer_ids if o.product_id}
        location_id = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1).lot_stock_id.id
        env["queue.job"].search([]).unlink()
    bought = []  # (order id, offer id, quantity)
    counts = {"samples": 0, "over_samples": 0, "over_max": 0, "changes": 0, "send_requests": 0, "retried": 0}

    def shippable(cr, product_ids):
        """What Odoo can ship, from what is committed: free quantity minus the units of purchases whose
        sale order is not confirmed (imported or not). Stock is ample: a confirmed order reserves all."""
        cr.execute("""SELECT q.product_id, SUM(q.quantity - q.reserved_quantity) FROM stock_quant q
                      JOIN stock_location l ON l.id = q.location_id
                      WHERE l.usage = 'internal' AND q.product_id = ANY(%s) GROUP BY q.product_id""",
                   [list(product_ids)])
        free = dict(cr.fetchall())
        cr.execute("""SELECT o.allegro_ref FROM allegro_order o JOIN sale_order s ON s.id = o.sale_order_id
                      WHERE o.shop_id = %s AND s.state IN ('sale', 'done')""", [shop_id])
        reserved = {row[0] for row in cr.fetchall()}
        result = {p: free.get(p, 0) for p in product_ids}
        for order_id, offer_id, quantity in bought:
            if order_id not in reserved and product_of.get(offer_id) in result:
                result[product_of[offer_id]] -= quantity
        return result

    def sample(offer_ids):
        with registry.cursor() as cr:
            can = shippable(cr, {product_of[i] for i in offer_ids})
        for offer_id in offer_ids:
            shown = emu.offer(offer_id)
            shown = shown["stock"]["available"] if shown["publication"]["status"] == "ACTIVE" else 0
            over = max(0, shown - max(0, int(can[product_of[offer_id]])))
            counts["samples"] += 1
            counts["over_samples"] += bool(over)
            counts["over_max"] = max(counts["over_max"], over)

    def move_stock(offer_ids):
        """A warehouse move of the product of one of these offers, committed by another transaction."""
        product_id = product_of[rng.choice([i for i in offer_ids if i in product_of] or [hot[0]["id"]])]
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
            product = env["product.product"].browse(product_id)
            quantity = rng.choice((-2, -1, 3))
            quantity = max(quantity, -int(product.with_context(location=location_id).free_qty))
            if quantity:
                env["stock.quant"]._update_available_quantity(product, env["stock.location"].browse(location_id),
                                                              quantity)
                counts["changes"] += 1

    put_command = AllegroUpdate._put_command

    def put_command_while_moving(update, client):
        put_command(update, client)
        if counts.pop("move_due", False):
            move_stock(update.offer_ids.mapped("allegro_ref"))  # committed while the job waits for Allegro's answer

    def run_again_on_conflict(work):
        """``work(env)`` on a transaction of its own, run again when a concurrent update hit it (as
        queue_job does with a job); counts the send requests."""
        last = None
        for _attempt in range(5):
            counts["move_due"] = rng.random() < MOVE_DURING_SEND
            before = len(emu.requests)
            try:
                with registry.cursor() as cr:
                    work(odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {}))
                return
            except OperationalError as error:
                if error.pgcode != errorcodes.SERIALIZATION_FAILURE:
                    raise
                counts["retried"] += 1
                last = error
            finally:
                counts["send_requests"] += len(emu.requests) - before
        raise RuntimeError("still in conflict after 5 attempts") from last

    def perform(uuid):
        def work(env):
            job = Job.load(env, uuid)
            job.perform()
            job.set_done()
            job.store()
        # Started, and committed, before it runs: a move meanwhile queues a job of its own.
        with registry.cursor() as cr:
            job = Job.load(odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {}), uuid)
            job.set_started()
            job.store()
        return work

    def run_jobs():
        """Due offer jobs, as the runner would."""
        for _round in range(20):
            with registry.cursor() as cr:
                env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
                uuids = env["queue.job"].search([("state", "in", ("pending", "enqueued")),
                                                 ("channel", "=like", "root.allegro.offers%")]).mapped("uuid")
            if not uuids:
                return
            for uuid in uuids:
                run_again_on_conflict(perform(uuid))

    # A job hit by a concurrent update is logged by Odoo as a bad query; it runs again, as queue_job's would.
    logging.getLogger("odoo.sql_db").setLevel(logging.CRITICAL)
    AllegroUpdate._put_command = put_command_while_moving
    try:
        for round_number in range(purchases // 10):
            for _purchase in range(10):
                offer = rng.choice(hot) if rng.random() < 0.7 else rng.choice(offers)
                sample([offer["id"]])
                quantity = rng.choice((1, 1, 2))
                if emu.offer(offer["id"])["stock"]["available"] < quantity:
                    continue
                paid = len(bought) % 2 == 0
                form = emu.add_order(status="READY_FOR_PROCESSING" if paid else "FILLED_IN",
                                     lineItems=[{"offer": {"id": offer["id"]}, "quantity": quantity}])
                bought.append((form["id"], offer["id"], quantity))
                counts["changes"] += 1
            with registry.cursor() as cr:
                env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
                env["allegro.importer"]._run_import(env["allegro.shop"].browse(shop_id))
            run_jobs()
            if round_number % 5 == 4:
                run_again_on_conflict(lambda env: env["allegro.shop"].browse(shop_id)._job_read_offer_events())
                run_again_on_conflict(lambda env: env["allegro.shop"].browse(shop_id)._job_reconcile_offers())
                run_jobs()
            sample(sorted({offer_id for _o, offer_id, _q in bought}))
    finally:
        AllegroUpdate._put_command = put_command
    return [
        ("Part 4: offers, purchases (half unpaid), stock changes",
         "%d, %d, %d" % (len(offers), len(bought), counts["changes"]), ""),
        ("Part 4: samples; samples showing more than Odoo can ship",
         "%d; %d" % (counts["samples"], counts["over_samples"]), "0"),
        ("Part 4: most units shown beyond what Odoo can ship", counts["over_max"], "0"),
        ("Part 4: offer requests (sends, journal, reconciliations) per stock change",
         round(counts["send_requests"] / max(1, counts["changes"]), 2), ""),
        ("Part 4: jobs run again after a move during their send", counts["retried"], ""),
    ]


if __name__ == "__main__":
    main()
