"""The addon's README.rst and its Apps page (static/description/index.html),
both built from the Markdown fragments in readme/, the way OCA addons are.

Usage: python3 scripts/gen_readme.py [--check]   (--check: fail when stale)

The fragments use a small part of Markdown: paragraphs, "1." and "-" lists
(continued by indented lines), *emphasis*, **strong**, `code` and images
"![alt](static/description/file.png)" given from the addon's directory.
"""
import ast
import re
import sys
import textwrap
from pathlib import Path

from docutils.core import publish_parts

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "allegro_connector"
# Fragment, section title; DESCRIPTION comes first, untitled.
SECTIONS = [
    ("INSTALL.md", "Installation"),
    ("CONFIGURE.md", "Configuration"),
    ("USAGE.md", "Usage"),
    ("ROADMAP.md", "Known issues / Roadmap"),
]
WIDTH = 79
HEADER = ".. This file is generated from the readme/ fragments by scripts/gen_readme.py: edit those.\n"


def inline(text):
    text = re.sub(r"(?<![`\w])`([^`]+)`", r"``\1``", text)
    # A menu path's ">" never starts a line: there it would read as a quote.
    return text.replace(" > ", "\u00a0> ")


def md_to_rst(markdown):
    """Convert one fragment; blocks are separated by blank lines."""
    out = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = block.splitlines()
        image = re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", block.strip())
        if image:
            out.append(".. image:: %s\n   :alt: %s" % (image.group(2), image.group(1)))
            continue
        items = []
        for line in lines:
            marker = re.match(r"(\d+\.|-) +(.*)", line)
            if marker:
                items.append([("#." if marker.group(1)[0].isdigit() else "-"), marker.group(2)])
            elif items:
                items[-1][1] += " " + line.strip()
            else:
                items = None
                break
        if items:
            out.append("\n".join(textwrap.fill(inline(t), WIDTH, initial_indent=m + " ",
                                               subsequent_indent=" " * (len(m) + 1), break_on_hyphens=False)
                                 for m, t in items))
        else:
            out.append(textwrap.fill(inline(" ".join(line.strip() for line in lines)), WIDTH,
                                     break_on_hyphens=False))
    return "\n\n".join(out) + "\n"


def title(text, char, over=False):
    rule = char * len(text)
    return "%s%s\n%s\n\n" % (rule + "\n" if over else "", text, rule)


def build_readme():
    manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text(encoding="utf-8"))
    fragments = ADDON / "readme"
    rst = title(manifest["name"], "=", over=True) + HEADER + "\n"
    rst += "*%s*\n\n" % manifest["summary"]
    rst += ":License: %s\n\n" % manifest["license"]
    rst += md_to_rst((fragments / "DESCRIPTION.md").read_text(encoding="utf-8")) + "\n"
    rst += "**Table of contents**\n\n.. contents::\n   :local:\n\n"
    for name, heading in SECTIONS:
        path = fragments / name
        if path.exists():
            rst += title(heading, "=") + md_to_rst(path.read_text(encoding="utf-8")) + "\n"
    rst += title("Credits", "=")
    rst += title("Authors", "~") + "* %s\n\n" % manifest["author"]
    contributors = fragments / "CONTRIBUTORS.md"
    if contributors.exists():
        rst += title("Contributors", "~") + md_to_rst(contributors.read_text(encoding="utf-8")) + "\n"
    rst += "This module is part of `%s <%s>`_.\n" % (manifest["name"], manifest["website"])
    return rst


def build_index_html(rst):
    # The Apps page shows images relative to static/description/.
    rst = rst.replace(".. image:: static/description/", ".. image:: ")
    parts = publish_parts(rst, writer_name="html", settings_overrides={
        "embed_stylesheet": False, "doctitle_xform": False, "file_insertion_enabled": False,
        "raw_enabled": False, "report_level": 2, "halt_level": 2,
    })
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\"/>\n<title>%s</title>\n</head>\n"
            "<body>\n%s</body>\n</html>\n") % (
                parts["title"] or "Allegro Connector", parts["html_body"])


def main():
    rst = build_readme()
    targets = {ADDON / "README.rst": rst, ADDON / "static/description/index.html": build_index_html(rst)}
    stale = [path for path, text in targets.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if "--check" in sys.argv:
        if stale:
            sys.exit("out of date, run make readme: %s" % ", ".join(str(p.relative_to(ROOT)) for p in stale))
        return
    for path in stale:
        path.write_text(targets[path], encoding="utf-8")
        print("wrote", path.relative_to(ROOT))


if __name__ == "__main__":
    main()
