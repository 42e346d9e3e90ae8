"""Allegro REST API client, plain Python (no Odoo import).

The addon uses it as ``odoo.addons.allegro_connector.allegro_api``; tests load
this directory as a stand-alone package.  Only relative imports are used
inside, so both work.

Modules: :mod:`.transport` (session, timeouts, retries, logging),
:mod:`.oauth` (device flow, refresh), :mod:`.client` (REST resources),
:mod:`.errors` (typed exceptions), :mod:`.masking` (secret masking),
:mod:`.pagination` and :mod:`.params` (helpers).
"""

from .client import (
    CLAIM_EXISTS, DEFAULT_API_URL, FULFILLMENT_STATUSES, REFUND_REASONS, RETURN_REJECTION_CODES, SANDBOX_API_URL,
    SELLER_FULFILLMENT_STATUSES, AllegroClient, CommandAnswer,
)
from .errors import (
    AccessDenied, AllegroAuthError, AllegroConflict, AllegroError, AllegroForbidden, AllegroNotFound,
    AllegroOAuthError, AllegroRateLimited, AllegroServerError, AllegroTransportError,
    AllegroValidationError, AuthorizationPending, ExpiredDeviceCode, InvalidClient, InvalidGrant, SlowDown,
)
from .masking import mask_secrets
from .oauth import DEFAULT_AUTH_URL, SANDBOX_AUTH_URL, AllegroOAuth, DeviceAuthorization, TokenSet
from .pagination import CursorIterator
from .transport import (
    DEFAULT_TIMEOUT, MEDIA_TYPE_BETA, MEDIA_TYPE_BINARY, MEDIA_TYPE_PDF, MEDIA_TYPE_PUBLIC, USER_AGENT,
    parse_retry_after,
)

__all__ = [
    "AccessDenied", "AllegroAuthError", "AllegroClient", "AllegroConflict", "AllegroError", "AllegroForbidden",
    "AllegroNotFound", "AllegroOAuth", "AllegroOAuthError", "AllegroRateLimited", "AllegroServerError",
    "AllegroTransportError", "AllegroValidationError", "AuthorizationPending", "CLAIM_EXISTS", "CommandAnswer",
    "CursorIterator",
    "DEFAULT_API_URL", "DEFAULT_AUTH_URL", "DEFAULT_TIMEOUT", "DeviceAuthorization", "ExpiredDeviceCode",
    "FULFILLMENT_STATUSES", "InvalidClient", "InvalidGrant", "MEDIA_TYPE_BETA", "MEDIA_TYPE_BINARY",
    "MEDIA_TYPE_PDF", "MEDIA_TYPE_PUBLIC", "REFUND_REASONS", "RETURN_REJECTION_CODES", "SANDBOX_API_URL",
    "SANDBOX_AUTH_URL", "SELLER_FULFILLMENT_STATUSES",
    "SlowDown", "TokenSet", "USER_AGENT", "mask_secrets", "parse_retry_after",
]
