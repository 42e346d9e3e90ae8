"""Command line: run the emulator until killed, e.g. for a demo.

    PYTHONPATH=tests python -m allegro_emulator --port 8070 --seed-demo --auto-approve
"""

import argparse
import signal
import threading

from .emulator import AllegroEmulator


def main(argv=None):
    parser = argparse.ArgumentParser(prog="allegro_emulator",
                                     description="Local emulator of the Allegro REST API and OAuth.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8070)
    parser.add_argument("--client-id", default="demo-client")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument("--seller-login", default="demo-seller")
    parser.add_argument("--seller-id", default="12345678")
    parser.add_argument("--seed-demo", action="store_true", help="add the fixed demo orders")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="add N generated orders")
    parser.add_argument("--random-seed", type=int, default=None, help="make generated data repeatable")
    parser.add_argument("--auto-approve", action="store_true", help="approve device authorizations at once")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)

    emu = AllegroEmulator(client_id=args.client_id, client_secret=args.client_secret, seller_login=args.seller_login,
                          seller_id=args.seller_id, random_seed=args.random_seed)
    emu.auto_approve = args.auto_approve
    emu.log_requests = not args.quiet
    if args.seed_demo:
        emu.seed_demo()
    if args.seed:
        emu.seed_orders(args.seed)
    emu.start(args.host, args.port)
    print("Allegro emulator listening on %s" % emu.url)
    print("  api_url:   %s" % emu.api_url)
    print("  auth_url:  %s" % emu.auth_url)
    print("  client:    %s / %s" % (emu.client_id, emu.client_secret))
    print("  approve:   %s/skojarz-aplikacje%s" % (emu.url, "  (auto-approve on)" if args.auto_approve else ""))
    print("  control:   %s/_emulator/stats" % emu.url)
    print("  orders: %d, events: %d" % (len(emu.store.orders), len(emu.store.events)), flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
