"""What the benchmarks share: the emulator's package and Odoo's registry in
this process."""
import importlib
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parents[1] / "tests")


def start_odoo(addons_path, db):
    """Odoo's registry of ``db``, loaded in this process (no HTTP server)."""
    importlib.import_module("odoo.init")
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(["--addons-path=" + addons_path, "-d", db, "--log-level=warn"], setup_logging=True)
    return Registry(db)
