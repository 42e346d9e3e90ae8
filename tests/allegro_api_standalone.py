"""The addon's HTTP client imported as the stand-alone package ``allegro_api``,
without the Odoo addon around it: the client knows nothing of Odoo, and its
tests prove it by running without Odoo."""
import importlib.util
import sys
from pathlib import Path

API_DIR = Path(__file__).resolve().parent.parent / "allegro_connector" / "allegro_api"


def load_allegro_api():
    if "allegro_api" in sys.modules:
        return sys.modules["allegro_api"]
    spec = importlib.util.spec_from_file_location(
        "allegro_api", API_DIR / "__init__.py", submodule_search_locations=[str(API_DIR)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["allegro_api"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop("allegro_api", None)
        raise
    return module


api = load_allegro_api()
