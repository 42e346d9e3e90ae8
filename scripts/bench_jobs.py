#!/usr/bin/env python3
"""Benchmark and fault soak of the updates to Allegro as queue_job jobs.

THROUGHPUT (make bench-jobs)
    N status updates (default 2,000) queued at once, then sent by a real Odoo
    server with queue_job's runner and 1 worker, then by one with 4 workers
    (channel capacity = workers), the emulator answering every request after
    LATENCY seconds (default 0.1). An update is one job: the PUT of the status,
    then a GET of the order to learn its new revision. Printed per run: the
    time from the first job started to the last one done, updates per second,
    and the speed-up of 4 workers over 1.

SOAK (make soak)
    ORDERS orders (default 300) go through import (one job per shop, queued by
    the fetch cron), confirmation (PROCESSING), delivery with a tracking
    number (the shipment, then SENT) and invoice upload for those whose buyer
    asked for one, while the emulator injects 429 storms, 5xx, answers lost
    after processing (dropped connections and 500s), and duplicated journal
    events, and a worker in the middle of a job is killed (SIGKILL) a few
    times. Printed: orders lost (on Allegro but not through every step in
    Odoo and on Allegro) and updates duplicated on Allegro (the same tracking
    number twice on an order, a second invoice entry: from the emulator's
    state). Both must be 0. The retry pattern is shortened for the soak, so
    that it ends in minutes.

HOW IT RUNS
    A fresh database (``--db``, default allegro_bench_jobs) with l10n_pl and
    allegro_connector; the emulator runs in this process on 127.0.0.1; Odoo
    runs as ``odoo server --workers W --load base,web,queue_job`` on free
    ports. The database is dropped at the end unless ``--keep``. Nothing is
    asserted but sanity (every update sent); the figures are printed.
"""

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
SOAK_RETRY_PATTERN = {1: 1, 3: 3, 6: 6}


