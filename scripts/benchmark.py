#!/usr/bin/env python3
"""Benchmark of the Allegro order import (make bench).

WHAT IT MEASURES
    For each size N (default 1000 and 5000 orders) the first import of a shop
    whose Allegro account holds N orders: the connector's import runs end
    to end (listing of checkout forms over HTTP, allegro.order records, buyers
    and contacts, sale orders, confirmation and pickings, one commit per batch
    of 50), against a PLATFORM BASELINE: plain Odoo ORM code that creates the
    same documents from the same checkout forms (read from the emulator's
    memory, no HTTP) - buyer, delivery contact, invoice contact when the order
    has an invoice address, a sale order with the same lines (product found by
    internal reference, same quantities and gross prices, a delivery line with
    a service product), confirmed with ``action_confirm`` - 50 orders per
    batch, one commit per batch. No connector code runs in the baseline.
    It prints figures; the only checks are sanity checks (the import made one
    confirmed sale order per FILLED_IN / READY_FOR_PROCESSING order).

    THE JOURNAL PATH: the steady state after go-live. A shop whose first
    import is done (on an empty account) gets a burst of ``--journal-orders``
    new orders (default 300, bought over the last 10 minutes, each with its
    journal events), then one ``_run_import()`` follows the journal; timed
    once with the emulator answering at once and once with ``--latency``
    milliseconds added to every request (default 100), each on a fresh copy.
    Printed: orders/s, API requests per order, the speed at the latency over
    the speed at 0 ms (target >= 0.8; requests per order target <= 0.1), and
    the delay from an order's event to its sale order under the default
    schedule (an import every minute): modelled as the wait for the next
    scheduled run (an order's event falls anywhere in the minute) plus when
    the measured run at that latency committed the order's sale order;
    target p95 < 60 s. ``--journal-orders 0`` skips the journal runs.

HOW IT RUNS
    A template database is made once the way ``make test`` makes its database
    (``odoo db init --country PL`` then ``odoo module install l10n_pl
    allegro_connector``). Each run gets its own copy of it (``odoo db
    duplicate``), so the connector and the baseline of each N start from the
    same fresh data. The addon and the emulator are copied at start and run
    from that copy (others may edit the checkout meanwhile; ``--no-snapshot``
    runs the checkout itself). Databases: ``allegro_bench_<N>`` (connector) and
    ``allegro_bench_<N>_baseline``, plus ``allegro_bench_<N>_memory`` for the
    connector's memory run (see below). Each run is a separate Python process
    (same interpreter), so memory figures of one run do not include another's.
    In that process an AllegroEmulator (tests/allegro_emulator) serves N
    seeded orders on 127.0.0.1; the same random seed gives the connector and
    the baseline the same orders. All databases are dropped at the end unless
    ``--keep``.

    make bench                                   # N = 1000 and 5000
    make bench ARGS="--orders 200"               # a quick run
    make bench ARGS="--orders 500 --profile"     # cProfile of the connector run
    scripts/benchmark.py --help                  # all options

HOW TO READ THE FIGURES
    orders/s        sale orders created / wall-clock seconds of the run
                    (connector: the whole _run_import(), HTTP included).
    ratio           connector orders/s / baseline orders/s. Target >= 0.9.
    API req/order   requests the emulator served during the run / N. Target <= 1.1.
    tracemalloc MB  peak of Python allocations made during the connector import
                    (not counting what existed before it: registry, emulator
                    data), measured in a run of its own (see below).
    RSS growth MB   peak resident size during the timed connector run (sampled
                    every 0.1 s) minus the size just before it.
    Memory target   the connector's tracemalloc peak must not grow with N: the
                    peak at the largest N is at most 1.25 x the peak at the
                    smallest N (it would be ~5x for 1000 -> 5000 if it grew
                    linearly).
    tracemalloc slows Python code down 2-4 times, and not evenly (more for
    code that allocates more), so the timed runs go without it and a third run
    per N - the connector import again, on its own fresh copy - gives the
    tracemalloc peak (``--no-tracemalloc`` skips it; RSS is still shown). The
    emulator runs in the measured process and its CPU time (JSON encoding of
    listing pages) is counted in the connector's time; its request log keeps
    (method, route, status) only, so it does not hold response bodies.
    Other work on the machine (tests run by others) disturbs the timings.
"""

import argparse
import gc
import importlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import zlib
from datetime import datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = os.path.join(ROOT, "tests")
BATCH_SIZE = 50  # the baseline's batch, as the connector's
IMPORTED_STATUSES = ("FILLED_IN", "READY_FOR_PROCESSING")  # those that get a sale order
TARGET_RATIO = 0.9
TARGET_API_PER_ORDER = 1.1
TARGET_MEMORY_GROWTH = 1.25  # peak at the largest N / peak at the smallest N
TARGET_JOURNAL_API_PER_ORDER = 0.1
TARGET_LATENCY_RATIO = 0.8  # journal orders/s at the latency / at 0 ms
TARGET_DELAY_P95 = 60.0
TARGET_LIFE_REQUESTS = 6  # requests to Allegro over one order's whole life
SCHEDULE_SECONDS = 60  # the default interval of the import's scheduled action
BASELINE_DELIVERY_CODE = "BENCH-DELIVERY"
MB = 1024 * 1024
JOURNAL_BURST_SECONDS = 600  # the journal run's new orders were bought over the last 10 minutes
LOCK_CLASS = 0x41_6C_65  # first key of the advisory lock that keeps two benchmarks apart


# ----------------------------------------------------------------------------
# Orchestration (the parent process)
# ----------------------------------------------------------------------------

