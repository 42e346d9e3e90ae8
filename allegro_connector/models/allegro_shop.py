import logging
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..allegro_api import (
    DEFAULT_API_URL,
    DEFAULT_AUTH_URL,
    SANDBOX_API_URL,
    SANDBOX_AUTH_URL,
    AllegroClient,
    AllegroOAuth,
)
from ..allegro_api import errors as api_errors
from ..const import MARKETPLACE_CURRENCIES, MARKETPLACES
from .allegro_request_budget import RequestBudget, application_key
from .allegro_rights import ALLEGRO_USER, SYSTEM, check_group

_logger = logging.getLogger(__name__)

# Plain http is only for a server on this machine (the emulator, a proxy):
# anywhere else the tokens would cross the network in clear.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# (REST API base, OAuth base) of each Allegro environment.
ENVIRONMENT_URLS = {
    "production": (DEFAULT_API_URL, DEFAULT_AUTH_URL),
    "sandbox": (SANDBOX_API_URL, SANDBOX_AUTH_URL),
}
# Seconds per HTTP request. A single number rather than a (connect, read)
# pair: Odoo's test harness compares the timeout with a number.
REQUEST_TIMEOUT = 30
# An access token this close to its expiry is refreshed before use, so that a
# request never starts with a token that dies on the way.
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)
# The keep-alive cron refreshes tokens that expire within this window, so an
# idle shop keeps a valid refresh token.
TOKEN_KEEPALIVE_WINDOW = timedelta(hours=2)
# The languages Allegro writes its error messages in (Accept-Language).
ALLEGRO_LANGUAGES = ("en-US", "pl-PL", "uk-UA", "sk-SK", "cs-CZ", "hu-HU")


