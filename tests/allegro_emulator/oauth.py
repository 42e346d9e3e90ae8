"""OAuth 2 as Allegro runs it: device flow, refresh-token rotation, bearer checks.

Tokens are JWT-shaped (like Allegro's) but validated by lookup, so a token
can be expired or revoked on demand. Callers hold the emulator's lock.
"""

import base64
import binascii
import hashlib
import hmac
import html
import json
import secrets
import time
import uuid

from .routing import Reply, Router

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SCOPES = [
    "allegro:api:profile:read", "allegro:api:orders:read", "allegro:api:orders:write",
    "allegro:api:sale:offers:read", "allegro:api:sale:offers:write", "allegro:api:billing:read",
    "allegro:api:payments:read", "allegro:api:payments:write",
]
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes
REFRESH_LIFETIME = 90 * 86400
OAUTH_JSON = "application/json"


class OAuthError(Exception):
    def __init__(self, status, error, description, headers=None):
        super().__init__(description)
        self.status, self.error, self.description, self.headers = status, error, description, headers or {}

    def reply(self):
        body = {"error": self.error, "error_description": self.description}
        return Reply(self.status, body, OAUTH_JSON, self.headers)


def auth_error(error, description):
    """401 with the spec's AuthError body, as the REST API answers bad bearer tokens."""
    return Reply(401, {"error": error, "error_description": description},
                 headers={"WWW-Authenticate": 'Bearer realm="allegro", error="%s"' % error})


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OAuth:
    def __init__(self, emu):
        self.emu = emu  # for credentials and the tunables (token_lifetime, auto_approve, ...)
        self._key = secrets.token_bytes(32)
        self.devices = {}  # device_code -> device authorization
        self.access = {}  # access token -> {"expires", "valid"}
        self.refresh_tokens = {}  # refresh token -> {"access", "valid"}
        self.refresh_count = 0

    # -- client authentication -----------------------------------------------
    def authenticate_client(self, req):
        """HTTP Basic client_id:client_secret, as both OAuth endpoints require."""
        header = req.headers.get("Authorization", "")
        try:
            scheme, encoded = header.split(None, 1)
            client_id, _, secret = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            scheme = client_id = secret = None
        if (scheme or "").lower() != "basic" or client_id != self.emu.client_id \
                or not hmac.compare_digest(secret.encode(), self.emu.client_secret.encode()):
            raise OAuthError(401, "invalid_client", "Bad client credentials",
                             {"WWW-Authenticate": 'Basic realm="oauth2/client"'})
        return client_id

    # -- tokens --------------------------------------------------------------
    def _jwt(self, claims):
        signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(json.dumps(claims).encode())
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64(signature)

    def issue(self):
        now = time.time()
        lifetime = self.emu.token_lifetime
        jti = str(uuid.uuid4())
        common = {"user_name": self.emu.seller_id, "scope": SCOPES, "allegro_api": True,
                  "iss": self.emu.url, "client_id": self.emu.client_id}
        access = self._jwt(dict(common, exp=int(now + lifetime), jti=jti, authorities=["ROLE_USER"]))
        refresh = self._jwt(dict(common, exp=int(now + REFRESH_LIFETIME), jti=str(uuid.uuid4()), ati=jti))
        self.access[access] = {"expires": now + lifetime, "valid": True}
        self.refresh_tokens[refresh] = {"access": access, "valid": True}
        return {"access_token": access, "token_type": "bearer", "refresh_token": refresh, "expires_in": lifetime,
                "scope": " ".join(SCOPES), "allegro_api": True, "iss": self.emu.url, "jti": jti}

    def refresh(self, token):
        record = self.refresh_tokens.get(token or "")
        if not record or not record["valid"]:
            raise OAuthError(400, "invalid_grant", "Invalid refresh token")
        # Rotation: the used refresh token and its access token die at once.
        record["valid"] = False
        self.access.get(record["access"], {})["valid"] = False
        self.refresh_count += 1
        return self.issue()

    def expire_access_tokens(self):
        for record in self.access.values():
            record["valid"] = False

    def revoke_refresh_tokens(self):
        for record in self.refresh_tokens.values():
            record["valid"] = False

    def check_bearer(self, header):
        """None if the Authorization header carries a live access token, else the 401 reply."""
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return auth_error("unauthorized", "Full authentication is required to access this resource")
        record = self.access.get(token)
        if record is None:
            return auth_error("invalid_token", "Invalid access token: " + token)
        if not record["valid"] or time.time() >= record["expires"]:
            return auth_error("invalid_token", "Access token expired: " + token)
        return None

    # -- device flow ---------------------------------------------------------
    def start_device(self):
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
        device = {"device_code": secrets.token_urlsafe(24), "user_code": user_code, "status": "pending",
                  "expires": time.time() + self.emu.device_code_lifetime, "last_poll": 0.0}
        if self.emu.auto_approve:
            device["status"] = "approved"
        self.devices[device["device_code"]] = device
        verification_uri = self.emu.url + "/skojarz-aplikacje"
        return {"device_code": device["device_code"], "user_code": user_code, "verification_uri": verification_uri,
                "verification_uri_complete": verification_uri + "?code=" + user_code,
                "expires_in": self.emu.device_code_lifetime, "interval": self.emu.poll_interval}

    def poll(self, device_code):
        device = self.devices.get(device_code or "")
        if device is None or device["status"] == "used":
            raise OAuthError(400, "invalid_grant", "Invalid device code")
        now = time.time()
        if now >= device["expires"]:
            raise OAuthError(400, "expired_token", "Device code expired")
        if device["status"] == "denied":
            raise OAuthError(400, "access_denied", "The user denied the authorization request")
        if device["status"] == "pending":
            too_fast = now - device["last_poll"] < self.emu.poll_interval
            device["last_poll"] = now
            if too_fast and self.emu.enforce_poll_interval:
                raise OAuthError(400, "slow_down", "Polling too frequently, wait the interval between requests")
            raise OAuthError(400, "authorization_pending", "The user has not yet confirmed the authorization")
        device["status"] = "used"  # a device code is exchanged once
        return self.issue()

    def find_pending(self, user_code):
        code = (user_code or "").strip().upper()
        for device in self.devices.values():
            if device["user_code"] == code and device["status"] == "pending" and time.time() < device["expires"]:
                return device
        return None

    def decide(self, user_code, status):
        """Approve or deny pending authorizations (all of them when user_code is None); returns how many."""
        if user_code is None:
            targets = [d for d in self.devices.values() if d["status"] == "pending"]
        else:
            targets = [d for d in [self.find_pending(user_code)] if d]
        for device in targets:
            device["status"] = status
        return len(targets)