class Runner:
    def __init__(self, args):
        self.args = args
        self.logs = tempfile.mkdtemp(prefix="allegro_bench_")
        self.databases = []
        # The measured runs use a copy of this script, so that editing it
        # during a long benchmark does not change the runs still to come.
        self.script = os.path.join(self.logs, os.path.basename(__file__))
        shutil.copy(os.path.abspath(__file__), self.script)

    def snapshot_addon(self):
        """Run a copy of the addon taken now: others may edit the checkout while
        the benchmark runs, and every database and run must see the same code."""
        paths = self.args.addons_path.split(",")
        if not any(os.path.realpath(path) == os.path.realpath(ROOT) for path in paths):
            return
        snapshot = os.path.join(self.logs, "addons")
        ignore = shutil.ignore_patterns("__pycache__", "*.py[co]")
        shutil.copytree(os.path.join(ROOT, "allegro_connector"), os.path.join(snapshot, "allegro_connector"),
                        ignore=ignore)
        self.args.emulator_dir = os.path.join(self.logs, "emulator")
        shutil.copytree(os.path.join(TESTS_DIR, "allegro_emulator"),
                        os.path.join(self.args.emulator_dir, "allegro_emulator"), ignore=ignore)
        self.args.addons_path = ",".join(
            snapshot if os.path.realpath(path) == os.path.realpath(ROOT) else path for path in paths)
        say("Benchmarking a copy of allegro_connector and of the emulator taken at %s"
            % datetime.now().strftime("%Y-%m-%d %H:%M:%S"))

    def log_file(self, name):
        return os.path.join(self.logs, name + ".log")

    def odoo(self, *cli, log):
        command = [sys.executable, "-m", "odoo", "--addons-path=" + self.args.addons_path, *cli]
        with open(self.log_file(log), "a") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode:
            self.fail("odoo %s failed (%s)" % (" ".join(cli), exit_status(done.returncode)), log)

    def fail(self, message, log):
        with open(self.log_file(log)) as fh:
            tail = fh.readlines()[-40:]
        sys.stderr.write("".join(tail))
        raise SystemExit("error: %s (log: %s)" % (message, self.log_file(log)))

    @staticmethod
    def pg_connect():
        """A connection to the postgres database, with Odoo's connection settings."""
        import psycopg2

        from odoo.tools import config

        config._parse_config([])
        params = {key: config[option] for key, option in (
            ("host", "db_host"), ("port", "db_port"), ("user", "db_user"), ("password", "db_password"))
            if config.get(option)}
        cnx = psycopg2.connect(dbname="postgres", **params)
        cnx.autocommit = True
        return cnx

    def database_exists(self, name):
        cnx = self.pg_connect()
        with cnx.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            found = bool(cur.fetchone())
        cnx.close()
        return found

    def lock(self):
        """One benchmark at a time per database prefix: two would drop each
        other's databases, and disturb each other's timings anyway. The lock
        is a PostgreSQL advisory lock held by a connection kept until exit."""
        self.lock_cnx = self.pg_connect()
        key = (LOCK_CLASS, zlib.crc32(self.args.db_prefix.encode()) & 0x7FFFFFFF)
        with self.lock_cnx.cursor() as cur:
            # Who holds the lock shows as the application name of its connection.
            cur.execute("SELECT set_config('application_name', %s, false)", [
                ("allegro benchmark pid %d, N=%s, since %s" % (
                    os.getpid(), ",".join(map(str, self.args.orders)), datetime.now().strftime("%H:%M")))[:63]])
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            if not cur.fetchone()[0]:
                cur.execute("""SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                                WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s""",
                            [key[0], key[1]])
                holder = cur.fetchone()
                say("Waiting for another benchmark using the %s_* databases to end (%s)"
                    % (self.args.db_prefix, holder[0] if holder else "unknown"))
                while True:  # polled, so that a signal can stop the wait
                    time.sleep(2)
                    cur.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
                    if cur.fetchone()[0]:
                        break

    def make_template(self):
        template = self.args.db_prefix + "_template"
        if not self.args.reuse_template:
            self.databases.append(template)
        if self.args.reuse_template and self.database_exists(template):
            say("Reusing the template database %s (upgrading allegro_connector in it)" % template)
            self.odoo("module", "upgrade", "-d", template, "allegro_connector", log="template")
        else:
            say("Template database %s: a Polish company with l10n_pl and allegro_connector" % template)
            started = time.perf_counter()
            self.odoo("db", "init", "--country", "PL", "--force", template, log="template")
            self.odoo("module", "install", "-d", template, "l10n_pl", "allegro_connector", log="template")
            say("  ready in %.0f s" % (time.perf_counter() - started))
        return template

    def copy(self, template, name):
        self.databases.append(name)
        self.odoo("db", "duplicate", "--force", template, name, log=name)

    def worker(self, mode, db, orders, profile=False, trace=False, latency=None):
        result = os.path.join(self.logs, db + ".json")
        command = [sys.executable, self.script, "--worker", mode, "--db", db,
                   "--orders", str(orders), "--seed", str(self.args.seed), "--days", str(self.args.days),
                   "--addons-path", self.args.addons_path, "--baseline", self.args.baseline,
                   "--result", result, "--emulator-dir", self.args.emulator_dir,
                   "--latency", str(self.args.latency)]
        if latency is not None:
            command[command.index("--latency") + 1] = str(latency)
        if trace:
            command.append("--tracemalloc")
        if profile:
            command.append("--profile")
        with open(self.log_file(db), "a") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode or not os.path.exists(result):
            self.fail("the %s run on %s failed (%s)" % (mode, db, exit_status(done.returncode)), db)
        with open(result) as fh:
            return json.load(fh)

    def drop_all(self):
        if self.args.keep:
            if self.databases:
                say("Kept databases: %s" % ", ".join(self.databases))
            return
        for db in self.databases:
            command = [sys.executable, "-m", "odoo", "--addons-path=" + self.args.addons_path, "db", "drop", db]
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    def run(self):
        args = self.args
        results = []
        journals = []
        life = None
        try:
            self.lock()
        except BaseException:
            shutil.rmtree(self.logs, ignore_errors=True)  # nothing worth keeping yet
            raise
        if not args.no_snapshot:
            self.snapshot_addon()
        try:
            template = self.make_template()
            # The timed runs first, the slow runs under tracemalloc last: a
            # run stopped half-way still prints the speed figures.
            for n in args.orders:
                connector_db = "%s_%d" % (args.db_prefix, n)
                self.copy(template, connector_db)
                say("N=%d: connector import on %s%s" % (n, connector_db, " (profiled)" if args.profile else ""))
                connector = self.worker("connector", connector_db, n, profile=args.profile)
                print_connector(connector)
                baseline = None
                if not args.profile:
                    baseline_db = connector_db + "_baseline"
                    self.copy(template, baseline_db)
                    say("N=%d: platform baseline on %s" % (n, baseline_db))
                    baseline = self.worker("baseline", baseline_db, n)
                    print_baseline(baseline)
                results.append((n, connector, baseline))
            if args.journal_orders and not args.profile:
                for latency in (0, args.latency):
                    journal_db = "%s_journal_%dms" % (args.db_prefix, latency)
                    self.copy(template, journal_db)
                    say("Journal path: %d new orders, %d ms per request, on %s"
                        % (args.journal_orders, latency, journal_db))
                    journal = self.worker("journal", journal_db, args.journal_orders, latency=latency)
                    print_connector(journal)
                    journals.append((latency, journal))
            if args.life_orders and not args.profile:
                life_db = "%s_life" % args.db_prefix
                self.copy(template, life_db)
                say("An order's life: %d orders from import to invoice file, on %s" % (args.life_orders, life_db))
                life = self.worker("life", life_db, args.life_orders)
                print_life(life)
            for n, connector, _baseline in results:
                if args.profile or args.no_tracemalloc:
                    break
                memory_db = "%s_%d_memory" % (args.db_prefix, n)
                self.copy(template, memory_db)
                say("N=%d: connector import again under tracemalloc on %s" % (n, memory_db))
                traced = self.worker("connector", memory_db, n, trace=True)
                print_connector(traced)
                connector["tracemalloc_peak"] = traced["tracemalloc_peak"]
                connector["problems"] += traced["problems"]
        except BaseException:
            if results and not args.profile:
                print("\nStopped before the end; the figures measured so far:")
                print_table(results, args)
            raise
        finally:
            self.drop_all()
        if args.profile:
            for n, connector, _baseline in results:
                print("\ncProfile of the connector import, N=%d (%.1f s under the profiler)\n"
                      % (n, connector["seconds"]))
                print(connector["profile"])
            if args.keep:
                say("Raw profiles (python -m pstats FILE): %s" % os.path.join(self.logs, "*.prof"))
        else:
            print_table(results, args)
            print_journal(journals, args)
            if life:
                print_life_target(life)
        if not args.keep:
            shutil.rmtree(self.logs, ignore_errors=True)
        else:
            say("Logs (and the copy of the addon): %s" % self.logs)