class AllegroShop(models.Model):
    _name = "allegro.shop"
    _description = "Allegro Shop"
    _inherit = ["mail.thread"]
    _order = "sequence, name, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        tracking=True,
    )
    marketplace = fields.Selection(
        MARKETPLACES,
        required=True,
        default="allegro-pl",
        tracking=True,
        help="The Allegro marketplace the account sells on by default.",
    )
    currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_currency_id",
        help="Currency in which the marketplace settles orders.",
    )
    environment = fields.Selection(
        [
            ("production", "Production"),
            ("sandbox", "Sandbox"),
            ("custom", "Custom"),
        ],
        required=True,
        default="production",
        tracking=True,
        # Whoever chooses where requests go can collect the tokens.
        groups="base.group_system",
        help="Custom lets you point the shop at any Allegro-compatible server, "
        "such as the connector's Allegro emulator.",
    )
    # Neither precomputed nor required in the model: a manager creating a shop
    # would have them computed with his rights, which may not read them
    # (_check_urls requires them instead).
    api_url = fields.Char(
        "API URL",
        compute="_compute_urls",
        store=True,
        readonly=False,
        groups="base.group_system",
        help="Base URL of Allegro's REST API.",
    )
    auth_url = fields.Char(
        "Authorization URL",
        compute="_compute_urls",
        store=True,
        readonly=False,
        groups="base.group_system",
        help="Base URL of Allegro's OAuth server (device and token endpoints).",
    )
    client_id = fields.Char(
        "Client ID", groups="base.group_system", copy=False, tracking=True
    )
    client_secret = fields.Char(groups="base.group_system", copy=False)
    state = fields.Selection(
        [
            ("not_connected", "Not connected"),
            ("pending", "Waiting for authorization"),
            ("connected", "Connected"),
            ("error", "Error"),
        ],
        default="not_connected",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
    )
    last_error = fields.Text(readonly=True, copy=False)
    seller_login = fields.Char(readonly=True, copy=False)
    seller_id = fields.Char("Seller ID", readonly=True, copy=False)
    # The device flow is the administrator's: only they connect a shop.
    device_user_code = fields.Char(
        "Authorization code", readonly=True, copy=False, groups="base.group_system"
    )
    device_verification_url = fields.Char(
        "Authorization page", readonly=True, copy=False, groups="base.group_system"
    )
    device_expires_at = fields.Datetime(
        "Authorization expires", readonly=True, copy=False, groups="base.group_system"
    )
    device_poll_interval = fields.Integer(readonly=True, copy=False, groups="base.group_system")
    token_ids = fields.One2many("allegro.shop.token", "shop_id")
    access_token = fields.Char(
        compute="_compute_tokens", groups="base.group_system"
    )
    refresh_token = fields.Char(
        compute="_compute_tokens", groups="base.group_system"
    )
    token_expires_at = fields.Datetime(
        "Token expiry", compute="_compute_tokens", groups="base.group_system"
    )

    _name_company_unique = models.Constraint(
        "UNIQUE(name, company_id)", "An Allegro shop name must be unique per company."
    )

    @api.depends("environment")
    def _compute_urls(self):
        for shop in self:
            urls = ENVIRONMENT_URLS.get(shop.environment)
            if urls:
                shop.api_url, shop.auth_url = urls

    @api.depends("marketplace")
    def _compute_currency_id(self):
        for shop in self:
            code = MARKETPLACE_CURRENCIES.get(shop.marketplace)
            shop.currency_id = self.env["res.currency"].with_context(
                active_test=False
            ).search([("name", "=", code)], limit=1)

    @api.depends("token_ids.access_token", "token_ids.expires_at")
    def _compute_tokens(self):
        for shop in self:
            token = shop.sudo().token_ids[:1]
            shop.access_token = token.access_token
            shop.refresh_token = token.refresh_token
            shop.token_expires_at = token.expires_at

    @api.model_create_multi
    def create(self, vals_list):
        shops = super().create(vals_list)
        self.env["allegro.shop.token"].sudo().create(
            [{"shop_id": shop.id} for shop in shops]
        )
        return shops

    @api.constrains("environment", "api_url", "auth_url")
    def _check_urls(self):
        for shop in self.sudo():
            for url in (shop.api_url, shop.auth_url):
                if not url:
                    raise UserError(self.env._(
                        "Shop %(shop)s needs its API and authorization URLs.", shop=shop.display_name
                    ))
                parts = urlsplit(url)
                if parts.scheme == "https" and parts.hostname:
                    continue
                if parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
                    continue
                raise UserError(
                    self.env._(
                        "%(url)s is not an https:// URL (plain http:// is accepted for "
                        "localhost only).",
                        url=url,
                    )
                )

    # ------------------------------------------------------------------
    # API access
    # ------------------------------------------------------------------

    def _allegro_oauth(self):
        self.ensure_one()
        shop = self.sudo()
        if not (shop.client_id and shop.client_secret):
            raise UserError(
                self.env._(
                    "Shop %(shop)s has no Client ID and Client Secret. Register an "
                    "application on Allegro's developer portal and enter them first.",
                    shop=self.display_name,
                )
            )
        return AllegroOAuth(
            shop.auth_url, shop.client_id, shop.client_secret, timeout=REQUEST_TIMEOUT
        )

    def _allegro_client(self):
        """An API client for this shop; tokens are refreshed as needed.

        Allegro's own messages come in the language the connector writes in
        (``env.lang``), so that a refusal reads the same as the text around it."""
        self.ensure_one()
        shop = self.sudo()
        # Every shop of one Allegro application shares its request budget.
        budget = RequestBudget(self.env, application_key(shop.api_url, shop.client_id))
        language = (self.env.lang or "").replace("_", "-")
        return AllegroClient(shop.api_url, self._allegro_token_provider(), timeout=REQUEST_TIMEOUT,
                             before_request=budget,
                             accept_language=language if language in ALLEGRO_LANGUAGES else None)

    def _allegro_lang(self):
        """The language of what the connector writes for this shop when nobody
        is at the keyboard (jobs, scheduled actions): the salesperson's, else
        the company's, as for the e-mail on new orders. Jobs and scheduled
        actions run without a user's language, and Odoo would write English."""
        self.ensure_one()
        shop = self.sudo()
        return shop.user_id.lang or shop.company_id.partner_id.lang or "en_US"

    def _in_allegro_lang(self):
        """This shop in an environment writing in its language (see ``_allegro_lang``)."""
        self.ensure_one()
        return self.with_context(lang=self._allegro_lang())

    def _allegro_error_text(self, error):
        """What to show a person of a failed call, in the language of the
        environment: Allegro's own messages kept, the client's English
        wording left out (a network failure's technical reason is in the
        server log). Other errors as they are."""
        if not isinstance(error, api_errors.AllegroError):
            return str(error) or type(error).__name__
        if isinstance(error, api_errors.AllegroTransportError):
            if error.unanswered:
                return self.env._("Allegro did not answer.")
            if not error.retryable:
                return self.env._("Allegro could not be reached at the shop's address.")
            return self.env._("Allegro could not be reached.")
        details = "; ".join(error.details())
        if error.status:
            return self.env._("Allegro answered HTTP %(status)s: %(details)s", status=error.status,
                              details=details or error.message)
        return self.env._("Connection to Allegro failed: %(error)s", error=details or error.message)

    def _allegro_token_provider(self):
        """A callable giving a valid access token, refreshing it when due.

        The token is kept in the closure: after a refresh committed on another
        cursor, this transaction's snapshot still shows the old token.
        """
        shop = self
        current = {}

        def provide(force_refresh=False):
            if not force_refresh and _is_fresh(current):
                return current["access_token"]
            if not current:
                current.update(shop._token_values(shop.sudo().token_ids[:1]))
                if not force_refresh and _is_fresh(current):
                    return current["access_token"]
            current.update(shop._refresh_tokens(current.get("access_token")))
            return current["access_token"]

        return provide

    def _token_values(self, token):
        return {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at,
        }

    def _refresh_tokens(self, stale_access_token):
        """Get a new token pair from Allegro, once per shop at any one time.

        Runs with the shop's token row locked on a cursor of its own: a second
        worker that wants to refresh waits for the first one and then takes
        the token it stored instead of spending the (rotated, single-use)
        refresh token a second time.
        """
        self.ensure_one()

        def refresh(token):
            if token.access_token != stale_access_token and _is_fresh(
                self._token_values(token)
            ):
                return  # another worker refreshed meanwhile
            if not token.refresh_token:
                raise UserError(
                    self.env._(
                        "Shop %(shop)s is not connected to Allegro: press Connect.",
                        shop=self.display_name,
                    )
                )
            try:
                tokens = self._allegro_oauth().refresh(token.refresh_token)
            except api_errors.InvalidGrant as error:
                raise UserError(
                    self.env._(
                        "Allegro no longer accepts the connection of shop %(shop)s "
                        "(%(reason)s). Press Connect to authorize it again.",
                        shop=self.display_name,
                        reason=error,
                    )
                ) from error
            token.write(_token_vals(tokens))
            _logger.info("Allegro shop %s: access token refreshed", self.id)

        return self._update_token_committed(refresh)

    def _update_token_committed(self, update):
        """Call ``update(token)`` on the locked token row and commit at once.

        Committing on a separate cursor is deliberate: Allegro invalidates a
        refresh token (or device code) as soon as it is used, so the new tokens
        must be stored even if the caller's transaction later rolls back.
        Returns the token values as stored.
        """
        self.ensure_one()
        # Under tests the other cursor shares this transaction: let it see
        # what this one wrote.
        self.env.flush_all()
        for _attempt in range(3):
            try:
                with self.env.registry.cursor() as cr:
                    env = self.env(cr=cr, su=True)
                    token = env["allegro.shop.token"].search(
                        [("shop_id", "=", self.id)], limit=1
                    )
                    if not token:
                        raise UserError(
                            self.env._(
                                "Save shop %(shop)s before connecting it.",
                                shop=self.display_name,
                            )
                        )
                    # Waits (unlike lock_for_update) while a concurrent
                    # refresh of the same shop finishes.
                    cr.execute(
                        SQL(
                            "SELECT id FROM allegro_shop_token WHERE id = %s FOR NO KEY UPDATE",
                            token.id,
                        )
                    )
                    update(token)
                    values = self._token_values(token)
            except psycopg2.errors.SerializationFailure:
                # A concurrent worker committed new tokens while we waited:
                # start over on a fresh snapshot and take them.
                continue
            self.env["allegro.shop.token"].invalidate_model()
            return values
        raise UserError(
            self.env._(
                "Could not update the Allegro tokens of shop %(shop)s: "
                "other workers kept changing them. Try again.",
                shop=self.display_name,
            )
        )

    # ------------------------------------------------------------------
    # Connection (OAuth device flow)
    # ------------------------------------------------------------------

    def action_connect(self):
        """Start Allegro's device flow: show the admin a code to confirm."""
        self.ensure_one()
        check_group(self, SYSTEM)
        try:
            device = self._allegro_oauth().start_device_flow()
        except api_errors.AllegroError as error:
            return self._notify_failure(error)
        self.sudo().token_ids.write({"device_code": device.device_code})
        self.write(
            {
                "state": "pending",
                "last_error": False,
                "device_user_code": device.user_code,
                "device_verification_url": device.verification_uri_complete
                or device.verification_uri,
                "device_expires_at": fields.Datetime.now()
                + timedelta(seconds=device.expires_in),
                "device_poll_interval": device.interval or 5,
            }
        )
        # Followers see the chatter: the code itself stays on the admin-only form.
        self.message_post(
            body=self.env._("Authorization requested on Allegro: waiting for the code to be confirmed.")
        )
        self._schedule_device_poll()
        return True

    def action_check_authorization(self):
        """Collect the tokens once the admin confirmed the code on Allegro."""
        self.ensure_one()
        check_group(self, SYSTEM)
        try:
            done = self._collect_device_token()
        except (api_errors.AllegroError, UserError) as error:
            return self._notify_failure(error)
        if self.state == "error":
            return self._notify(self.last_error, "danger")
        if not done:
            return self._notify(
                self.env._(
                    "Allegro has not confirmed the code yet. Open the authorization "
                    "page, confirm code %(code)s, then check again.",
                    code=self.device_user_code,
                ),
                "warning",
            )
        return self._notify(
            self.env._("Connected to Allegro as %(login)s.", login=self.seller_login),
            "success",
        )

    def _collect_device_token(self):
        """Exchange the device code for tokens. True once connected."""
        self.ensure_one()
        if self.state != "pending":
            return self.state == "connected"
        if self.device_expires_at and self.device_expires_at < fields.Datetime.now():
            self._set_error(
                self.env._("The authorization code expired before it was confirmed. Press Connect again.")
            )
            return False
        oauth = self._allegro_oauth()
        outcome = {}

        def exchange(token):
            if not token.device_code:
                outcome["done"] = bool(token.refresh_token)
                return  # another worker collected it already
            try:
                tokens = oauth.poll_device_token(token.device_code)
            except (api_errors.AuthorizationPending, api_errors.SlowDown):
                outcome["done"] = False
                return
            except (api_errors.AccessDenied, api_errors.ExpiredDeviceCode, api_errors.InvalidGrant) as error:
                token.device_code = False
                outcome["error"] = error
                return
            token.write(dict(_token_vals(tokens), device_code=False))
            outcome["done"] = True

        self._update_token_committed(exchange)
        if "error" in outcome:
            self._set_error(
                self.env._("Allegro refused the authorization: %(reason)s", reason=outcome["error"])
            )
            return False
        if not outcome["done"]:
            return False
        self.write(
            {
                "device_user_code": False,
                "device_verification_url": False,
                "device_expires_at": False,
            }
        )
        self._check_connection()
        return self.state == "connected"

    def _schedule_device_poll(self):
        cron = self.env.ref(
            "allegro_connector.ir_cron_collect_device_tokens", raise_if_not_found=False
        )
        if cron:
            cron._trigger(
                fields.Datetime.now() + timedelta(seconds=max(self.mapped("device_poll_interval") or [5]))
            )

    def action_test_connection(self):
        self.ensure_one()
        check_group(self, ALLEGRO_USER, "read")
        if self._check_connection():
            return self._notify(
                self.env._("Connected to Allegro as %(login)s.", login=self.seller_login),
                "success",
            )
        return self._notify(self.last_error, "danger")

    def _check_connection(self):
        """Call ``GET /me``; record the seller and the outcome on the shop."""
        self.ensure_one()
        try:
            me = self._allegro_client().get_me()
        except (api_errors.AllegroError, UserError) as error:
            if getattr(error, "retryable", False) and self.state == "connected":
                # Allegro busy or down says nothing about the connection.
                self.last_error = self._allegro_error_text(error)
                return False
            self._set_error(self._allegro_error_text(error))
            return False
        # The connection state is the connector's bookkeeping, whoever tests it.
        self.sudo().write(
            {
                "state": "connected",
                "last_error": False,
                "seller_login": me.get("login"),
                "seller_id": me.get("id"),
            }
        )
        return True

    def action_disconnect(self):
        check_group(self, SYSTEM)
        self.sudo().token_ids.write(
            {"access_token": False, "refresh_token": False, "expires_at": False, "device_code": False}
        )
        self.write(
            {
                "state": "not_connected",
                "last_error": False,
                "device_user_code": False,
                "device_verification_url": False,
                "device_expires_at": False,
            }
        )
        return True

    def _set_error(self, message):
        # Also after a user's failed import or test, who may not edit the shop.
        self.sudo().write({"state": "error", "last_error": message})
        _logger.warning("Allegro shop %s: %s", self.id, message)

    def _notify_failure(self, error):
        self._set_error(self._allegro_error_text(error))
        return self._notify(self.last_error, "danger")

    def _notify(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.display_name,
                "message": message,
                "type": kind,
                "sticky": kind == "danger",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    # ------------------------------------------------------------------
    # Scheduled actions
    # ------------------------------------------------------------------

    @api.model
    def _cron_collect_device_tokens(self):
        """Collect tokens of shops whose admin confirmed the code on Allegro."""
        pending = self.search([("state", "=", "pending")])
        for shop in pending:
            shop = shop._in_allegro_lang()
            try:
                shop._collect_device_token()
            except (api_errors.AllegroError, UserError) as error:
                if not getattr(error, "retryable", False):  # else polled again, still pending
                    shop._set_error(shop._allegro_error_text(error))
        still_pending = pending.filtered(lambda s: s.state == "pending")
        if still_pending:
            still_pending._schedule_device_poll()

    @api.model
    def _cron_refresh_tokens(self):
        """Refresh tokens about to expire, so idle shops stay connected."""
        soon = fields.Datetime.now() + TOKEN_KEEPALIVE_WINDOW
        tokens = self.env["allegro.shop.token"].sudo().search(
            [
                ("shop_id.state", "=", "connected"),
                ("refresh_token", "!=", False),
                ("expires_at", "<", soon),
            ]
        )
        for shop in tokens.shop_id.sudo(False):
            shop = shop._in_allegro_lang()
            try:
                shop._refresh_tokens(shop.sudo().token_ids[:1].access_token)
            except (api_errors.AllegroError, UserError) as error:
                if getattr(error, "retryable", False):
                    # Allegro's OAuth server busy (429), down (5xx) or not
                    # answering: the refresh token is still good, the shop
                    # stays connected and the next run tries again.
                    _logger.warning("Allegro shop %s: token not refreshed yet: %s", shop.id, error)
                    continue
                shop._set_error(shop._allegro_error_text(error))


def _is_fresh(token_values):
    expires_at = token_values.get("expires_at")
    return bool(
        token_values.get("access_token")
        and expires_at
        and expires_at > fields.Datetime.now() + TOKEN_REFRESH_MARGIN
    )


def _token_vals(tokens):
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": fields.Datetime.now() + timedelta(seconds=tokens.expires_in),
    }
