"""OAuth of a shop: its tokens, the device flow that obtains them and the
refresh that keeps them. The shop's buttons and schedules call these methods,
which take the shop; tokens are read with sudo here and nowhere else."""

import logging
from datetime import timedelta

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..allegro_api import AllegroOAuth
from ..allegro_api import errors as api_errors
from .allegro_shop import REQUEST_TIMEOUT

_logger = logging.getLogger(__name__)

# An access token this close to its expiry is refreshed before use, so that a
# request never starts with a token that dies on the way.
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)


class AllegroShopToken(models.Model):
    """OAuth secrets of one Allegro shop.

    They live apart from ``allegro.shop`` because a token refresh is committed
    on a cursor of its own (Allegro rotates refresh tokens, so a new pair must
    survive whatever happens to the caller's transaction). That cursor locks
    this row only, so it never waits on - or deadlocks with - a transaction
    that is busy editing the shop record itself.
    """

    _name = "allegro.shop.token"
    _description = "Allegro Shop Tokens"

    shop_id = fields.Many2one(
        "allegro.shop", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    access_token = fields.Char(copy=False)
    refresh_token = fields.Char(copy=False)
    expires_at = fields.Datetime(copy=False)
    device_code = fields.Char(copy=False)

    _shop_unique = models.Constraint(
        "UNIQUE(shop_id)", "A shop has one set of tokens."
    )

    def _token_values(self):
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        }

    @api.model
    def _allegro_oauth(self, shop):
        shop.ensure_one()
        shop_su = shop.sudo()
        if not (shop_su.client_key and shop_su.client_secret):
            raise UserError(
                shop.env._(
                    "Shop %(shop)s has no Client ID and Client Secret. Register an "
                    "application on Allegro's developer portal and enter them first.",
                    shop=shop.display_name,
                )
            )
        return AllegroOAuth(
            shop_su.auth_url, shop_su.client_key, shop_su.client_secret, timeout=REQUEST_TIMEOUT
        )

    @api.model
    def _allegro_token_provider(self, shop):
        """A callable giving a valid access token, refreshing it when due.

        The token is kept in the closure: after a refresh committed on another
        cursor, this transaction's snapshot still shows the old token.
        """
        current = {}

        def provide(force_refresh=False):
            if not force_refresh and _is_fresh(current):
                return current["access_token"]
            if not current:
                current.update(shop.sudo().token_ids[:1]._token_values())
                if not force_refresh and _is_fresh(current):
                    return current["access_token"]
            current.update(self._refresh_tokens(shop, current.get("access_token")))
            return current["access_token"]

        return provide

    @api.model
    def _refresh_tokens(self, shop, stale_access_token):
        """Get a new token pair from Allegro, once per shop at any one time.

        Runs with the shop's token row locked on a cursor of its own: a second
        worker that wants to refresh waits for the first one and then takes
        the token it stored instead of spending the (rotated, single-use)
        refresh token a second time.
        """
        shop.ensure_one()

        def refresh(token):
            if token.access_token != stale_access_token and _is_fresh(
                token._token_values()
            ):
                return  # another worker refreshed meanwhile
            if not token.refresh_token:
                raise UserError(
                    shop.env._(
                        "Shop %(shop)s is not connected to Allegro: press Connect.",
                        shop=shop.display_name,
                    )
                )
            try:
                tokens = self._allegro_oauth(shop).refresh(token.refresh_token)
            except api_errors.InvalidGrant as error:
                raise UserError(
                    shop.env._(
                        "Allegro no longer accepts the connection of shop %(shop)s "
                        "(%(reason)s). Press Connect to authorize it again.",
                        shop=shop.display_name,
                        reason=error,
                    )
                ) from error
            token.write(_token_vals(tokens))
            _logger.info("Allegro shop %s: access token refreshed", shop.id)

        return self._update_token_committed(shop, refresh)

    @api.model
    def _keep_alive(self, shop):
        """Refresh the shop's tokens now, unless another worker just did (see ``_refresh_tokens``)."""
        return self._refresh_tokens(shop, shop.sudo().token_ids[:1].access_token)

    @api.model
    def _update_token_committed(self, shop, update):
        """Call ``update(token)`` on the shop's locked token row and commit at once.

        Committing on a separate cursor is deliberate: Allegro invalidates a
        refresh token (or device code) as soon as it is used, so the new tokens
        must be stored even if the caller's transaction later rolls back.
        Returns the token values as stored.
        """
        shop.ensure_one()
        # Under tests the other cursor shares this transaction: let it see
        # what this one wrote.
        shop.env.flush_all()
        for _attempt in range(3):
            try:
                with shop.env.registry.cursor() as cr:
                    env = shop.env(cr=cr, su=True)
                    token = env["allegro.shop.token"].search(
                        [("shop_id", "=", shop.id)], limit=1
                    )
                    if not token:
                        raise UserError(
                            shop.env._(
                                "Save shop %(shop)s before connecting it.",
                                shop=shop.display_name,
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
                    values = token._token_values()
            except psycopg2.errors.SerializationFailure:
                # A concurrent worker committed new tokens while we waited:
                # start over on a fresh snapshot and take them.
                continue
            shop.env["allegro.shop.token"].invalidate_model()
            return values
        raise UserError(
            shop.env._(
                "Could not update the Allegro tokens of shop %(shop)s: "
                "other workers kept changing them. Try again.",
                shop=shop.display_name,
            )
        )

    # ------------------------------------------------------------------
    # Device flow
    # ------------------------------------------------------------------

    @api.model
    def _start_device_flow(self, shop):
        """Ask Allegro for a device code and keep it; returns Allegro's answer."""
        device = self._allegro_oauth(shop).start_device_flow()
        shop.sudo().token_ids.write({"device_code": device.device_code})
        return device

    @api.model
    def _collect_device_token(self, shop):
        """Exchange the shop's device code for tokens. True once connected."""
        shop.ensure_one()
        if shop.state != "pending":
            return shop.state == "connected"
        if shop.device_expires_at and shop.device_expires_at < fields.Datetime.now():
            shop._set_error(
                shop.env._("The authorization code expired before it was confirmed. Press Connect again.")
            )
            return False
        oauth = self._allegro_oauth(shop)
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

        self._update_token_committed(shop, exchange)
        if "error" in outcome:
            shop._set_error(
                shop.env._("Allegro refused the authorization: %(reason)s", reason=outcome["error"])
            )
            return False
        if not outcome["done"]:
            return False
        shop.write(
            {
                "device_user_code": False,
                "device_verification_url": False,
                "device_expires_at": False,
            }
        )
        shop._check_connection()
        return shop.state == "connected"

    @api.model
    def _forget_tokens(self, shop):
        shop.sudo().token_ids.write(
            {"access_token": False, "refresh_token": False, "expires_at": False, "device_code": False}
        )


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