def exit_status(code):
    if code is not None and code < 0:
        try:
            return "killed by %s" % signal.Signals(-code).name
        except ValueError:
            return "killed by signal %d" % -code
    return "exit status %s" % code


def say(text):
    print("==> " + text, flush=True)


def print_connector(r):
    run = r["import_run"]
    print("    %d sale orders (expected %d, %d confirmed, %d pickings) in %.1f s; "
          "%d allegro.order, %d in error, %d held"
          % (r["sale_orders"], r["expected"], r["confirmed"], r["pickings"], r["seconds"],
             r["allegro_orders"], r["allegro_errors"], r["allegro_held"]))
    print("    import run: kind=%s state=%s new=%d updated=%d unchanged=%d failed=%d api_calls=%d duration=%.1f s"
          % (run["kind"], run["state"], run["orders_new"], run["orders_updated"], run["orders_unchanged"],
             run["orders_failed"], run["api_calls"], run["duration"]))
    print("    emulator requests: %d (%s)" % (r["requests"], ", ".join(
        "%s %d" % (route, count) for route, count in sorted(r["requests_by_route"].items()))))
    if r["updates_queued"]:
        print("    queued for Allegro by the import (sent later by a scheduled action, not counted above): %s"
              % ", ".join("%s %d" % item for item in sorted(r["updates_queued"].items())))
    if run["message"] and run["state"] != "done":
        print("    message: %s" % run["message"])
    print_drift(r)
    print_memory(r)
    for problem in r["problems"]:
        print("    SANITY CHECK FAILED: " + problem)


def print_baseline(r):
    print("    %d sale orders (expected %d, %d confirmed, %d pickings) in %.1f s, style %s"
          % (r["sale_orders"], r["expected"], r["confirmed"], r["pickings"], r["seconds"], r["style"]))
    print_drift(r)
    print_memory(r)
    for problem in r["problems"]:
        print("    SANITY CHECK FAILED: " + problem)


def print_drift(r):
    if r["rate_first_fifth"] and r["rate_last_fifth"]:
        print("    orders/s over the first fifth of the orders %.1f, over the last fifth %.1f"
              % (r["rate_first_fifth"], r["rate_last_fifth"]))


def print_memory(r):
    peak = "%.1f MB" % (r["tracemalloc_peak"] / MB) if r["tracemalloc_peak"] is not None else "off"
    print("    memory: tracemalloc peak %s; RSS %.0f MB before, %.0f MB peak, %.0f MB after (ru_maxrss %.0f MB)"
          % (peak, r["rss_before"] / MB, r["rss_peak"] / MB, r["rss_after"] / MB, r["ru_maxrss"] / MB))


