"""What the benchmarks share: the emulator's package, Odoo's registry in
this process, a shop connected to the emulator."""
import argparse
import importlib
from datetime import timedelta
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parents[1] / "tests")


def arguments(description):
    """The command line of a benchmark: the database and addons its shell script made, then its own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--db", required=True)
    return parser


def start_odoo(addons_path, db):
    """Odoo's registry of ``db``, loaded in this process (no HTTP server)."""
    importlib.import_module("odoo.init")
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(["--addons-path=" + addons_path, "-d", db, "--log-level=warn"], setup_logging=True)
    return Registry(db)


def connected_shop(env, emu, **values):
    """A shop talking to ``emu``, holding a token pair it issued."""
    from odoo import fields

    shop = env["allegro.shop"].create({
        "name": "Benchmark shop", "environment": "custom", "api_url": emu.url,
        "auth_url": emu.url + "/auth/oauth", "client_key": emu.client_id, "client_secret": emu.client_secret,
        **values,
    })
    tokens = emu.issue_tokens()
    shop.sudo().token_ids.write({"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
                                 "expires_at": fields.Datetime.now() + timedelta(hours=5)})
    shop.state = "connected"
    return shop
