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
       seconds until Allegro shows the new stock (the eta delay plus the job).

HOW IT RUNS
    On the database given with --db (a fresh one made by make bench-offers,
    like make test makes its own), in this process: Odoo's registry, and an
    AllegroEmulator on 127.0.0.1. Everything it creates is committed there;
    make bench-offers drops the database afterwards.
"""

import argparse
import importlib
import sys
import time
from datetime import timedelta
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parents[1] / "tests")
DISTINCT_VALUES = 300


def start_odoo(addons_path, db):
    importlib.import_module("odoo.init")
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(["--addons-path=" + addons_path, "-d", db, "--log-level=warn"], setup_logging=True)
    return Registry(db)


def writes(requests):
    return [r for r in requests if r.method != "GET"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--offers", type=int, default=10000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request (default 0.1)")
    args = parser.parse_args()

    sys.path.insert(0, TESTS_DIR)
    from allegro_emulator import AllegroEmulator

    registry = start_odoo(args.addons_path, args.db)
    import odoo.api
    from odoo import fields
    from odoo.addons.allegro_connector.models.allegro_shop_offers import STOCK_SEND_DELAY
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
        shop = env["allegro.shop"].create({
            "name": "Benchmark shop", "environment": "custom", "api_url": emu.url,
            "auth_url": emu.url + "/auth/oauth", "client_id": emu.client_id, "client_secret": emu.client_secret,
            "confirm_policy": "never", "stock_sync": True,
        })
        tokens = emu.issue_tokens()
        shop.sudo().token_ids.write({"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
                                     "expires_at": fields.Datetime.now() + timedelta(hours=5)})
        shop.state = "connected"
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
    emu.stop()

    width = max(len(name) for name, _v, _t in figures)
    print("\nOffer stock sync, %d offers, %d ms per request" % (len(emu.offers), args.latency * 1000))
    for name, value, target in figures:
        print("  %-*s  %10s   %s" % (width, name, value, ("target " + target) if target else ""))


if __name__ == "__main__":
    main()
