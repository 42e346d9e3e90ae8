"""HTTP transport: one ``requests.Session``, timeouts, retries, logging.

The transport knows nothing about Allegro resources or tokens; it sends one
logical call, retries it when that is safe and useful, and turns error
responses into the typed exceptions of :mod:`.errors`.

Retry policy
------------
* 429, 5xx and network failures (timeouts, connection errors) are retried
  with exponential backoff (``backoff_factor * 2 ** (attempt - 1)``, capped at
  ``backoff_max``), at most ``max_retries`` times.
* A ``Retry-After`` header (seconds or an HTTP date) replaces the backoff.
* ``max_wait`` is the total time one call may spend sleeping between attempts.
  When the server asks for a wait longer than what is left, the error is
  raised at once (``AllegroRateLimited`` / ``AllegroServerError`` carrying
  ``retry_after``) instead of blocking the worker: the caller reschedules.
* Non-idempotent requests (POST, PATCH) are retried only when Allegro cannot
  have processed them: 429 and 503 (rejected before processing) and failures
  raised before the request was sent (connect timeout, connection refused,
  DNS).  A read timeout, a dropped connection or a 500/502/504 on a POST may
  mean the order shipment / invoice metadata was created; sending it again
  could create a duplicate, so the error goes to the caller instead.
"""

import email.utils
import logging
import time

import requests
from urllib3.exceptions import NewConnectionError

from .errors import AllegroTransportError, error_from_response, parse_body
from .masking import install_urllib3_log_filter, mask_secrets

_logger = logging.getLogger(__name__)

install_urllib3_log_filter()

USER_AGENT = "allegro_connector/19.0 (+odoo)"
MEDIA_TYPE_PUBLIC = "application/vnd.allegro.public.v1+json"
MEDIA_TYPE_BETA = "application/vnd.allegro.beta.v1+json"
MEDIA_TYPE_PDF = "application/pdf"
MEDIA_TYPE_BINARY = "application/octet-stream"  # Ship with Allegro labels and protocols
DEFAULT_TIMEOUT = (5, 30)

IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
# Statuses that mean "not processed, try again" even for a POST.
_RETRY_STATUSES_UNSAFE = frozenset((429, 503))
_NETWORK_ERRORS = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date).

    Returns ``None`` when absent or unparseable, never a negative number.
    """
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def failed_before_send(exc):
    """True when ``exc`` proves the request never reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, NewConnectionError)
    return False


def _describe_exception(exc):
    return "%s: %s" % (type(exc).__name__, exc)


