"""Masking of secrets in text that may end up in logs or exception messages.

Everything the client logs, and every exception message it builds, goes through
:func:`mask_secrets`.  The patterns cover the places where Allegro secrets can
appear in HTTP traffic (headers, query strings, form bodies, JSON bodies); the
``extra`` argument masks known secret values literally, which also covers
opaque (non JWT) tokens in places no pattern anticipates.
"""

import logging
import re
from urllib.parse import quote, quote_plus

MASK = "***"

# Names whose values are secrets, in JSON / Python reprs / query strings / forms.
# ("code" is deliberately absent: Allegro error bodies use it for error codes.)
_SECRET_KEYS = (
    r"access_token|refresh_token|id_token|device_code|client_secret|"
    r"token|secret|password|api_key|apikey"
)

_PATTERNS = (
    # Authorization header values: "Bearer <token>", "Basic <base64>".
    (re.compile(r"(?i)\b(Bearer|Basic)(\s+|%20|\+)[A-Za-z0-9\-._~+/=%]+"), r"\1\2" + MASK),
    # "key": "value"  /  'key': 'value'  (JSON bodies, dict reprs)
    (
        re.compile(r"""(?i)(["'](?:%s)["']\s*:\s*["'])[^"']*""" % _SECRET_KEYS),
        r"\1" + MASK,
    ),
    # key=value in query strings, form bodies and reprs (key=..., key='...').
    (
        re.compile(r"""(?i)(\b(?:%s)=['"]?)[^&\s'",;)}\]]+""" % _SECRET_KEYS),
        r"\1" + MASK,
    ),
    # Anything that looks like a JWT (Allegro access/refresh tokens are JWTs).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
)

# Literal secrets shorter than this are not masked (they would mangle text).
_MIN_LITERAL = 6


def mask_secrets(text, extra=()):
    """Return ``text`` with secrets replaced by ``***``.

    :param text: any object; non-strings are converted with ``str()``
        (``None`` gives ``""``).
    :param extra: iterable of literal secret values (tokens, client secret,
        device code) to mask wherever they appear, also in URL-encoded form.
    """
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    elif not isinstance(text, str):
        text = str(text)
    for value in extra or ():
        if not value:
            continue
        value = str(value)
        if len(value) < _MIN_LITERAL:
            continue
        for variant in {value, quote(value, safe=""), quote_plus(value)}:
            if variant in text:
                text = text.replace(variant, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_value(value):
    """Repr of a secret for ``__repr__``: ``'***'`` (or ``None`` / ``''``)."""
    if not value:
        return repr(value)
    return "'%s'" % MASK


class SecretMaskingFilter(logging.Filter):
    """Logging filter that masks secrets in the fully formatted message.

    Installed on ``urllib3.connectionpool``, which logs request lines
    (``"POST /auth/oauth/token?grant_type=refresh_token&refresh_token=..."``)
    at DEBUG level; OAuth parameters that Allegro expects in the query string
    would otherwise leak into logs.
    """

    _allegro_masking = True  # recognised across copies of this module (see below)

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - broken record, leave it alone
            return True
        masked = mask_secrets(message)
        if masked != message:
            record.msg = masked
            record.args = ()
        return True


def install_urllib3_log_filter():
    """Attach :class:`SecretMaskingFilter` to urllib3's request logger (once)."""
    logger = logging.getLogger("urllib3.connectionpool")
    # The package may be imported twice under two names (the addon's
    # odoo.addons... and a test's stand-alone import): one filter is enough.
    if not any(getattr(f, "_allegro_masking", False) for f in logger.filters):
        logger.addFilter(SecretMaskingFilter())