def print_table(results, args):
    rows = []
    for n, c, b in results:
        ratio = c["orders_per_s"] / b["orders_per_s"] if b and b["orders_per_s"] else None
        rows.append({
            "n": n, "c": c["orders_per_s"], "b": b and b["orders_per_s"], "ratio": ratio,
            "api": c["requests"] / n if n else 0.0,
            "peak": c["tracemalloc_peak"] / MB if c["tracemalloc_peak"] is not None else None,
            "rss": (c["rss_peak"] - c["rss_before"]) / MB, "seconds": c["seconds"],
            "b_rss": b and (b["rss_peak"] - b["rss_before"]) / MB, "b_seconds": b and b["seconds"],
        })

    def fmt(value, spec):
        return "-" if value is None or value is False else format(value, spec)

    print()
    print("Allegro order import benchmark - seed %d, orders bought over the last %d days, baseline style %s,"
          % (args.seed, args.days, args.baseline))
    print("one fresh copy of the same template database per run; orders/s and RSS from runs without tracemalloc,")
    print("tracemalloc peak from %s" % ("(skipped: --no-tracemalloc)" if args.no_tracemalloc
                                       else "a separate connector run under tracemalloc"))
    print()
    header = ("N", "conn. orders/s", "base. orders/s", "ratio", "API req/order", "tracemalloc MB",
              "RSS growth MB", "duration s")
    lines = [(str(r["n"]), fmt(r["c"], ".1f"), fmt(r["b"], ".1f"), fmt(r["ratio"], ".2f"), fmt(r["api"], ".3f"),
              fmt(r["peak"], ".1f"), fmt(r["rss"], ".1f"), fmt(r["seconds"], ".1f")) for r in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in lines:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |")
    print()
    print("Baseline runs: " + "; ".join(
        "N=%d %s s, RSS growth %s MB" % (r["n"], fmt(r["b_seconds"], ".1f"), fmt(r["b_rss"], ".1f"))
        for r in rows))
    print()
    print("Targets:")
    for r in rows:
        if r["ratio"] is not None:
            print("  N=%-6d ratio connector/baseline %.2f >= %.1f: %s"
                  % (r["n"], r["ratio"], TARGET_RATIO, met(r["ratio"] >= TARGET_RATIO)))
    for r in rows:
        print("  N=%-6d API requests per order %.3f <= %.1f: %s"
              % (r["n"], r["api"], TARGET_API_PER_ORDER, met(r["api"] <= TARGET_API_PER_ORDER)))
    peaks = [(r["n"], r["peak"]) for r in rows if r["peak"] is not None]
    if len({n for n, _ in peaks}) >= 2:
        (n_small, small), (n_large, large) = min(peaks), max(peaks)
        growth = large / small if small else float("inf")
        print("  memory not growing with N: tracemalloc peak %.1f MB at N=%d vs %.1f MB at N=%d"
              " (x%.2f, limit x%.2f): %s"
              % (large, n_large, small, n_small, growth, TARGET_MEMORY_GROWTH, met(growth <= TARGET_MEMORY_GROWTH)))
    else:
        print("  memory not growing with N: needs the tracemalloc runs and two sizes (e.g. --orders 1000 5000)")
    problems = [p for _n, c, b in results for p in c["problems"] + (b["problems"] if b else [])]
    print("Sanity checks: %s" % ("FAILED: " + "; ".join(problems) if problems else "passed"))


def journal_requests_per_order(r):
    """Per order of the burst: every one became an Allegro order, not every one a sale order."""
    return r["requests"] / max(r["allegro_orders"], 1)


def print_journal(journals, args):
    if not journals:
        return
    print()
    print("Journal path - a burst of %d new orders after go-live, read by one import run:" % args.journal_orders)
    by_latency = dict(journals)
    for latency, r in journals:
        print("  %4d ms per request: %.1f sale orders/s, %d requests (%.3f per new order), run %.1f s"
              % (latency, r["orders_per_s"], r["requests"], journal_requests_per_order(r), r["seconds"]))
    print("Targets:")
    for latency, r in journals:
        per_order = journal_requests_per_order(r)
        print("  %4d ms: API requests per order %.3f <= %.1f: %s"
              % (latency, per_order, TARGET_JOURNAL_API_PER_ORDER, met(per_order <= TARGET_JOURNAL_API_PER_ORDER)))
    slow, fast = by_latency.get(args.latency), by_latency.get(0)
    if slow and fast and fast["orders_per_s"] and args.latency:
        ratio = slow["orders_per_s"] / fast["orders_per_s"]
        print("  speed at %d ms / at 0 ms %.2f >= %.1f: %s"
              % (args.latency, ratio, TARGET_LATENCY_RATIO, met(ratio >= TARGET_LATENCY_RATIO)))
    if slow and slow.get("delay_p95") is not None:
        print("  event -> sale order under a %d s schedule at %d ms: median %.1f s, p95 %.1f s < %.0f s: %s"
              % (SCHEDULE_SECONDS, args.latency, slow["delay_p50"], slow["delay_p95"], TARGET_DELAY_P95,
                 met(slow["delay_p95"] < TARGET_DELAY_P95)))


def print_life(r):
    print("    %d orders: %d requests in all, %.2f per order (%s)" % (
        r["orders"], r["requests"], r["requests"] / r["orders"],
        ", ".join("%s %d" % item for item in sorted(r["requests_by_route"].items()))))
    for problem in r["problems"]:
        print("    SANITY CHECK FAILED: " + problem)


def print_life_target(r):
    per_order = r["requests"] / r["orders"]
    print()
    print("An order's life - import, PROCESSING, shipment, SENT, invoice entry and file, with an import")
    print("every step as the schedule runs it (%d orders, the update jobs performed as the runner would):"
          % r["orders"])
    print("  requests per order over its life %.2f <= %d: %s" % (per_order, TARGET_LIFE_REQUESTS,
                                                              met(per_order <= TARGET_LIFE_REQUESTS)))


def met(ok):
    return "met" if ok else "NOT MET"


# ----------------------------------------------------------------------------
# One measured run (a child process)
# ----------------------------------------------------------------------------

class _SlimRequestLog(list):
    """emu.requests keeping (method, route, status) rather than whole records
    with response bodies, which would otherwise pile up in the measured process."""

    def append(self, record):
        super().append((record["method"], record["route"], record["status"]))


def current_rss():
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()
    except OSError:
        try:
            import psutil
        except ImportError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return psutil.Process().memory_info().rss


class Measure:
    """Wall time, tracemalloc peak and RSS (sampled) of the enclosed block."""

    def __init__(self, trace):
        self.trace = trace
        self.peak_rss = 0
        self._stop = threading.Event()

    def _sample(self):
        while not self._stop.wait(0.1):
            self.peak_rss = max(self.peak_rss, current_rss())

    def __enter__(self):
        gc.collect()
        self.rss_before = self.peak_rss = current_rss()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        if self.trace:
            tracemalloc.start()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        self.tracemalloc_peak = tracemalloc.get_traced_memory()[1] if self.trace else None
        if self.trace:
            tracemalloc.stop()
        self._stop.set()
        self._sampler.join()
        self.rss_after = current_rss()
        self.peak_rss = max(self.peak_rss, self.rss_after)

    def figures(self, sale_orders):
        return {
            "seconds": self.seconds,
            "orders_per_s": sale_orders / self.seconds if self.seconds else 0.0,
            "tracemalloc_peak": self.tracemalloc_peak,
            "rss_before": self.rss_before,
            "rss_peak": self.peak_rss,
            "rss_after": self.rss_after,
            "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }


def start_odoo(addons_path, db):
    importlib.import_module("odoo.init")  # core setup first, as odoo's own command line does
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(["--addons-path=" + addons_path, "-d", db, "--log-level=warn"], setup_logging=True)
    return Registry(db)


def start_emulator(args):
    sys.path.insert(0, args.emulator_dir)
    from allegro_emulator import AllegroEmulator

    emu = AllegroEmulator(client_id="bench-client", client_secret="bench-secret", random_seed=args.seed)
    emu.start(host="127.0.0.1", port=0)
    emu.requests = _SlimRequestLog()
    if args.worker not in ("journal", "life"):  # these runs add their orders after go-live
        emu.seed_orders(args.orders, days=args.days)
    return emu


def create_products(env, emu):
    """One storable product per offer: SKU as internal reference, EAN as barcode."""
    env["product.product"].create([
        {
            "name": offer["name"],
            "type": "consu",
            "is_storable": True,
            "default_code": offer["external"]["id"],
            "barcode": offer["ean"],
            "list_price": float(offer["price"]["amount"]),
        }
        for offer in emu.offers
    ])


def expected_forms(emu):
    """The checkout forms that must give a sale order, newest first as the listing."""
    forms = [form for form in emu.store.orders.values() if form["status"] in IMPORTED_STATUSES]
    forms.sort(key=lambda form: max(li["boughtAt"] for li in form["lineItems"]), reverse=True)
    return forms


def throughput_drift(orders):
    """Orders/s over the first and the last fifth of the orders. create_date is
    the start of the transaction, i.e. of the batch, so this is per batch."""
    dates = sorted(orders.mapped("create_date"))
    k = len(dates) // 5
    if k < 2 * BATCH_SIZE:
        return None, None

    def rate(start, end):
        seconds = (dates[end] - dates[start]).total_seconds()
        return (end - start) / seconds if seconds > 0 else None

    return rate(0, k), rate(len(dates) - 1 - k, len(dates) - 1)


def sale_order_checks(env, orders, expected, problems):
    confirmed = len(orders.filtered(lambda o: o.state == "sale"))
    if len(orders) != expected:
        problems.append("%d sale orders instead of %d" % (len(orders), expected))
    if confirmed != len(orders):
        problems.append("%d of %d sale orders not confirmed" % (len(orders) - confirmed, len(orders)))
    pickings = env["stock.picking"].search_count([("sale_id", "in", orders.ids)])
    first, last = throughput_drift(orders)
    return {"sale_orders": len(orders), "expected": expected, "confirmed": confirmed, "pickings": pickings,
            "rate_first_fifth": first, "rate_last_fifth": last}


def create_shop(env, emu, args):
    """A connected shop importing everything the emulator holds."""
    from odoo import fields

    shop = env["allegro.shop"].create({
        "name": "Benchmark shop",
        "environment": "custom",
        "api_url": emu.url,
        "auth_url": emu.url + "/auth/oauth",
        "client_key": emu.client_id,
        "client_secret": emu.client_secret,
        "confirm_policy": "always",
            "import_start_date": fields.Datetime.now() - timedelta(days=args.days + 1),
    })
    tokens = emu.issue_tokens()
    shop.sudo().token_ids.write({
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": fields.Datetime.now() + timedelta(hours=5),
    })
    shop.state = "connected"
    return shop


def run_connector(args, registry, emu):
    import odoo.api

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        create_products(env, emu)
        shop = create_shop(env, emu, args)
        cr.commit()
        if args.worker == "journal":
            # Go-live on an empty account, then the burst arrives.
            if shop.env["allegro.importer"]._run_import(shop)["state"] != "done":
                raise RuntimeError("the first import of the empty account failed")
            emu.seed_orders(args.orders, days=JOURNAL_BURST_SECONDS / 86400)
            emu.latency = args.latency / 1000.0
        expected = len(expected_forms(emu))
        emu.reset_requests()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
        started_at = datetime.utcnow()
        with Measure(trace=args.tracemalloc) as measure:
            if profiler:
                profiler.enable()
            # Run after run as the jobs the import queues for itself would.
            summary = shop.env["allegro.importer"]._run_import_slice(shop)
            while summary["state"] == "continues":
                summary = shop.env["allegro.importer"]._run_import_slice(shop)
            if profiler:
                profiler.disable()
        requests = list(emu.requests)

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        problems = []
        if summary["state"] != "done":
            problems.append("import %s: %s" % (summary["state"], summary["message"]))
        orders = env["sale.order"].search([("allegro_shop_id", "=", shop.id)])
        result = sale_order_checks(env, orders, expected, problems)
        allegro_orders = env["allegro.order"].search([("shop_id", "=", shop.id)])
        run = env["allegro.import.run"].search([("shop_id", "=", shop.id)], limit=1)
        queued = {}
        if "allegro.update" in env:  # updates for Allegro queued for a later scheduled action
            for update in env["allegro.update"].search([("shop_id", "=", shop.id)]):
                key = "%s %s" % (update.kind, update.fulfillment_status or "")
                queued[key.strip()] = queued.get(key.strip(), 0) + 1
        by_route = {}
        for method, route, _status in requests:
            key = "%s %s" % (method, route)
            by_route[key] = by_route.get(key, 0) + 1
        result.update(measure.figures(result["sale_orders"]))
        if args.worker == "journal":
            result.update(schedule_delays(orders, started_at))
        result.update({
            "problems": problems,
            "requests": len(requests),
            "requests_by_route": by_route,
            "updates_queued": queued,
            "allegro_orders": len(allegro_orders),
            "allegro_errors": len(allegro_orders.filtered(lambda o: o.sync_state == "error")),
            "allegro_held": len(allegro_orders.filtered(lambda o: o.sync_state == "held")),
            "import_run": {name: run[name] for name in (
                "kind", "state", "orders_new", "orders_updated", "orders_unchanged", "orders_failed",
                "api_calls", "duration", "message")},
        })
    if profiler:
        result["profile"] = profile_report(profiler)
        profiler.dump_stats(os.path.splitext(args.result)[0] + ".prof")
    return result


def perform_due_jobs(env):
    """What queue_job's runner and controller do with the connector's due
    jobs, one after the other: each performed and committed on its own."""
    from odoo.addons.queue_job.job import Job

    while True:
        records = env["queue.job"].search([("state", "=", "pending"), ("channel", "=like", "root.allegro%")],
                                          order="date_created, id")
        if not records:
            return
        for record in records:
            job = Job.load(env, record.uuid)
            job.set_started()
            job.store()
            env.cr.commit()
            job.perform()
            job.set_done()
            job.store()
            env.cr.commit()


def run_life(args, registry, emu):
    """An order's life after go-live, counting every request to Allegro:
    the burst imported and confirmed (PROCESSING), its deliveries validated
    with a tracking number (shipment, SENT), its invoices made and posted
    when paid (entry and file), with an import run between the steps as the
    one-minute schedule would."""
    import socket

    import odoo.api
    import odoo.http
    from odoo.service.server import ThreadedServer
    from odoo.tools import config

    # Invoice PDFs are rendered with the web assets Odoo serves: serve them.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        config["http_interface"], config["http_port"] = "127.0.0.1", probe.getsockname()[1]
    ThreadedServer(odoo.http.root).http_spawn()
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {"skip_sms": True})
        env["ir.config_parameter"].set_param("report.url", "http://127.0.0.1:%d" % config["http_port"])
        create_products(env, emu)
        shop = create_shop(env, emu, args)
        inpost = env["allegro.carrier"].create({"allegro_ref": "INPOST", "name": "InPost"})
        carrier = env["delivery.carrier"].create({
            "name": "Kurier InPost", "allegro_carrier_id": inpost.id,
            "product_id": env["product.product"].create({"name": "InPost", "type": "service"}).id})
        shop.write({"invoice_policy": "delivered", "invoice_post": True})
        cr.commit()
        if shop.env["allegro.importer"]._run_import(shop)["state"] != "done":
            raise RuntimeError("the first import of the empty account failed")
        for _n in range(args.orders):
            # Company buyers, who ask for an invoice: it goes to Allegro too.
            emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE", "provider": "P24"},
                          invoice={"required": True, "address": {"company": {}}})
        emu.reset_requests()
        shop.env["allegro.importer"]._run_import(shop)  # the burst: sale orders confirmed, PROCESSING queued
        perform_due_jobs(env)
        shop.env["allegro.importer"]._run_import(shop)  # the journal brings PROCESSING's revision
        pickings = env["sale.order"].search([("allegro_shop_id", "=", shop.id)]).picking_ids
        for number, picking in enumerate(pickings.filtered(lambda p: p.state not in ("done", "cancel")), 1):
            picking.write({"carrier_id": carrier.id, "carrier_tracking_ref": "LIFE%08d" % number})
            for move in picking.move_ids:
                move.quantity = move.product_uom_qty
            picking.move_ids.picked = True
            picking.with_context(cancel_backorder=False)._action_done()  # shipment, SENT, invoice
            cr.commit()
        perform_due_jobs(env)
        shop.env["allegro.importer"]._run_import(shop)
        requests = list(emu.requests)
        updates = env["allegro.update"].search([("shop_id", "=", shop.id)])
        problems = []
        orders = env["allegro.order"].search([("shop_id", "=", shop.id)])
        if len(orders) != args.orders:
            problems.append("%d orders imported instead of %d" % (len(orders), args.orders))
        for kind, wanted in (("status", 2), ("shipment", 1), ("invoice", 1)):
            sent = len(updates.filtered(lambda p, kind=kind: p.kind == kind and p.state == "done"))
            if sent != wanted * args.orders:
                problems.append("%d %s updates sent instead of %d" % (sent, kind, wanted * args.orders))
        if updates.filtered(lambda p: p.state != "done"):
            problems.append("%d updates not sent" % len(updates.filtered(lambda p: p.state != "done")))
        by_route = {}
        for method, route, _status in requests:
            key = "%s %s" % (method, route)
            by_route[key] = by_route.get(key, 0) + 1
    return {"orders": args.orders, "requests": len(requests), "requests_by_route": by_route, "problems": problems}