def say(text):
    print("==> %s" % text, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bench:
    def __init__(self, args):
        self.args = args
        self.logs = tempfile.mkdtemp(prefix="allegro_bench_jobs_")
        self.server = None

    # -- database and Odoo ----------------------------------------------------
    def odoo_cli(self, *cli):
        log = os.path.join(self.logs, "setup.log")
        with open(log, "a") as out:
            done = subprocess.run([sys.executable, "-m", "odoo", "--addons-path=" + self.args.addons_path, *cli],
                                  stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode:
            with open(log) as fh:
                sys.stderr.write("".join(fh.readlines()[-30:]))
            raise SystemExit("error: odoo %s failed (log: %s)" % (" ".join(cli), log))

    def make_database(self):
        say("Database %s: a Polish company with l10n_pl and allegro_connector" % self.args.db)
        self.odoo_cli("db", "init", "--country", "PL", "--force", self.args.db)
        self.odoo_cli("module", "install", "-d", self.args.db, "l10n_pl", "allegro_connector")
        import odoo.init  # noqa: F401 - core setup first, as odoo's own command line does
        from odoo.modules.registry import Registry
        from odoo.tools import config

        config.parse_config(["--addons-path=" + self.args.addons_path, "-d", self.args.db, "--log-level=warn"],
                            setup_logging=True)
        self.registry = Registry(self.args.db)

    def env(self, cr):
        import odoo.api

        return odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})

    def start_server(self, workers):
        port = free_port()
        env = dict(os.environ, ODOO_QUEUE_JOB_CHANNELS="root:%d" % workers, ODOO_QUEUE_JOB_PORT=str(port),
                   ODOO_QUEUE_JOB_HOST="127.0.0.1")
        log = os.path.join(self.logs, "odoo-%d-workers.log" % workers)
        command = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "odoo_server.py"),
                   "server", "-d", self.args.db, "--db-filter", "^%s$" % self.args.db,
                   "--addons-path", self.args.addons_path, "--http-interface", "127.0.0.1",
                   "--http-port", str(port), "--gevent-port", str(free_port()), "--workers", str(workers),
                   "--max-cron-threads", "0", "--load", "base,web,queue_job", "--logfile", log,
                   "--limit-time-real", "300", "--limit-time-cpu", "300"]
        with open(log + ".out", "w") as out:  # what does not reach the log file
            self.server = subprocess.Popen(command, env=env, start_new_session=True, stdout=out,
                                           stderr=subprocess.STDOUT)

    def stop_server(self):
        if self.server and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()
        self.server = None

    def drop(self):
        self.stop_server()
        if self.args.keep:
            say("Kept database %s and logs in %s" % (self.args.db, self.logs))
            return
        from odoo.modules.registry import Registry
        from odoo.sql_db import close_db

        Registry.delete(self.args.db)
        close_db(self.args.db)
        subprocess.run([sys.executable, "-m", "odoo", "--addons-path=" + self.args.addons_path, "db", "drop",
                        self.args.db], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    # -- common steps ---------------------------------------------------------
    def create_shop(self, emu, **values):
        from odoo import fields

        with self.registry.cursor() as cr:
            env = self.env(cr)
            shop = env["allegro.shop"].create(dict({
                "name": "Benchmark shop", "environment": "custom", "api_url": emu.url,
                "auth_url": emu.url + "/auth/oauth", "client_key": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "import_start_date": fields.Datetime.now() - timedelta(days=40),
            }, **values))
            tokens = emu.issue_tokens()
            shop.sudo().token_ids.write({"access_token": tokens["access_token"],
                                         "refresh_token": tokens["refresh_token"],
                                         "expires_at": fields.Datetime.now() + timedelta(hours=10)})
            shop.state = "connected"
            return shop.id

    def wait_updates(self, shop_id, timeout, nudge=True):
        """Until no update of the shop is waiting; returns the states counted."""
        from odoo.tools import SQL

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise SystemExit("error: Odoo stopped (logs in %s)" % self.logs)
            with self.registry.cursor() as cr:
                env = self.env(cr)
                counts = dict(env["allegro.update"]._read_group([("shop_id", "=", shop_id)], ["state"],
                                                               ["__count"]))
                if nudge:  # jobs of killed workers are requeued when the runner wakes up
                    cr.execute(SQL("NOTIFY queue_job, %s", cr.dbname))
            if not counts.get("pending"):
                return counts
            time.sleep(1)
        raise SystemExit("error: updates still pending after %d s: %s" % (timeout, counts))

    # -- throughput -----------------------------------------------------------
    def throughput(self):
        from allegro_emulator import AllegroEmulator

        args = self.args
        emu = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=args.seed).start()
        try:
            emu.requests = _NoLog()
            for _ in range(args.updates):
                emu.add_order(status="READY_FOR_PROCESSING")
            shop_id = self.create_shop(emu, confirm_policy="never", unmanaged_policy="placeholder",
                                       placeholder_product_id=self._placeholder())
            say("Importing %d orders (no latency yet)" % args.updates)
            with self.registry.cursor() as cr:
                env = self.env(cr)
                summary = env["allegro.importer"]._run_import(env["allegro.shop"].browse(shop_id))
            say("  %s" % summary["message"].splitlines()[0])
            emu.faults.delay(args.latency, count=None, path_prefix="/order/")
            results = []
            for workers, status in zip(args.workers, ("PROCESSING", "READY_FOR_SHIPMENT", "SENT", "PICKED_UP")):
                with self.registry.cursor() as cr:
                    env = self.env(cr)
                    first_job = env["queue.job"].search([], order="id desc", limit=1).id or 0
                    orders = env["allegro.order"].search([("shop_id", "=", shop_id)])
                    env["allegro.update"]._queue_status(orders, status)
                say("%d workers: sending %d status updates (%s), emulator latency %.0f ms"
                    % (workers, len(orders), status, args.latency * 1000))
                self.start_server(workers)
                counts = self.wait_updates(shop_id, timeout=args.timeout)
                self.stop_server()
                with self.registry.cursor() as cr:
                    jobs = self.env(cr)["queue.job"].search([("id", ">", first_job)])
                    started = min(jobs.mapped("date_started"))
                    ended = max(jobs.mapped("date_done"))
                seconds = (ended - started).total_seconds()
                sent = sum(1 for o in emu.orders if (o.get("fulfillment") or {}).get("status") == status)
                results.append((workers, seconds, len(orders), sent))
                say("  %.1f s, %.1f updates/s, %s; on Allegro with %s: %d"
                    % (seconds, len(orders) / seconds, counts, status, sent))
        finally:
            emu.stop()
        print()
        print("%-8s %10s %12s %8s" % ("workers", "seconds", "updates/s", "sent"))
        for workers, seconds, done, sent in results:
            print("%-8d %10.1f %12.1f %8d" % (workers, seconds, done / seconds, sent))
        if len(results) >= 2:
            print("speed-up %d workers / %d worker: %.2fx (target >= 3x)"
                  % (results[-1][0], results[0][0], results[0][1] / results[-1][1]))

    def _placeholder(self):
        with self.registry.cursor() as cr:
            return self.env(cr)["product.product"].create({"name": "Allegro item", "type": "consu"}).id

    # -- soak -----------------------------------------------------------------
    def soak(self):
        from allegro_emulator import AllegroEmulator

        args = self.args
        emu = AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=args.seed).start()
        rng = random.Random(args.seed)
        try:
            company = {"required": True, "address": {
                "street": "Grunwaldzka 182", "city": "Poznań", "zipCode": "60-166", "countryCode": "PL",
                "company": {"name": "Nowak Sp. z o.o.", "ids": [{"type": "PL_NIP", "value": "5250001233"}],
                            "vatPayerStatus": "ACTIVE"}}}
            forms = [emu.add_order(status="READY_FOR_PROCESSING",
                                   **({"invoice": company} if index % 3 == 0 else {}))
                     for index in range(args.orders)]
            with self.registry.cursor() as cr:
                env = self.env(cr)
                env.ref("allegro_connector.job_function_allegro_update_send").retry_pattern = SOAK_RETRY_PATTERN
                env.ref("allegro_connector.job_function_allegro_shop_import").retry_pattern = SOAK_RETRY_PATTERN
                carrier = env["allegro.carrier"].create({"allegro_ref": "INPOST", "name": "InPost"})
                delivery = env["delivery.carrier"].create({
                    "name": "Kurier InPost", "allegro_carrier_id": carrier.id,
                    "product_id": env["product.product"].create({"name": "InPost", "type": "service"}).id})
                delivery_id = delivery.id
            shop_id = self.create_shop(emu, confirm_policy="paid", unmanaged_policy="placeholder",
                                       placeholder_product_id=self._placeholder(), invoice_policy="delivered",
                                       invoice_post=True)
            emu.duplicate_events = True
            chaos = Chaos(self, emu, rng, kills=args.kills)
            self.start_server(args.soak_workers)
            say("Soak: %d orders, %d workers, faults on, %d kills" % (args.orders, args.soak_workers, args.kills))
            chaos.start()
            imported = self._soak_import(shop_id, len(forms))
            say("  imported %d; confirmations being sent" % imported)
            self.wait_updates(shop_id, timeout=args.timeout)
            say("  shipping every order with a tracking number")
            self._ship_all(shop_id, delivery_id)
            counts = self.wait_updates(shop_id, timeout=args.timeout)
            chaos.stopped.set()
            chaos.join()
            emu.faults.clear()
            self.stop_server()
            lost = self._lost_orders(emu, shop_id, forms)
            duplicates = emu.duplicates()
        finally:
            emu.stop()
        print()
        print("orders: %d, updates: %s, workers killed: %d, faults injected: %s"
              % (len(forms), counts, chaos.killed, chaos.injected))
        print("orders lost: %d" % len(lost))
        for line in lost[:10]:
            print("  %s" % line)
        print("updates duplicated on Allegro: %d (shipments %d, invoice entries %d)"
              % (sum(duplicates.values()), duplicates["shipments"], duplicates["invoices"]))

    def _soak_import(self, shop_id, expected):
        deadline = time.monotonic() + self.args.timeout
        while time.monotonic() < deadline:
            with self.registry.cursor() as cr:
                env = self.env(cr)
                env["allegro.shop"]._cron_fetch_orders()
            time.sleep(3)
            with self.registry.cursor() as cr:
                count = self.env(cr)["allegro.order"].search_count([("shop_id", "=", shop_id)])
            if count >= expected:
                return count
        raise SystemExit("error: %d orders imported of %d" % (count, expected))

    def _ship_all(self, shop_id, delivery_id):
        with self.registry.cursor() as cr:
            env = self.env(cr)
            orders = env["allegro.order"].search([("shop_id", "=", shop_id)])
            for batch in range(0, len(orders), 20):
                for order in orders[batch:batch + 20]:
                    for picking in order.sale_order_id.picking_ids.filtered(lambda p: p.state != "done"):
                        picking.carrier_tracking_ref = "SOAK%s" % order.allegro_ref[:8].upper()
                        picking.carrier_id = delivery_id
                        for move in picking.move_ids:
                            move.quantity = move.product_uom_qty
                        picking.move_ids.picked = True
                        # skip_sms: Odoo would text each buyer through its IAP service.
                        picking.with_context(cancel_backorder=False, skip_sms=True)._action_done()
                cr.commit()

    def _lost_orders(self, emu, shop_id, forms):
        lost = []
        with self.registry.cursor() as cr:
            env = self.env(cr)
            orders = {o.allegro_ref: o for o in env["allegro.order"].search([("shop_id", "=", shop_id)])}
            for form in forms:
                order = orders.get(form["id"])
                remote = emu.get_order(form["id"])
                waybills = [s["waybill"] for s in emu.shipments(form["id"])]
                invoices = emu.invoices(form["id"])
                problem = None
                if not order or not order.sale_order_id:
                    problem = "not imported"
                elif order.update_ids.filtered(lambda p: p.state != "done" and p.state != "cancelled"):
                    problem = "updates not sent: %s" % order.update_ids.filtered(
                        lambda p: p.state != "done").mapped("last_error")
                elif (remote.get("fulfillment") or {}).get("status") != "SENT":
                    problem = "status %s on Allegro" % (remote.get("fulfillment") or {}).get("status")
                elif waybills != ["SOAK%s" % form["id"][:8].upper()]:
                    problem = "shipments on Allegro: %s" % waybills
                elif order.invoice_required and not (invoices and invoices[0]["file"].get("uploadedAt")):
                    problem = "invoice not on Allegro"
                if problem:
                    lost.append("%s: %s" % (form["id"], problem))
        return lost