OAUTH = Router()


@OAUTH.route("POST", "/auth/oauth/device")
def device_authorization(emu, req):
    client_id = emu.oauth.authenticate_client(req)
    if req.form.get("client_id", client_id) != client_id:
        raise OAuthError(401, "invalid_client", "client_id does not match the client credentials")
    return Reply(200, emu.oauth.start_device(), OAUTH_JSON)


@OAUTH.route("POST", "/auth/oauth/token")
def token(emu, req):
    emu.oauth.authenticate_client(req)
    form = req.form
    grant = form.get("grant_type")
    if grant == DEVICE_GRANT:
        body = emu.oauth.poll(form.get("device_code"))
    elif grant == "refresh_token":
        body = emu.oauth.refresh(form.get("refresh_token"))
    else:
        raise OAuthError(400, "unsupported_grant_type", "Unsupported grant type: %s" % grant)
    return Reply(200, body, OAUTH_JSON, {"Cache-Control": "no-store"})


# -- the page where a person confirms a device code ("skojarz aplikację") --
PAGE = """<!DOCTYPE html><html lang="pl"><head><meta charset="utf-8"><title>Allegro emulator</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:3em auto}}button{{padding:.6em 1.2em}}</style>
</head><body><h1>Allegro emulator</h1>{content}</body></html>"""


def _page(status, content):
    return Reply(status, PAGE.format(content=content), "text/html; charset=utf-8")


@OAUTH.route("GET", "/skojarz-aplikacje")
def confirm_page(emu, req):
    code = req.arg("code")
    if not code:
        return _page(200, '<form method="post"><p><label>Code / Kod: <input name="code" autofocus></label></p>'
                          '<button name="action" value="confirm">Confirm / Potwierdź</button></form>')
    if emu.oauth.find_pending(code) is None:
        return _page(404, "<p>Unknown or expired code / Nieznany lub wygasły kod.</p>")
    return _page(200, '<p>Connect <b>{client}</b> to the account <b>{login}</b>?<br>'
                      'Połączyć aplikację z kontem?</p><p>Code / Kod: <b>{code}</b></p>'
                      '<form method="post"><input type="hidden" name="code" value="{code}">'
                      '<button name="action" value="confirm">Confirm / Potwierdź</button>'
                      '<button name="action" value="deny">Deny / Odrzuć</button></form>'
                 .format(client=html.escape(emu.client_id), login=html.escape(emu.seller_login),
                         code=html.escape(code)))


@OAUTH.route("POST", "/skojarz-aplikacje")
def confirm(emu, req):
    form = req.form
    approve = form.get("action", "confirm") == "confirm"
    if not emu.oauth.decide(form.get("code", ""), "approved" if approve else "denied"):
        return _page(404, "<p>Unknown or expired code / Nieznany lub wygasły kod.</p>")
    message = ("Application connected. You can return to it now. / Aplikacja połączona."
               if approve else "Access denied. / Odmówiono dostępu.")
    return _page(200, "<p>%s</p>" % message)
