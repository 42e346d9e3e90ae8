#!/usr/bin/env python3
"""Benchmark of the request budget shared by workers (make bench-budget).

WHAT IT MEASURES
    8 workers (threads, each with its own database cursors, as Odoo workers
    have) send requests to the emulator through the connector's client and
    request budget for a bounded time (default 60 s), at uneven paces: two
    flat out, two with short pauses (up to 0.2 s), two about one request a
    second, two in bursts of 30 requests with pauses of 2 to 5 s. The budget
    is set low (default 1,200 a minute, a burst of 75) so that it is spent
    and the workers queue for it. It prints:
    - requests sent: requests the emulator served;
    - taken from the budget: what the budget's row lost over the run, from
      its own accounting (it starts empty and the flat-out workers keep it
      below its burst, so every refill counts: refilled - left at the end);
    - share: sent / taken (goal >= 95%);
    - the longest and the 95th percentile wait of a request for its turn.

HOW IT RUNS
    On the database given with --db (make bench-budget makes a fresh one and
    drops it afterwards), in this process: Odoo's registry and an
    AllegroEmulator on 127.0.0.1. The budget row it uses is its own and is
    deleted at the end; the rate parameter is put back as it was.
"""

import argparse
import importlib
import random
import sys
import threading
import time
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parents[1] / "tests")
KEY = "benchmark-request-budget"


def start_odoo(addons_path, db):
    importlib.import_module("odoo.init")
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(["--addons-path=" + addons_path, "-d", db, "--log-level=warn"], setup_logging=True)
    return Registry(db)


def paces(rng):
    """Pause before each request of each of the 8 workers."""
    def bursts():
        count = 0
        while True:
            count += 1
            yield rng.uniform(2, 5) if count % 30 == 0 else 0.0

    def every(low, high):
        while True:
            yield rng.uniform(low, high)

    return [every(0, 0), every(0, 0), every(0, 0.2), every(0, 0.2), every(0.5, 1.5), every(0.5, 1.5),
            bursts(), bursts()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=1200, help="requests a minute (default 1,200)")
    args = parser.parse_args()

    sys.path.insert(0, TESTS_DIR)
    from allegro_emulator import AllegroEmulator

    registry = start_odoo(args.addons_path, args.db)
    import odoo.api
    from odoo.addons.allegro_connector.allegro_api.client import AllegroClient
    from odoo.addons.allegro_connector.allegro_api.errors import AllegroRateLimited
    from odoo.addons.allegro_connector.models.allegro_request_budget import RATE_PARAMETER, RequestBudget

    emu = AllegroEmulator(client_id="bench-client", client_secret="bench-secret", random_seed=5)
    emu.start(host="127.0.0.1", port=0)
    token = emu.issue_tokens()["access_token"]

    def environment(cr):
        return odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})

    with registry.cursor() as cr:
        env = environment(cr)
        Param = env["ir.config_parameter"]
        previous_rate = Param.get_param(RATE_PARAMETER)
        Param.set_param(RATE_PARAMETER, str(args.rate))
        env["allegro.request.budget"].search([("application_key", "=", KEY)]).unlink()
        # Empty at the start, counted from now (the database's clock).
        cr.execute("SELECT EXTRACT(EPOCH FROM statement_timestamp())")
        budget = env["allegro.request.budget"].create(
            {"application_key": KEY, "tokens": 0.0, "refilled_at": cr.fetchone()[0]})
        budget_id, started_at = budget.id, budget.refilled_at

    waits, postponed, sent_by = [], [0], [0] * 8
    deadline = time.monotonic() + args.seconds
    rng = random.Random(1)
    worker_paces = paces(rng)

    def worker(index):
        with registry.cursor() as cr:
            budget = RequestBudget(environment(cr), KEY)

            def take_turn():
                asked = time.monotonic()
                budget()
                waits.append(time.monotonic() - asked)

            client = AllegroClient(emu.url, lambda: token, max_retries=0, before_request=take_turn)
            for pause in worker_paces[index]:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                if time.monotonic() >= deadline:
                    return
                try:
                    client.get_order_event_stats()
                    sent_by[index] += 1
                except AllegroRateLimited:
                    postponed[0] += 1

    print("8 workers, %.0f s, budget %d a minute (%.1f a second, burst %.0f)..."
          % (args.seconds, args.rate, args.rate / 60.0, max(1.0, args.rate / 16.0)), flush=True)
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emu.stop()

    with registry.cursor() as cr:
        env = environment(cr)
        budget = env["allegro.request.budget"].browse(budget_id)
        taken = (budget.refilled_at - started_at) * args.rate / 60.0 - budget.tokens
        budget.unlink()
        if previous_rate:
            env["ir.config_parameter"].set_param(RATE_PARAMETER, previous_rate)
        else:
            env["ir.config_parameter"].search([("key", "=", RATE_PARAMETER)]).unlink()

    sent = sum(1 for r in emu.requests if r.path == "/order/event-stats")
    waits.sort()
    print("requests sent:           %d (by worker: %s)" % (sent, ", ".join(map(str, sent_by))))
    print("taken from the budget:   %.1f" % taken)
    print("share of the budget that became requests: %.1f%% (goal >= 95%%)" % (100.0 * sent / taken if taken else 0))
    print("postponed (wait > 10 s): %d" % postponed[0])
    print("longest wait:            %.3f s (95th percentile %.3f s)"
          % (waits[-1] if waits else 0.0, waits[int(0.95 * (len(waits) - 1))] if waits else 0.0))


if __name__ == "__main__":
    main()