def schedule_delays(orders, started_at):
    """Delay from an order's event to its sale order under an import every
    SCHEDULE_SECONDS, the burst arriving within the interval before a run:
    the wait for that run (the events spread evenly over the interval, the
    earliest waiting longest and imported first, as the run follows the
    journal's order) plus when the measured run committed the order
    (create_date is its batch's transaction start, so this is a little early
    by one batch's time; the run's end bounds it)."""
    if not orders:
        return {"delay_p50": None, "delay_p95": None}
    offsets = sorted((o.create_date - started_at).total_seconds() for o in orders)
    waits = [SCHEDULE_SECONDS * (i + 0.5) / len(offsets) for i in range(len(offsets))]
    delays = sorted(w + max(offset, 0.0) for w, offset in zip(waits, reversed(offsets)))

    def pick(q):
        return delays[min(len(delays) - 1, int(q * len(delays)))]

    return {"delay_p50": pick(0.5), "delay_p95": pick(0.95)}


def profile_report(profiler):
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative")
    out.write("Top functions of allegro_connector by cumulative time:\n")
    stats.print_stats(r"[/\\]allegro_connector[/\\]", 30)
    out.write("\nTop functions overall by own time:\n")
    stats.sort_stats("tottime").print_stats(25)
    return out.getvalue()


