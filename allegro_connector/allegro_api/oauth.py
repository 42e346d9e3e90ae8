"""Allegro OAuth 2: device flow and refresh-token rotation.

Both endpoints authenticate the application with HTTP Basic
``client_id:client_secret``.  Allegro takes the token parameters in the query
string (``/token?grant_type=...&refresh_token=...``); they are masked in every
log line and exception message.
"""

import datetime
import time
from dataclasses import dataclass
from typing import Optional

from .errors import AllegroError, oauth_error_from_response
from .masking import mask_value
from .transport import DEFAULT_TIMEOUT, Transport

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_AUTH_URL = "https://allegro.pl/auth/oauth"
SANDBOX_AUTH_URL = "https://allegro.pl.allegrosandbox.pl/auth/oauth"


@dataclass(repr=False)
class TokenSet:
    """Tokens returned by ``/auth/oauth/token``."""

    access_token: str
    refresh_token: Optional[str] = None
    expires_in: Optional[int] = None
    token_type: str = "bearer"
    scope: Optional[str] = None

    @classmethod
    def from_response(cls, data):
        expires_in = data.get("expires_in")
        try:
            expires_in = int(expires_in) if expires_in is not None else None
        except (TypeError, ValueError):
            expires_in = None
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            expires_in=expires_in,
            token_type=data.get("token_type") or "bearer",
            scope=data.get("scope"),
        )

    def expires_at(self, now=None):
        """When the access token expires, given the time it was received.

        ``now`` may be a ``datetime`` (the result is a ``datetime`` of the same
        kind, naive or aware) or an epoch timestamp (the result is a float).
        Default: the current UTC time as an aware ``datetime``.  Returns
        ``None`` when the server did not send ``expires_in``.
        """
        if now is None:
            now = datetime.datetime.now(datetime.timezone.utc)
        if self.expires_in is None:
            return None
        if isinstance(now, datetime.datetime):
            return now + datetime.timedelta(seconds=self.expires_in)
        return float(now) + self.expires_in

    def __repr__(self):
        return "TokenSet(access_token=%s, refresh_token=%s, expires_in=%r, token_type=%r, scope=%r)" % (
            mask_value(self.access_token), mask_value(self.refresh_token),
            self.expires_in, self.token_type, self.scope)

    __str__ = __repr__


@dataclass(repr=False)
class DeviceAuthorization:
    """Answer of ``POST /auth/oauth/device``: show ``user_code`` /
    ``verification_uri_complete`` to the user, then poll with ``device_code``
    every ``interval`` seconds until ``expires_in`` seconds have passed."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: Optional[str] = None
    expires_in: Optional[int] = None
    interval: int = 5

    @classmethod
    def from_response(cls, data):
        def as_int(value, default):
            try:
                return int(value)
            except (TypeError, ValueError):
                return default

        return cls(
            device_code=data["device_code"],
            user_code=data.get("user_code"),
            verification_uri=data.get("verification_uri"),
            verification_uri_complete=data.get("verification_uri_complete"),
            expires_in=as_int(data.get("expires_in"), None),
            interval=as_int(data.get("interval"), 5),
        )

    def __repr__(self):
        return ("DeviceAuthorization(device_code=%s, user_code=%r, verification_uri=%r, "
                "verification_uri_complete=%r, expires_in=%r, interval=%r)") % (
            mask_value(self.device_code), self.user_code, self.verification_uri,
            self.verification_uri_complete, self.expires_in, self.interval)

    __str__ = __repr__


def _oauth_error(status, body):
    """OAuth error document -> typed OAuthError; 429/5xx keep the generic
    (retryable) AllegroRateLimited / AllegroServerError."""
    if status == 429 or status >= 500:
        return None
    return oauth_error_from_response(status, body)


class AllegroOAuth:
    """Client of Allegro's OAuth endpoints.

    :param auth_url: OAuth base, e.g. ``https://allegro.pl/auth/oauth``.
    :param session: optional shared ``requests.Session``.
    :param timeout: ``(connect, read)`` seconds.

    Token calls are POSTs: they are retried only when Allegro cannot have
    processed them (429/503, connect failures), because retrying a refresh
    whose answer was lost would present an already rotated refresh token.
    """

    def __init__(self, auth_url, client_id, client_secret, session=None, timeout=DEFAULT_TIMEOUT, *,
                 max_retries=2, max_wait=10.0, sleep=time.sleep):
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.auth_url = auth_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self._transport = Transport(
            self.auth_url, session=session, timeout=timeout, max_retries=max_retries,
            max_wait=max_wait, sleep=sleep, secrets=(client_secret,),
        )

    def __repr__(self):
        return "AllegroOAuth(auth_url=%r, client_id=%r)" % (self.auth_url, self.client_id)

    @property
    def request_count(self):
        return self._transport.request_count

    def close(self):
        self._transport.close()

    # ------------------------------------------------------------------
    def _post(self, path, *, params=None, data=None, secrets=(), required=()):
        response = self._transport.request(
            "POST", path, params=params, data=data,
            headers={"Accept": "application/json"},
            auth=(self.client_id, self._client_secret),
            secrets=secrets, error_factory=_oauth_error,
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or any(not body.get(key) for key in required):
            raise AllegroError("Allegro OAuth POST %s: unexpected answer (HTTP %s, no %s)"
                               % (path, response.status_code, "/".join(required)),
                               status=response.status_code)
        return body

    def start_device_flow(self):
        """Start the device flow: ``POST {auth_url}/device``.

        :rtype: DeviceAuthorization
        """
        data = self._post("/device", data={"client_id": self.client_id}, required=("device_code", "user_code"))
        return DeviceAuthorization.from_response(data)

    def poll_device_token(self, device_code):
        """Poll once for the tokens of an approved device authorisation.

        :raises AuthorizationPending: not approved yet, poll again later.
        :raises SlowDown: polling too often; add 5 s to the interval.
        :raises AccessDenied: the user refused.
        :raises ExpiredDeviceCode: the code expired; start again.
        :rtype: TokenSet
        """
        if not device_code:
            raise ValueError("device_code is required")
        data = self._post(
            "/token", params={"grant_type": DEVICE_CODE_GRANT, "device_code": device_code},
            secrets=(device_code,), required=("access_token",),
        )
        return TokenSet.from_response(data)

    def refresh(self, refresh_token):
        """Exchange a refresh token for a new :class:`TokenSet`.

        Allegro rotates refresh tokens: store the returned ``refresh_token``
        (it replaces the old one).

        :raises InvalidGrant: refresh token expired, revoked or already used;
            the user has to authorise the application again.
        """
        if not refresh_token:
            raise ValueError("refresh_token is required")
        data = self._post(
            "/token", params={"grant_type": "refresh_token", "refresh_token": refresh_token},
            secrets=(refresh_token,), required=("access_token",),
        )
        tokens = TokenSet.from_response(data)
        if not tokens.refresh_token:
            # No rotation in this answer: the old refresh token stays valid.
            tokens.refresh_token = refresh_token
        return tokens
