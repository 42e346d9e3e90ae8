"""Packages the addon the way Odoo addons are published on PyPI:
distribution ``odoo-addon-allegro_connector``, importable as
``odoo.addons.allegro_connector``."""
import ast
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
ADDON = "allegro_connector"
manifest = ast.literal_eval((HERE / ADDON / "__manifest__.py").read_text())
series = ".".join(manifest["version"].split(".")[:2])
next_series = "%s.%d" % (series.split(".")[0], int(series.split(".")[1]) + 1)

setup(
    name="odoo-addon-" + ADDON,
    version=manifest["version"],
    description=manifest["summary"],
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    author=manifest["author"],
    url=manifest["website"],
    license="LGPL-3",
    python_requires=">=3.10",
    install_requires=[
        "odoo>=%s.dev,<%s.dev" % (series, next_series),
        *manifest["external_dependencies"]["python"],
    ],
    package_dir={"odoo.addons." + ADDON: ADDON},
    packages=["odoo.addons." + ADDON]
    + ["odoo.addons.%s.%s" % (ADDON, p) for p in find_packages(ADDON)],
    include_package_data=True,
    package_data={
        "odoo.addons." + ADDON: [
            "*.rst", "data/*", "security/*", "views/*", "readme/*", "i18n/*",
            "static/description/*",
        ]
    },
    classifiers=[
        "Programming Language :: Python",
        "Framework :: Odoo",
        "Framework :: Odoo :: 19.0",
        "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)",
    ],
)