# -- the baseline: plain ORM, no connector code -------------------------------

class Baseline:
    """Sale orders from checkout forms with plain ORM calls."""

    def __init__(self, env, style):
        self.env = env
        self.style = style
        self.company = env.company
        self.warehouse = env["stock.warehouse"].search([("company_id", "=", self.company.id)], limit=1)
        self.delivery_product = env["product.product"].search([("default_code", "=", BASELINE_DELIVERY_CODE)])
        self.countries = {}
        self.pricelists = {}
        self.gross_taxes = {}

    def country(self, code):
        if code not in self.countries:
            self.countries[code] = self.env["res.country"].search([("code", "=", code.upper())], limit=1).id
        return self.countries[code]

    def pricelist(self, currency_code):
        if currency_code not in self.pricelists:
            currency = self.env["res.currency"].with_context(active_test=False).search(
                [("name", "=", currency_code)], limit=1)
            currency.active = True
            Pricelist = self.env["product.pricelist"]
            self.pricelists[currency_code] = Pricelist.search(
                [("currency_id", "=", currency.id), ("company_id", "in", [self.company.id, False])], limit=1
            ) or Pricelist.create({"name": "Baseline " + currency_code, "currency_id": currency.id,
                                   "company_id": self.company.id})
        return self.pricelists[currency_code]

    def taxes(self, product):
        """Price-included taxes: the prices of the forms are gross."""
        result = self.env["account.tax"]
        for tax in product.taxes_id.filtered(lambda t: t.company_id == self.company):
            if tax.price_include:
                result |= tax
                continue
            if tax.id not in self.gross_taxes:
                self.gross_taxes[tax.id] = tax.copy({"name": tax.name + " (gross)",
                                                     "price_include_override": "tax_included"})
            result |= self.gross_taxes[tax.id]
        return result

    def address(self, address):
        return {"street": address.get("street"), "zip": address.get("zipCode"), "city": address.get("city"),
                "country_id": address.get("countryCode") and self.country(address["countryCode"])}

    def contact(self, parent, kind, values, existing_parent):
        Partner = self.env["res.partner"].with_context(mail_create_nolog=True)
        if existing_parent:
            found = Partner.search([("parent_id", "=", parent.id), ("type", "=", kind),
                                    ("street", "=", values["street"]), ("name", "=", values["name"])], limit=1)
            if found:
                return found
        return Partner.create(dict(values, parent_id=parent.id, type=kind, company_id=self.company.id))

    def partners(self, form):
        Partner = self.env["res.partner"].with_context(mail_create_nolog=True)
        buyer_data = form["buyer"]
        delivery = form.get("delivery") or {}
        address = delivery.get("address") or {}
        buyer_name = " ".join(filter(None, (buyer_data.get("firstName"), buyer_data.get("lastName"))))
        buyer = Partner.search([("ref", "=", buyer_data["id"]), ("parent_id", "=", False),
                                ("company_id", "in", [self.company.id, False])], limit=1)
        existing = bool(buyer)
        if not buyer:
            buyer = Partner.create(dict(
                self.address(address),
                name=buyer_data.get("companyName") or buyer_name or buyer_data.get("login"),
                is_company=bool(buyer_data.get("companyName")),
                email=buyer_data.get("email"),
                phone=buyer_data.get("phoneNumber"),
                ref=buyer_data["id"],
                company_id=self.company.id,
            ))
        recipient = " ".join(filter(None, (address.get("firstName"), address.get("lastName"))))
        company_name = address.get("companyName")
        shipping = self.contact(buyer, "delivery", dict(
            self.address(address),
            name=company_name and recipient and "%s, %s" % (company_name, recipient) or company_name
            or recipient or buyer.name,
            phone=address.get("phoneNumber"),
        ), existing)
        invoice_partner = buyer
        invoice_address = (form.get("invoice") or {}).get("address")
        if invoice_address:
            company = invoice_address.get("company") or {}
            person = invoice_address.get("naturalPerson") or {}
            vat = company.get("taxId")
            if vat and vat[:1].isdigit():
                vat = invoice_address.get("countryCode", "") + vat
            invoice_partner = self.contact(buyer, "invoice", dict(
                self.address(invoice_address),
                name=company.get("name") or " ".join(filter(None, (person.get("firstName"), person.get("lastName"))))
                or buyer.name,
                vat=vat or False,
            ), existing)
        return buyer, invoice_partner, shipping

    def order_values(self, form):
        from odoo import Command

        buyer, invoice_partner, shipping = self.partners(form)
        lines = []
        for item in form["lineItems"]:
            offer = item["offer"]
            sku = (offer.get("external") or {}).get("id")
            product = self.env["product.product"].search([("default_code", "=", sku)], limit=1)
            lines.append(Command.create({
                "product_id": product.id,
                "name": "[%s] %s" % (sku, offer["name"]),
                "product_uom_qty": item["quantity"],
                "price_unit": float(item["price"]["amount"]),
                "tax_ids": [Command.set(self.taxes(product).ids)],
            }))
        delivery = form.get("delivery") or {}
        lines.append(Command.create({
            "product_id": self.delivery_product.id,
            "name": (delivery.get("method") or {}).get("name") or self.delivery_product.name,
            "product_uom_qty": 1,
            "price_unit": float((delivery.get("cost") or {}).get("amount") or 0),
            "tax_ids": [Command.set(self.taxes(self.delivery_product).ids)],
            "is_delivery": True,
        }))
        bought_at = min(item["boughtAt"] for item in form["lineItems"])
        return {
            "partner_id": buyer.id,
            "partner_invoice_id": invoice_partner.id,
            "partner_shipping_id": shipping.id,
            "company_id": self.company.id,
            "warehouse_id": self.warehouse.id,
            "pricelist_id": self.pricelist(form["summary"]["totalToPay"]["currency"]).id,
            "date_order": datetime.strptime(bought_at[:19], "%Y-%m-%dT%H:%M:%S"),
            "client_order_ref": form["id"],
            "origin": "Allegro %s" % form["buyer"].get("login", ""),
            "order_line": lines,
        }

    def post_message(self, order, form):
        if form.get("messageToSeller"):
            order.message_post(body="Message from the buyer: %s" % form["messageToSeller"],
                               subtype_xmlid="mail.mt_note")

    def run(self, forms):
        SaleOrder = self.env["sale.order"].with_context(mail_create_nolog=True)
        created = 0
        for start in range(0, len(forms), BATCH_SIZE):
            batch = forms[start:start + BATCH_SIZE]
            if self.style == "batch":  # create 50, then confirm the 50 at once
                orders = SaleOrder.create([self.order_values(form) for form in batch])
                for order, form in zip(orders, batch):
                    self.post_message(order, form)
                orders.action_confirm()
            else:  # one order at a time, as the connector does
                for form in batch:
                    order = SaleOrder.create(self.order_values(form))
                    self.post_message(order, form)
                    order.action_confirm()
            created += len(batch)
            self.env.cr.commit()
        return created


