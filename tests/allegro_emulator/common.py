"""Small helpers shared by the emulator modules: time, money, ids, dict merging."""

import copy
import re
import uuid
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

JSON_V1 = "application/vnd.allegro.public.v1+json"

_FRACTION = re.compile(r"\.(\d+)")


def utcnow():
    return datetime.now(timezone.utc)


def iso(dt):
    """Allegro style timestamp: milliseconds and a literal Z."""
    if dt.tzinfo is not timezone.utc:
        dt = dt.astimezone(timezone.utc)
    return dt.isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"


def parse_iso(text):
    """Parse an ISO 8601 date-time; raises ValueError.

    Python 3.10's fromisoformat accepts neither 'Z' nor 1-2 or 4-5 digit
    fractions, so normalise both before parsing.
    """
    text = text.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError("date-time without a time zone: %r" % text)
    return dt


def money(value):
    """Price amount string with exactly two decimals (the spec uses strings)."""
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def price(value, currency):
    return {"amount": money(value), "currency": currency}


def new_uuid(rng):
    """A random (version 4) UUID drawn from ``rng`` so seeded runs repeat."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def new_revision(rng):
    return "%08x" % rng.getrandbits(32)


def is_uuid(text):
    try:
        return str(uuid.UUID(text)) == text.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def deep_merge(base, overrides):
    """Return ``base`` updated in place with ``overrides``.

    Dicts merge recursively, anything else (lists included) replaces, and a
    None value removes the key so optional fields can be dropped.
    """
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base
