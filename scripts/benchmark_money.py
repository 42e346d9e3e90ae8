#!/usr/bin/env python3
"""Benchmark of Allegro's money in the books (make bench-money).

WHAT IT MEASURES
    A month of a busy shop: 30,000 billing entries (--entries) and 20,000
    payment operations (--operations) on the emulator, which adds a latency to
    every request (default 100 ms). The shop's money run reads them over HTTP
    and books them: the fees on a draft bill from Allegro per month, each
    operation as a posted payment on the Allegro payments journal. Printed: the
    requests, the seconds, and the ratio against the same records (the kept
    entries and operations, the bills, the payments) created with Odoo's ORM
    directly from the data in memory, in batches of one day, with no HTTP
    (ratio = ORM seconds / run seconds; goal >= 0.8).

HOW IT RUNS
    On the database given with --db (a fresh one made by make bench-money), in
    this process: Odoo's registry, and an AllegroEmulator on 127.0.0.1. The ORM
    baseline books into a second shop of the same company, so both start from
    empty journals. Everything is committed there; make bench-money drops the
    database afterwards.
"""

import sys
import time
from collections import defaultdict
from datetime import timedelta

from bench_common import TESTS_DIR, arguments, connected_shop, start_odoo


def main():
    parser = arguments(__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=30000)
    parser.add_argument("--operations", type=int, default=20000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request (default 0.1)")
    args = parser.parse_args()

    sys.path.insert(0, TESTS_DIR)
    from allegro_emulator import AllegroEmulator

    registry = start_odoo(args.addons_path, args.db)
    import odoo.api
    from odoo import fields

    emu = AllegroEmulator(client_id="bench-client", client_secret="bench-secret", random_seed=5)
    emu.start(host="127.0.0.1", port=0)
    print("Preparing %d billing entries and %d payment operations..." % (args.entries, args.operations), flush=True)
    emu.bulk_money(entries=args.entries, operations=args.operations, days=30)
    entries, operations = emu.billing_entries, emu.payment_operations
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        shop = connected_shop(env, emu)
        baseline_shop = connected_shop(env, emu, name="Baseline shop")
        env["allegro.fee.type"]._sync_types(env.company, [
            {"id": code, "description": code} for code in ("SUC", "FEA", "HLB", "REF")])
        cr.commit()
        shop_id, baseline_id = shop.id, baseline_shop.id

    # The ORM directly: the same records from memory, a day at a time.
    print("Creating the same records with the ORM directly...", flush=True)
    started = time.monotonic()
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        baseline_shop = env["allegro.shop"].browse(baseline_id)
        for model, items in (("allegro.billing.entry", entries), ("allegro.payment.operation", operations)):
            days = defaultdict(list)
            for item in items:
                days[item["occurredAt"][:10]].append(item)
            for day in sorted(days):
                env[model]._store(baseline_shop, days[day])._book()
                cr.commit()
    orm_seconds = time.monotonic() - started

    # The shop's run, over HTTP.
    print("Reading and booking them from Allegro at %d ms per request..." % (args.latency * 1000), flush=True)
    emu.latency = args.latency
    emu.reset_requests()
    started = time.monotonic()
    runs = 0
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        shop = env["allegro.shop"].browse(shop_id)
        shop.sudo().write({"money_fees_position": fields.Datetime.now() - timedelta(days=31),
                           "money_operations_position": fields.Datetime.now() - timedelta(days=31)})
        cr.commit()
        while True:
            runs += 1
            # One slice after another, as the jobs that carry a long run on do.
            summary = env["allegro.money"]._read_and_book(shop)
            if summary["state"] != "continues":
                break
    seconds = time.monotonic() - started
    requests = len(emu.requests)
    emu.stop()
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        kept = {shop: (env["allegro.billing.entry"].search_count([("shop_id", "=", shop)]),
                       env["allegro.payment.operation"].search_count([("shop_id", "=", shop)]),
                       env["allegro.payment.operation"].search_count([("shop_id", "=", shop),
                                                                      ("payment_id", "!=", False)]))
                for shop in (shop_id, baseline_id)}
        journal = env["account.journal"].search([("allegro_shop_id", "=", shop_id)])
        difference = journal.allegro_balance_difference
    print("\nAllegro fees and payments, %d entries and %d operations, %d ms per request" % (
        args.entries, args.operations, args.latency * 1000))
    figures = [
        ("Run's last state; slices", "%s; %d" % (summary["state"], runs), "done"),
        ("Fees kept; operations kept; payments booked", "%d; %d; %d" % kept[shop_id],
         "%d; %d; %d" % (args.entries, args.operations, args.operations)),
        ("Same by the ORM directly", "%d; %d; %d" % kept[baseline_id], ""),
        ("Wallet balance minus journal balance", difference, "0"),
        ("Requests", requests, ""),
        ("Seconds over HTTP", round(seconds, 1), ""),
        ("Seconds by the ORM directly", round(orm_seconds, 1), ""),
        ("Ratio ORM / HTTP run", round(orm_seconds / seconds, 2), ">= 0.8"),
    ]
    width = max(len(name) for name, _v, _t in figures)
    for name, value, target in figures:
        print("  %-*s  %16s   %s" % (width, name, value, ("goal " + target) if target else ""))


if __name__ == "__main__":
    main()