def run_baseline(args, registry, emu):
    import odoo.api

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        create_products(env, emu)
        env["product.product"].create({"name": "Delivery", "type": "service", "sale_ok": True,
                                       "default_code": BASELINE_DELIVERY_CODE, "invoice_policy": "order"})
        cr.commit()
        forms = expected_forms(emu)
        baseline = Baseline(env, args.baseline)
        with Measure(trace=args.tracemalloc) as measure:
            baseline.run(forms)

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.api.SUPERUSER_ID, {})
        problems = []
        orders = env["sale.order"].search([("client_order_ref", "in", [form["id"] for form in forms])])
        result = sale_order_checks(env, orders, len(forms), problems)
        result.update(measure.figures(result["sale_orders"]))
        result.update({"problems": problems, "style": args.baseline})
    return result


def worker(args):
    registry = start_odoo(args.addons_path, args.db)
    emu = start_emulator(args)
    try:
        run = {"baseline": run_baseline, "life": run_life}.get(args.worker, run_connector)
        result = run(args, registry, emu)
    finally:
        emu.stop()
    with open(args.result, "w") as fh:
        json.dump(result, fh, default=str)


# ----------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Measure the Allegro order import against plain Odoo ORM code (see the top of this file).")
    parser.add_argument("--orders", type=int, nargs="+", default=[1000, 5000], metavar="N",
                        help="order counts to measure (default: 1000 5000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the emulator's orders (default 42)")
    parser.add_argument("--days", type=int, default=10,
                        help="orders are bought over the last DAYS days (default 10); the shop imports DAYS+1")
    parser.add_argument("--baseline", choices=("batch", "per-order"), default="batch",
                        help="baseline style: create and confirm 50 orders at once (default), or order by order")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--reuse-template", action="store_true",
                        help="reuse the template database of an earlier --keep run when it exists, and keep it")
    parser.add_argument("--db-prefix", default="allegro_bench", help="database names prefix (default allegro_bench)")
    parser.add_argument("--no-snapshot", action="store_true",
                        help="run the addon from the checkout instead of a copy taken at start")
    parser.add_argument("--no-tracemalloc", action="store_true",
                        help="skip the connector's extra run under tracemalloc (no tracemalloc peak)")
    parser.add_argument("--profile", action="store_true",
                        help="profile the connector run with cProfile and print its hot spots (no baseline)")
    parser.add_argument("--addons-path", required=True,
                        help="Odoo's addons, then this project (make bench passes it)")
    # Internal: one measured run in a child process.
    parser.add_argument("--journal-orders", type=int, default=300, metavar="N",
                        help="new orders of the journal path runs (default 300; 0 skips them)")
    parser.add_argument("--latency", type=int, default=100, metavar="MS",
                        help="milliseconds the emulator adds to each request in the second journal run (default 100)")
    parser.add_argument("--life-orders", type=int, default=50, metavar="N",
                        help="orders followed through their whole life in the requests-per-life run "
                             "(default 50; 0 skips it)")
    parser.add_argument("--worker", choices=("connector", "baseline", "journal", "life"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--emulator-dir", default=TESTS_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker and len(args.orders) != 1:
        parser.error("a worker runs one size")
    if args.worker:
        args.orders = args.orders[0]
    if any(n <= 0 for n in ([args.orders] if args.worker else args.orders)):
        parser.error("--orders must be positive")
    if args.days < 1:
        parser.error("--days must be at least 1")
    return args


def main():
    args = parse_args()
    if args.worker:
        worker(args)
    else:
        # Stopped (kill, timeout): end the running measurement and drop the
        # databases on the way out, as after a failure.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        Runner(args).run()


if __name__ == "__main__":
    main()