class Transport:
    """Send HTTP calls to one base URL with retries.

    :param base_url: URL prefix of every ``path`` (no trailing slash needed).
    :param session: a ``requests.Session`` to use; one is created if omitted
        (and closed by :meth:`close`).
    :param timeout: ``(connect, read)`` seconds, or one number for both.
    :param max_retries: retries after the first attempt (0 disables).
    :param max_wait: total seconds one call may sleep between attempts.
    :param sleep: ``sleep(seconds)`` callable (inject a fake in tests).
    :param secrets: literal values masked in logs and errors (e.g. client
        secret); per call secrets are passed to :meth:`request`.
    :param before_request: called with no argument before each attempt; may
        wait (a request budget shared with other processes) or raise an
        :class:`AllegroError` to send nothing.
    """

    def __init__(self, base_url, session=None, timeout=DEFAULT_TIMEOUT, max_retries=3, max_wait=30.0,
                 sleep=time.sleep, backoff_factor=0.5, backoff_max=8.0, user_agent=USER_AGENT,
                 secrets=(), clock=time.time, before_request=None):
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait = float(max_wait)
        self.sleep = sleep
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.user_agent = user_agent
        self.secrets = tuple(s for s in secrets if s)
        self.clock = clock
        self.before_request = before_request
        self.request_count = 0

    def close(self):
        if self._own_session:
            self.session.close()

    def backoff(self, attempt):
        """Wait before retry number ``attempt`` (1-based) without Retry-After."""
        return min(self.backoff_max, self.backoff_factor * (2 ** (attempt - 1)))

    # ------------------------------------------------------------------
    def request(self, method, path, *, params=None, json=None, data=None, headers=None, auth=None,
                idempotent=None, secrets=(), error_factory=None):
        """Send one logical call; return the ``requests.Response`` (status < 400).

        :param idempotent: override the method based guess (see module doc).
        :param secrets: literal secrets of this call, masked in logs/errors.
        :param error_factory: ``f(status, body) -> exception or None`` tried
            before the generic status mapping (used for OAuth errors).
        :raises AllegroError: typed error for HTTP errors / network failures.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        all_secrets = self.secrets + tuple(s for s in secrets if s)
        send_headers = {"User-Agent": self.user_agent}
        send_headers.update(headers or {})
        budget = self.max_wait
        retries = 0
        ambiguous = False  # an earlier attempt may have been processed

        def masked(text):
            return mask_secrets(text, all_secrets)

        def log(level, fmt, *args):
            # Format first, then mask the whole line: no secret reaches a handler.
            if _logger.isEnabledFor(level):
                _logger.log(level, "%s", masked(fmt % args))

        while True:
            if self.before_request:
                self.before_request()
            self.request_count += 1
            started = time.monotonic()
            try:
                response = self.session.request(
                    method, url, params=params, json=json, data=data, headers=send_headers,
                    auth=auth, timeout=self.timeout, allow_redirects=False,
                )
            except _NETWORK_ERRORS as exc:
                elapsed = time.monotonic() - started
                before_send = failed_before_send(exc)
                reason = masked(_describe_exception(exc))
                log(logging.DEBUG, "Allegro %s %s -> %s after %.0f ms",
                    method, path, type(exc).__name__, elapsed * 1000)
                # A POST is retried only when it provably never left this
                # machine (connect timeout / refused / DNS): after a read
                # timeout or a dropped connection Allegro may have created the
                # waybill or invoice already, and a replay could duplicate it.
                if retries < self.max_retries and (idempotent or before_send):
                    wait = self.backoff(retries + 1)
                    if wait <= budget:
                        retries += 1
                        budget -= wait
                        ambiguous = ambiguous or not before_send
                        log(logging.WARNING, "Allegro %s %s failed (%s); retry %d/%d in %.2f s",
                            method, path, reason, retries, self.max_retries, wait)
                        self.sleep(wait)
                        continue
                err = AllegroTransportError(
                    masked("Allegro %s %s failed after %d attempt(s): %s" % (method, path, retries + 1, reason)),
                    unanswered=not before_send)
                err.after_ambiguous_retry = ambiguous
                raise err from None
            except requests.exceptions.RequestException as exc:
                # Invalid URL, too many redirects...: retrying will not help.
                err = AllegroTransportError(
                    masked("Allegro %s %s failed: %s" % (method, path, _describe_exception(exc))),
                    retryable=False)
                raise err from None

            elapsed = time.monotonic() - started
            status = response.status_code
            log(logging.DEBUG, "Allegro %s %s -> %s in %.0f ms", method, path, status, elapsed * 1000)
            if status < 400:
                return response

            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self.clock())
            retryable_status = status == 429 or status >= 500
            if not idempotent:
                # 429 and 503 are refusals before processing; 500/502/504 on
                # a POST may come after the change was made: not replayed.
                retryable_status = status in _RETRY_STATUSES_UNSAFE
            if retryable_status and retries < self.max_retries:
                wait = retry_after if retry_after is not None else self.backoff(retries + 1)
                if wait <= budget:
                    retries += 1
                    budget -= wait
                    ambiguous = ambiguous or status not in _RETRY_STATUSES_UNSAFE
                    log(logging.WARNING, "Allegro %s %s -> HTTP %s; retry %d/%d in %.2f s",
                        method, path, status, retries, self.max_retries, wait)
                    self.sleep(wait)
                    continue
                if retry_after is not None:
                    log(logging.WARNING,
                        "Allegro %s %s -> HTTP %s; Retry-After %.1f s exceeds the %.1f s left to wait, giving up",
                        method, path, status, retry_after, budget)
            raise self._error(response, method, path, retries, retry_after, masked, error_factory, ambiguous)

    def _error(self, response, method, path, retries, retry_after, masked, error_factory, ambiguous):
        status = response.status_code
        # JSON is UTF-8; for Allegro's media types, which name no charset,
        # requests would guess one and garble a Polish userMessage.
        body = parse_body(masked(response.content.decode(response.encoding or "utf-8", errors="replace")))
        err = error_factory(status, body) if error_factory else None
        if err is None:
            message = "Allegro %s %s -> HTTP %s" % (method, path, status)
            if retries:
                message += " after %d retr%s" % (retries, "y" if retries == 1 else "ies")
            err = error_from_response(status, body, masked(message), retry_after=retry_after)
        elif err.retry_after is None:
            err.retry_after = retry_after
        err.after_ambiguous_retry = ambiguous
        return err
