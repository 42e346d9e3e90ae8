#!/usr/bin/env python3
"""Benchmark of the request budget shared by workers (make bench-budget).

WHAT IT MEASURES
    8 workers (threads, each with its own database cursors, as Odoo workers
    have) send requests to the emulator through the connector's client and
    request budget, in two runs of a bounded time (default 60 s each):

    - budget with room: Allegro's usual rate (8,000 a minute, a burst of
      500) and every worker sending about one request a second, unevenly
      (0.3 to 1.7 s apart). The budget never runs out; what matters is that
      it is charged one per request and not more (a worker taking a block of
      requests and dropping what it did not use would burn the budget of the
      others);
    - budget spent: a low rate (default 1,200 a minute, a burst of 75), the
      budget empty at the start, and uneven paces: two workers flat out, two
      with short pauses (up to 0.2 s), two about one request a second, two in
      bursts of 30 with pauses of 2 to 5 s. The workers queue for their turn.

    For each run it prints:
    - requests sent: requests the emulator served;
    - taken from the budget: the budget row's own count of requests taken
      (its "Requests counted" column, one added per request by the
      statement that takes it);
    - share: sent / taken (goal >= 95%);
    - the longest and the 95th percentile wait of a request for its turn.

HOW IT RUNS
    On the database given with --db (make bench-budget makes a fresh one and
    drops it afterwards), in this process: Odoo's registry and an
    AllegroEmulator on 127.0.0.1. The budget row it uses is its own and is
    deleted at the end; the rate parameter is put back as it was.
"""

import random
import sys
import threading
import time

from bench_common import TESTS_DIR, arguments, start_odoo

KEY = "benchmark-request-budget"
WORKERS = 8


def uneven(rng, low, high):
    while True:
        yield rng.uniform(low, high)


def bursts(rng):
    count = 0
    while True:
        count += 1
        yield rng.uniform(2, 5) if count % 30 == 0 else 0.0


def paces_with_room(rng):
    """About one request a second per worker, unevenly."""
    return [uneven(rng, 0.3, 1.7) for _ in range(WORKERS)]


def paces_spent(rng):
    """Flat out, short pauses, about one a second, bursts: two workers each."""
    return [uneven(rng, 0, 0), uneven(rng, 0, 0), uneven(rng, 0, 0.2), uneven(rng, 0, 0.2),
            uneven(rng, 0.5, 1.5), uneven(rng, 0.5, 1.5), bursts(rng), bursts(rng)]


def main():
    parser = arguments(__doc__.split("\n")[1])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run (default 60)")
    parser.add_argument("--rate", type=int, default=1200,
                        help="requests a minute of the spent-budget run (default 1,200)")
    args = parser.parse_args()

    sys.path.insert(0, TESTS_DIR)
    from allegro_emulator import AllegroEmulator

    registry = start_odoo(args.addons_path, args.db)
    import odoo.api
    from odoo.addons.allegro_connector.allegro_api.client import AllegroClient
    from odoo.addons.allegro_connector.allegro_api.errors import AllegroRateLimited
    from odoo.addons.allegro_connector.models.allegro_request_budget import (
        DEFAULT_REQUESTS_PER_MINUTE, RATE_PARAMETER, RequestBudget)

    emu = AllegroEmulator(client_id="bench-client", client_secret="bench-secret", random_seed=5)
    emu.start(host="127.0.0.1", port=0)
    token = emu.issue_tokens()["access_token"]

    def environment(cr):
        return odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})

    with registry.cursor() as cr:
        previous_rate = environment(cr)["ir.config_parameter"].get_param(RATE_PARAMETER)

    def run(title, rate, worker_paces, start_empty):
        """One run of the 8 workers; prints its figures."""
        with registry.cursor() as cr:
            env = environment(cr)
            env["ir.config_parameter"].set_param(RATE_PARAMETER, str(rate))
            env["allegro.request.budget"].search([("application_key", "=", KEY)]).unlink()
            cr.execute("SELECT EXTRACT(EPOCH FROM statement_timestamp())")
            budget = env["allegro.request.budget"].create({
                "application_key": KEY, "tokens": 0.0 if start_empty else max(1.0, rate / 16.0),
                "refilled_at": cr.fetchone()[0], "taken": 0})
            budget_id = budget.id
        served_before = len(emu.requests)
        waits, postponed, sent_by = [], [0], [0] * WORKERS
        deadline = time.monotonic() + args.seconds

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

        print("\n%s: %d workers, %.0f s, budget %d a minute (%.1f a second, burst %.0f)"
              % (title, WORKERS, args.seconds, rate, rate / 60.0, max(1.0, rate / 16.0)), flush=True)
        threads = [threading.Thread(target=worker, args=(index,)) for index in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with registry.cursor() as cr:
            budget = environment(cr)["allegro.request.budget"].browse(budget_id)
            taken = budget.taken
            budget.unlink()
        sent = sum(1 for r in emu.requests[served_before:] if r.path == "/order/event-stats")
        waits.sort()
        print("  requests sent:           %d (by worker: %s)" % (sent, ", ".join(map(str, sent_by))))
        print("  taken from the budget:   %d" % taken)
        print("  share of the budget that became requests: %.1f%% (goal >= 95%%)"
              % (100.0 * sent / taken if taken else 0))
        print("  postponed (wait > 10 s): %d" % postponed[0])
        print("  longest wait:            %.3f s (95th percentile %.3f s)"
              % (waits[-1] if waits else 0.0, waits[int(0.95 * (len(waits) - 1))] if waits else 0.0))

    try:
        run("Budget with room", DEFAULT_REQUESTS_PER_MINUTE, paces_with_room(random.Random(1)), start_empty=False)
        run("Budget spent", args.rate, paces_spent(random.Random(2)), start_empty=True)
    finally:
        emu.stop()
        with registry.cursor() as cr:
            Param = environment(cr)["ir.config_parameter"]
            if previous_rate:
                Param.set_param(RATE_PARAMETER, previous_rate)
            else:
                Param.search([("key", "=", RATE_PARAMETER)]).unlink()


if __name__ == "__main__":
    main()