class Chaos(threading.Thread):
    """Faults injected all through the soak, and workers killed in the
    middle of a job."""

    def __init__(self, bench, emu, rng, kills):
        super().__init__(daemon=True)
        self.bench, self.emu, self.rng = bench, emu, rng
        self.kills_left = kills
        self.killed = 0
        self.injected = {"429 storm": 0, "5xx": 0, "answer lost": 0}
        self.next_kill = time.monotonic() + 5
        self.next_fault = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(0.5):
            self.tick()

    def tick(self):
        """A new fault every 5 to 20 requests served: paced by the traffic,
        so the last few updates see faults as often as the first ones did,
        not an outage made of every fault the clock would add."""
        faults, rng = self.emu.faults, self.rng
        if len(self.emu.requests) >= self.next_fault:
            self.next_fault = len(self.emu.requests) + rng.randint(5, 20)
            kind = rng.choice(("429 storm", "5xx", "answer lost"))
            if kind == "429 storm":
                faults.add(status=429, count=rng.randint(3, 8), path_prefix="/order/", retry_after=1)
            elif kind == "5xx":
                faults.add(status=rng.choice((500, 502, 503)), count=rng.randint(1, 3), path_prefix="/order/",
                           retry_after=0)
            else:
                faults.lose_answer(count=1, path_prefix="/order/checkout-forms/",
                                   method=rng.choice(("POST", "PUT")), status=rng.choice((None, 500)))
            self.injected[kind] += 1
        if self.kills_left and time.monotonic() >= self.next_kill:
            with self.bench.registry.cursor() as cr:
                pids = self.bench.env(cr)["queue.job"].search([("state", "=", "started"),
                                                               ("worker_pid", "!=", False)]).mapped("worker_pid")
            if pids:
                try:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    self.killed += 1
                    self.kills_left -= 1
                except ProcessLookupError:
                    pass
                self.next_kill = time.monotonic() + 8


class _NoLog(list):
    """The emulator's request log, not kept: thousands of requests."""

    def append(self, record):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--db", default="allegro_bench_jobs")
    parser.add_argument("--soak", action="store_true", help="run the fault soak instead of the throughput runs")
    parser.add_argument("--updates", type=int, default=2000, help="status updates per run (default 2000)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the emulator takes per request")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4], help="worker counts (default 1 4)")
    parser.add_argument("--orders", type=int, default=300, help="orders of the soak (default 300)")
    parser.add_argument("--kills", type=int, default=3, help="workers killed during the soak (default 3)")
    parser.add_argument("--soak-workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a phase may take")
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args()
    bench = Bench(args)
    bench.make_database()
    try:
        bench.soak() if args.soak else bench.throughput()
    finally:
        bench.drop()


if __name__ == "__main__":
    main()
