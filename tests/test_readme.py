"""The addon's README.rst and Apps page say what its readme/ fragments say."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_and_apps_page_are_built_from_the_fragments():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_readme.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_apps_page_shows_the_screenshots_it_names():
    page = (ROOT / "allegro_connector" / "static" / "description" / "index.html").read_text(encoding="utf-8")
    for image in ("screenshot_orders.png", "screenshot_order.png", "screenshot_shop.png"):
        assert 'src="%s"' % image in page
        assert (ROOT / "allegro_connector" / "static" / "description" / image).is_file(), image
