"""Typed exceptions raised by the Allegro client.

Every exception derives from :class:`AllegroError` and carries Allegro's error
body: ``ErrorsHolder.errors[]`` (code / message / userMessage / path) for the
REST API, or ``AuthError`` (``error`` / ``error_description``) for 401s and the
OAuth endpoints; the latter is normalised into the same ``errors`` list.

``retryable`` tells the caller whether trying again later can help (network
problems, rate limiting, server errors, a pending device authorisation) or the
problem needs a person (bad data, missing permission, revoked grant).
"""

import json

from .masking import mask_secrets


class AllegroError(Exception):
    """Base class of every error raised by the Allegro client."""

    retryable = False

    def __init__(self, message=None, status=None, errors=None, response_body=None, *, retry_after=None):
        self.message = mask_secrets(message)
        self.status = status
        self.errors = _normalise_errors(errors)
        self.response_body = response_body
        self.retry_after = retry_after
        # Set by the transport when an earlier attempt of the same call may
        # have been processed by Allegro (read timeout, 5xx); lets callers
        # recognise "409 because my first attempt went through".
        self.after_ambiguous_retry = False
        super().__init__(self.message)

    # -- helpers ---------------------------------------------------------
    @property
    def codes(self):
        """Error codes reported by Allegro (``errors[].code``)."""
        return [e.get("code") for e in self.errors if e.get("code")]

    @property
    def user_message(self):
        """First message meant for end users (``userMessage``, else ``message``)."""
        for err in self.errors:
            text = err.get("userMessage") or err.get("message")
            if text:
                return mask_secrets(text)
        return None

    def details(self):
        """Human readable lines, one per Allegro error."""
        lines = []
        for err in self.errors:
            text = err.get("userMessage") or err.get("message") or err.get("code")
            if not text:
                continue
            extra = []
            if err.get("code") and err.get("code") != text:
                extra.append(str(err["code"]))
            if err.get("path"):
                extra.append("path: %s" % err["path"])
            if extra:
                text = "%s (%s)" % (text, ", ".join(extra))
            lines.append(str(text))
        return lines

    def __str__(self):
        details = self.details()
        text = self.message or self.__class__.__name__
        if details:
            text = "%s: %s" % (text, "; ".join(details))
        return mask_secrets(text)

    def __repr__(self):
        return "%s(%r, status=%r)" % (self.__class__.__name__, str(self), self.status)


class AllegroAuthError(AllegroError):
    """401: missing, invalid or expired access token (after one refresh)."""


class AllegroForbidden(AllegroError):
    """403: the token lacks the scope / user context for this resource."""


class AllegroNotFound(AllegroError):
    """404: resource missing or not owned by the seller."""


class AllegroConflict(AllegroError):
    """409: outdated revision, command id reused, invoice already present..."""


class AllegroValidationError(AllegroError):
    """400 / 422: Allegro rejected the data or parameters."""


class AllegroRateLimited(AllegroError):
    """429 after the retries (or a ``Retry-After`` longer than the wait budget)."""

    retryable = True


class AllegroServerError(AllegroError):
    """5xx after the retries."""

    retryable = True


class AllegroTransportError(AllegroError):
    """Timeouts / connection failures after the retries. ``unanswered``: the
    request may have reached Allegro, whose answer never came (a timeout, a
    dropped connection); otherwise it provably never left this machine."""

    retryable = True

    def __init__(self, message=None, status=None, errors=None, response_body=None, *, retry_after=None,
                 retryable=True, unanswered=False):
        super().__init__(message, status, errors, response_body, retry_after=retry_after)
        self.retryable = retryable
        self.unanswered = unanswered


# -- OAuth ------------------------------------------------------------------


class AllegroOAuthError(AllegroAuthError):
    """Error returned by the OAuth endpoints (RFC 6749 / RFC 8628 ``error``)."""

    error_code = None

    def __init__(self, error, description=None, status=None, response_body=None):
        self.error = error
        self.description = description
        message = "OAuth error %s" % error
        body = {"error": error}
        if description:
            body["error_description"] = description
        super().__init__(message, status, body, response_body)


class AuthorizationPending(AllegroOAuthError):
    """Device flow: the user has not approved yet; poll again after ``interval``."""

    error_code = "authorization_pending"
    retryable = True


class SlowDown(AllegroOAuthError):
    """Device flow: polling too fast; increase the interval (RFC 8628: +5 s)."""

    error_code = "slow_down"
    retryable = True


class AccessDenied(AllegroOAuthError):
    """Device flow: the user refused the authorisation."""

    error_code = "access_denied"


class ExpiredDeviceCode(AllegroOAuthError):
    """Device flow: the device code expired; start a new flow."""

    error_code = "expired_token"


class InvalidGrant(AllegroOAuthError):
    """Refresh token (or device code) invalid, expired, revoked or already used."""

    error_code = "invalid_grant"


class InvalidClient(AllegroOAuthError):
    """Wrong client_id / client_secret."""

    error_code = "invalid_client"


OAUTH_ERRORS = {
    "authorization_pending": AuthorizationPending,
    "slow_down": SlowDown,
    "access_denied": AccessDenied,
    "expired_token": ExpiredDeviceCode,
    "invalid_grant": InvalidGrant,
    "invalid_client": InvalidClient,
    "unauthorized_client": InvalidClient,
    # Allegro answers bad client credentials with
    # {"error": "unauthorized", "error_description": "Bad credentials"}.
    "unauthorized": InvalidClient,
}

STATUS_ERRORS = {
    400: AllegroValidationError,
    401: AllegroAuthError,
    403: AllegroForbidden,
    404: AllegroNotFound,
    409: AllegroConflict,
    422: AllegroValidationError,
    429: AllegroRateLimited,
}


def error_class_for_status(status):
    """Exception class for an HTTP status code."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status is not None and status >= 500:
        return AllegroServerError
    return AllegroError


def parse_body(text):
    """Parse an error body: JSON when possible, else the (masked) text."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def error_from_response(status, body, message, *, retry_after=None):
    """Build the typed exception for an HTTP error response.

    :param body: the response body, already masked and parsed (see
        :func:`parse_body`).
    """
    cls = error_class_for_status(status)
    return cls(message, status, body, body, retry_after=retry_after)


def oauth_error_from_response(status, body):
    """Typed OAuth error when ``body`` is an OAuth error document, else ``None``."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    error = body["error"]
    cls = OAUTH_ERRORS.get(error, AllegroOAuthError)
    return cls(error, body.get("error_description"), status=status, response_body=body)


def _normalise_errors(errors):
    """Turn ErrorsHolder / AuthError / list / text into a list of dicts."""
    if errors is None:
        return []
    if isinstance(errors, dict):
        if isinstance(errors.get("errors"), list):
            errors = errors["errors"]
        elif "error" in errors or "error_description" in errors:
            return [{
                "code": errors.get("error"),
                "message": errors.get("error_description"),
                "userMessage": None,
                "path": None,
            }]
        else:
            errors = [errors]
    if isinstance(errors, str):
        text = errors.strip()
        return [{"message": text[:500]}] if text else []
    result = []
    for err in errors if isinstance(errors, (list, tuple)) else [errors]:
        if isinstance(err, dict):
            result.append(err)
        elif err:
            result.append({"message": str(err)})
    return result
