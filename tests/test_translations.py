"""The Polish translation covers every string of the template, keeps every
placeholder and markup of the original, and names statuses as sellers do."""
import re
from pathlib import Path

import polib

I18N = Path(__file__).resolve().parent.parent / "allegro_connector" / "i18n"
# What the program fills in or renders: it must survive translation intact.
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\{.*?\}\}|<[^>]+>")


def test_polish_translates_every_string_of_the_template():
    pot = polib.pofile(str(I18N / "allegro_connector.pot"))
    polish = {entry.msgid: entry for entry in polib.pofile(str(I18N / "pl.po"))}
    untranslated = [e.msgid for e in pot if e.msgid not in polish or not polish[e.msgid].msgstr.strip()]
    assert not untranslated, "run make pot, then translate: %s" % untranslated
    broken = [e.msgid for e in pot
              if sorted(PLACEHOLDER.findall(e.msgid)) != sorted(PLACEHOLDER.findall(polish[e.msgid].msgstr))]
    assert not broken, broken


def test_statuses_in_the_words_of_polish_sellers():
    polish = {entry.msgid: entry.msgstr for entry in polib.pofile(str(I18N / "pl.po"))}
    expected = {
        "New": "Nowe", "In progress": "W realizacji", "To be shipped": "Do wysłania", "Shipped": "Wysłane",
        "Cancelled": "Anulowane", "Paid": "Opłacone", "Cash on delivery": "Płatność przy odbiorze",
        "Unpaid": "Nieopłacone", "To verify": "Do weryfikacji",
    }
    assert {msgid: polish[msgid] for msgid in expected} == expected
