"""The Allegro shop: its settings, its buttons and its schedules.

The work is done by units that take the shop: ``allegro.shop.token``
(OAuth, device flow, token refresh), ``allegro.importer`` (orders) and
``allegro.offer.sync`` (offers, stock and prices)."""

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..allegro_api import (
    DEFAULT_API_URL,
    DEFAULT_AUTH_URL,
    SANDBOX_API_URL,
    SANDBOX_AUTH_URL,
    AllegroClient,
)
from ..allegro_api import errors as api_errors
from ..const import (CHANNEL_IMPORT, CHANNEL_MESSAGES, CHANNEL_OFFERS, KEY_IMPORT, KEY_MESSAGES_READ,
                     KEY_OFFER_EVENTS, KEY_OFFERS_RECONCILE, KEY_RETURNS, KEY_STOCK_SEND, MARKETPLACE_CURRENCIES,
                     MARKETPLACES)
from .allegro_money import KEY_MONEY
from .allegro_request_budget import RequestBudget, application_key
from .allegro_rights import ALLEGRO_MANAGER, ALLEGRO_USER, BILLING, SYSTEM, check_group

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
# The keep-alive cron refreshes tokens that expire within this window, so an
# idle shop keeps a valid refresh token.
TOKEN_KEEPALIVE_WINDOW = timedelta(hours=2)
# The languages Allegro writes its error messages in (Accept-Language).
ALLEGRO_LANGUAGES = ("en-US", "pl-PL", "uk-UA", "sk-SK", "cs-CZ", "hu-HU")
# Stock changes are collected for this long, then sent in one go.
STOCK_SEND_DELAY = timedelta(seconds=20)


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
    client_key = fields.Char(
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
    seller_ref = fields.Char("Seller ID", readonly=True, copy=False)
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

    # Import of orders
    import_start_date = fields.Datetime(
        "Import orders since",
        default=lambda self: fields.Datetime.now() - timedelta(days=14),
        help="The first import reads orders bought since then; later imports follow Allegro's event journal.",
    )
    order_event_cursor = fields.Char("Last order event", readonly=True, copy=False,
                                     help="Cursor in Allegro's order event journal.")
    initial_import_done = fields.Boolean(readonly=True, copy=False)
    initial_import_mark = fields.Datetime(
        "First import read up to", readonly=True, copy=False,
        help="While the first import runs in several parts: orders bought until then are in Odoo.")
    last_sweep_at = fields.Datetime("Last sweep", readonly=True, copy=False)
    sweep_mark = fields.Datetime(
        "Sweep read up to", readonly=True, copy=False,
        help="While a sweep runs in several parts: orders updated on Allegro until then were read.")
    sweep_overlap_minutes = fields.Integer(
        "Sweep overlap (minutes)", default=60,
        help="The sweep re-reads orders updated on Allegro since the previous sweep minus this margin.",
    )
    unpaid_recheck_days = fields.Integer(
        "Re-check unpaid orders for (days)", default=14,
        help="Unpaid orders bought within this many days are re-read at each sweep "
        "(payment arriving, address edited).",
    )
    confirm_policy = fields.Selection(
        [
            ("never", "Never: I confirm them"),
            ("paid", "When paid or cash on delivery"),
            ("always", "Always"),
        ],
        string="Confirm sale orders",
        default="paid",
        required=True,
        help="Confirming creates the delivery, which reserves the stock.",
    )
    unmanaged_policy = fields.Selection(
        [
            ("hold", "Hold the order until its products are mapped"),
            ("placeholder", "Use the placeholder product"),
        ],
        string="Items matching no product",
        default="hold",
        required=True,
    )
    placeholder_product_id = fields.Many2one("product.product", check_company=True)
    delivery_product_id = fields.Many2one(
        "product.product", check_company=True,
        help="Product of the delivery line when the Allegro delivery method has no carrier mapped.",
    )
    warehouse_id = fields.Many2one("stock.warehouse", check_company=True)
    team_id = fields.Many2one("crm.team", "Sales team", check_company=True)
    user_id = fields.Many2one("res.users", "Salesperson")
    pricelist_ids = fields.Many2many(
        "product.pricelist", string="Pricelists",
        help="One per currency. Orders in a currency with no pricelist here get the first "
        "pricelist of the company in that currency, or a new one.",
    )
    notify_email = fields.Char("E-mail on new orders",
                               help="Address that gets an e-mail for every new Allegro order.")
    notify_buyer = fields.Boolean(
        "E-mail the buyer", help="Off by default: Allegro already informs the buyer."
    )
    invoice_policy = fields.Selection(
        [("never", "Never"), ("paid", "When the order is paid"), ("delivered", "When the delivery is validated")],
        string="Create invoices", default="never", required=True,
    )
    invoice_post = fields.Boolean(
        "Post invoices", help="Off: invoices stay drafts for the accountant to check and post.")
    invoice_data_source = fields.Selection(
        [("account", "The account owner's data"), ("delivery", "The delivery data")],
        string="Invoice data when none was asked for", default="account", required=True,
        help="Whose name and address an invoice carries when the buyer did not ask for one.",
    )
    payment_journal_id = fields.Many2one(
        "account.journal", "Register Allegro payments in", check_company=True,
        domain="[('type', 'in', ('bank', 'cash'))]",
        help="Posted invoices of orders Allegro says are paid are registered as paid in this journal "
        "(not when the shop books Allegro's fees and payments: the wallet's operations pay them then).",
    )
    close_on_invoice = fields.Boolean(
        "Close orders once invoiced", help="The order's status turns Closed when its invoice is posted.")
    refund_policy = fields.Selection(
        [("confirm", "A person confirms them"), ("auto", "Sent at once")],
        string="Refunds to buyers", default="confirm", required=True,
        help="Refunds prepared by a return or the Refund action: a person with the billing or Allegro manager "
        "right confirms each before the money goes back, or they go to Allegro at once.")
    order_count = fields.Integer(compute="_compute_order_count")
    # Buyers' returns (read by allegro.customer.return)
    return_cursor = fields.Char("Last return read", readonly=True, copy=False,
                                help="The last buyer's return read from Allegro: the next read starts after it.")
    return_unshipped_policy = fields.Selection(
        [("receipt", "Wait for the receipt"), ("refund", "Refund at once")],
        string="Returns not shipped back", default="receipt", required=True,
        help="A return without a parcel (the buyer keeps or disposes of the items): wait until the warehouse "
        "validates its receipt, or prepare the refund as soon as the return is read.")
    import_run_ids = fields.One2many("allegro.import.run", "shop_id")

    # Offers, stock and prices
    offer_ids = fields.One2many("allegro.offer", "shop_id")
    offer_count = fields.Integer(compute="_compute_offer_count")
    stock_sync = fields.Boolean(
        "Send stock to Allegro",
        help="Keep the available quantity of linked offers equal to Odoo's free quantity.",
    )
    stock_warehouse_ids = fields.Many2many(
        "stock.warehouse",
        string="Warehouses counted",
        check_company=True,
        domain="[('company_id', '=', company_id)]",
        help="Warehouses whose free quantity Allegro may sell; all warehouses of the company when empty.",
    )
    stock_buffer = fields.Integer(
        "Safety buffer",
        help="Units kept back from Allegro: offers show the free quantity minus this number, never below zero.",
    )
    stock_split = fields.Selection(
        [("whole", "Whole free stock in every offer"), ("split", "Split between the offers")],
        "Several offers of a product", default="whole",
        help="When a product is sold through several offers (in this shop or in the company's other shops): "
        "either every offer shows the whole free quantity, and a sale on one updates all the others at once "
        "(two buyers may still buy the last unit in the same moment), or the free quantity is shared out "
        "between the offers, so that together they never show more than Odoo can ship.",
    )
    stock_reactivate = fields.Boolean(
        "Re-activate on restock",
        default=True,
        help="An offer ended because Odoo had no stock left is activated again when stock comes back. "
        "Offers are always ended at zero: Allegro refuses a quantity of 0.",
    )
    price_sync = fields.Boolean(
        "Send prices to Allegro",
        help="Set the price of linked offers on each marketplace from the pricelist chosen for it.",
    )
    price_pricelist_ids = fields.One2many("allegro.shop.pricelist", "shop_id", string="Price sources")
    offer_event_cursor = fields.Char(readonly=True, copy=False, groups="base.group_system",
                                     help="Last offer event read from Allegro's journal.")
    offers_read_at = fields.Datetime("Offers read", readonly=True, copy=False)

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

    @api.constrains("unmanaged_policy", "placeholder_product_id")
    def _check_placeholder(self):
        for shop in self:
            if shop.unmanaged_policy == "placeholder" and not shop.placeholder_product_id:
                raise UserError(self.env._("Choose the placeholder product of shop %(shop)s.", shop=shop.name))

    def _compute_order_count(self):
        counts = dict(self.env["allegro.order"]._read_group(
            [("shop_id", "in", self.ids)], ["shop_id"], ["__count"]
        ))
        for shop in self:
            shop.order_count = counts.get(shop, 0)

    def _compute_offer_count(self):
        counts = dict(self.env["allegro.offer"]._read_group([("shop_id", "in", self.ids)], ["shop_id"], ["__count"]))
        for shop in self:
            shop.offer_count = counts.get(shop, 0)

    def write(self, vals):
        result = super().write(vals)
        if {"stock_sync", "stock_warehouse_ids", "stock_buffer", "stock_reactivate", "stock_split"} & set(vals):
            for shop in self.filtered("stock_sync"):
                shop.offer_ids.filtered("product_id")._mark_stock_dirty()
        return result

    # ------------------------------------------------------------------
    # API access
    # ------------------------------------------------------------------

    def _allegro_client(self):
        """An API client for this shop; tokens are refreshed as needed.

        Allegro's own messages come in the language the connector writes in
        (``env.lang``), so that a refusal reads the same as the text around it."""
        self.ensure_one()
        shop = self.sudo()
        # Every shop of one Allegro application shares its request budget.
        budget = RequestBudget(self.env, application_key(shop.api_url, shop.client_key))
        language = (self.env.lang or "").replace("_", "-")
        tokens = self.env["allegro.shop.token"]._allegro_token_provider(self)
        return AllegroClient(shop.api_url, tokens, timeout=REQUEST_TIMEOUT,
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

    # ------------------------------------------------------------------
    # Connection (OAuth device flow)
    # ------------------------------------------------------------------

    def action_connect(self):
        """Start Allegro's device flow: show the admin a code to confirm."""
        self.ensure_one()
        check_group(self, SYSTEM)
        try:
            device = self.env["allegro.shop.token"]._start_device_flow(self)
        except api_errors.AllegroError as error:
            return self._notify_failure(error)
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
            done = self.env["allegro.shop.token"]._collect_device_token(self)
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
                "seller_ref": me.get("id"),
            }
        )
        return True

    def action_disconnect(self):
        check_group(self, SYSTEM)
        self.env["allegro.shop.token"]._forget_tokens(self)
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
                shop.env["allegro.shop.token"]._collect_device_token(shop)
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
                shop.env["allegro.shop.token"]._keep_alive(shop)
            except (api_errors.AllegroError, UserError) as error:
                if getattr(error, "retryable", False):
                    # Allegro's OAuth server busy (429), down (5xx) or not
                    # answering: the refresh token is still good, the shop
                    # stays connected and the next run tries again.
                    _logger.warning("Allegro shop %s: token not refreshed yet: %s", shop.id, error)
                    continue
                shop._set_error(shop._allegro_error_text(error))

    # ------------------------------------------------------------------
    # Orders (the import itself is allegro.importer)
    # ------------------------------------------------------------------

    def action_update_carriers(self):
        """Read the carriers Allegro accepts with tracking numbers."""
        self.ensure_one()
        check_group(self, ALLEGRO_MANAGER)
        self.env["allegro.carrier"]._update_from(
            self.company_id, self._allegro_client().get_carriers().get("carriers") or []
        )
        return self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_carrier")

    def action_view_orders(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_order")
        action["domain"] = [("shop_id", "in", self.ids)]
        return action

    def action_fetch_orders(self):
        self.ensure_one()
        check_group(self, ALLEGRO_USER, "read")
        summary = self.env["allegro.importer"]._run_import(self)
        kind = "danger" if summary["state"] == "failed" else "success"
        if summary["state"] == "skipped":
            kind = "warning"
        return self._notify(summary["message"], kind)

    @api.model
    def _cron_fetch_orders(self):
        self.search([("state", "=", "connected")])._enqueue_imports()

    @api.model
    def _cron_sweep_orders(self):
        self.search([("state", "=", "connected"), ("initial_import_done", "=", True)])._enqueue_imports(sweep=True)

    def _enqueue_imports(self, sweep=False):
        """One job per shop, so that several shops import side by side on
        several workers and one shop's failure stays its own. The identity key
        keeps a shop from being queued twice; the shop's lock keeps two jobs
        from importing it at once."""
        for shop in self:
            kind = "sweep" if sweep else "fetch"
            shop.with_delay(
                channel=CHANNEL_IMPORT,
                identity_key=KEY_IMPORT % (kind, shop.id),
                description=self.env._("Allegro: import orders of %(shop)s", shop=shop.display_name),
            )._import_job(sweep=sweep)

    def action_fetch_returns(self):
        self.ensure_one()
        check_group(self, ALLEGRO_USER, "read")
        summary = self.env["allegro.customer.return"]._run_fetch(self)
        return self._notify(summary["message"], {"failed": "danger", "skipped": "warning"}.get(summary["state"],
                                                                                                 "success"))

    @api.model
    def _cron_fetch_returns(self):
        self.search([("state", "=", "connected")])._enqueue_return_fetch()

    def _enqueue_return_fetch(self):
        for shop in self:
            shop.with_delay(
                channel=CHANNEL_IMPORT,
                identity_key=KEY_RETURNS % shop.id,
                description=self.env._("Allegro: read returns of %(shop)s", shop=shop.display_name),
            )._fetch_returns_job()

    def _fetch_returns_job(self):
        self.ensure_one()
        shop = self._in_allegro_lang()
        return shop.env["allegro.customer.return"]._run_fetch(shop)["message"]

    def _import_job(self, sweep=False):
        self.ensure_one()
        # Orders, notes and flags in the shop's language, not in the one the job was queued in.
        shop = self._in_allegro_lang()
        return shop.env["allegro.importer"]._run_import(shop, sweep=sweep)["message"]

    # ------------------------------------------------------------------
    # Offers (the engine is allegro.offer.sync)
    # ------------------------------------------------------------------

    def action_read_offers(self):
        """Read every offer now, then send what differs."""
        sync = self.env["allegro.offer.sync"]
        for shop in self:
            try:
                sync._read_offers(shop)
            except api_errors.AllegroError as exc:
                raise UserError(self.env._("Allegro did not return the offer list: %(error)s", error=exc)) from exc
            if shop.stock_sync or shop.price_sync:
                sync._send_offer_updates(shop, shop.offer_ids.filtered("product_id"))
        return self.action_view_offers()

    def action_view_offers(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_offer")
        action["domain"] = [("shop_id", "in", self.ids)]
        return action

    def _offer_shops(self):
        return self.search([("state", "=", "connected")])

    @api.model
    def _cron_reconcile_offers(self):
        """Full read of every shop's offers, which also finds stock changed by hand on Allegro."""
        for shop in self._offer_shops():
            shop.with_delay(channel=CHANNEL_OFFERS, identity_key=KEY_OFFERS_RECONCILE % shop.id,
                            description="Allegro: read offers of %s and reconcile" % shop.name
                            )._job_reconcile_offers()

    @api.model
    def _cron_read_offer_events(self):
        for shop in self._offer_shops():
            shop.with_delay(channel=CHANNEL_OFFERS, identity_key=KEY_OFFER_EVENTS % shop.id,
                            description="Allegro: offer events of %s" % shop.name)._job_read_offer_events()

    def _schedule_stock_send(self):
        """One send per shop, a little later, so that a burst of stock moves makes one batch."""
        eta = fields.Datetime.now() + STOCK_SEND_DELAY
        for shop in self.filtered("stock_sync").with_user(SUPERUSER_ID):
            shop.with_delay(channel=CHANNEL_OFFERS, eta=eta, identity_key=KEY_STOCK_SEND % shop.id,
                            description="Allegro: send stock of %s" % shop.name)._job_send_stock()

    # Jobs: Allegro's refusals and the offers' states in the shop's language.

    def _job_reconcile_offers(self):
        self.ensure_one()
        shop = self._in_allegro_lang()
        shop.env["allegro.offer.sync"]._reconcile_offers(shop)

    def _job_send_stock(self):
        self.ensure_one()
        shop = self._in_allegro_lang()
        shop.env["allegro.offer.sync"]._send_stock(shop)

    def _hold_work_lock(self, key):
        """Whether this transaction now holds, until its commit, the shop's lock of one kind of work
        (``key``: reading returns, messages or money): two workers never do it at once, and none
        holds the shop's row, which the order import and the seller editing the shop lock. An
        advisory lock, which the ORM does not offer."""
        self.ensure_one()
        self.env.cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", key, self.id))
        return self.env.cr.fetchone()[0]

    def _job_read_offer_events(self):
        self.ensure_one()
        shop = self._in_allegro_lang()
        shop.env["allegro.offer.sync"]._follow_offer_events(shop)

    # ------------------------------------------------------------------
    # Buyers' messages and issues (read by allegro.message.reader)
    # ------------------------------------------------------------------

    message_position = fields.Char(
        "Last message read", readonly=True, copy=False,
        help="Allegro's time of the newest conversation read: the next read lists only newer ones.")
    responsible_user_id = fields.Many2one(
        "res.users", "Responsible for buyers",
        help="Gets an activity for each issue a buyer opens, due on Allegro's deadline. Empty: the "
        "salesperson, else the shop's creator.")
    thread_ids = fields.One2many("allegro.thread", "shop_id", "Conversations")
    unread_thread_count = fields.Integer("Unread conversations", compute="_compute_unread_thread_count")

    def _compute_unread_thread_count(self):
        counts = dict(self.env["allegro.thread"]._read_group(
            [("shop_id", "in", self.ids), ("read", "=", False)], ["shop_id"], ["__count"]))
        for shop in self:
            shop.unread_thread_count = counts.get(shop, 0)

    def action_view_unread_threads(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_thread")
        action["domain"] = [("shop_id", "=", self.id), ("read", "=", False)]
        return action

    def action_read_messages(self):
        self.ensure_one()
        check_group(self, ALLEGRO_USER, "read")
        state = self.env["allegro.message.reader"]._run(self)
        if state == "continues":
            self._enqueue_message_reads()
        if state == "failed":
            return self._notify(self.env._("Allegro could not be read now; the next run tries again."), "danger")
        return self._notify(self.env._("Messages and issues read."), "success")

    @api.model
    def _cron_read_messages(self):
        self.search([("state", "=", "connected")])._enqueue_message_reads()

    def _enqueue_message_reads(self):
        for shop in self:
            shop.with_delay(
                channel=CHANNEL_MESSAGES, identity_key=KEY_MESSAGES_READ % shop.id,
                description=self.env._("Allegro: messages of %(shop)s", shop=shop.display_name),
            )._read_messages_job()

    def _read_messages_job(self):
        self.ensure_one()
        shop = self._in_allegro_lang()
        state = shop.env["allegro.message.reader"]._run(shop)
        if state == "continues":
            shop._enqueue_message_reads()
        return state

    # ------------------------------------------------------------------
    # Allegro's money: fees and wallets in the books (allegro.money)
    # ------------------------------------------------------------------

    book_allegro_money = fields.Boolean(
        "Book Allegro's fees and payments", groups="account.group_account_invoice",
        help="Read the shop's fees and wallet operations from Allegro and book them. Buyers' payments and "
        "refunds then come from the wallet: invoices and credit notes are no longer paid on their own.")
    money_fees_position = fields.Datetime(
        "Fees read up to", readonly=True, copy=False, groups="account.group_account_invoice")
    money_operations_position = fields.Datetime(
        "Payments read up to", readonly=True, copy=False, groups="account.group_account_invoice")
    payout_journal_id = fields.Many2one(
        "account.journal", "Bank for payouts", check_company=True, domain="[('type', '=', 'bank')]",
        groups="account.group_account_invoice",
        help="The bank account Allegro pays out to: each payout's statement line there is matched to it.")
    allegro_fee_booking = fields.Selection(
        related="company_id.allegro_fee_booking", readonly=False, groups="account.group_account_invoice")
    wallet_journal_ids = fields.One2many(
        "account.journal", "allegro_shop_id", "Allegro payments journals", readonly=True,
        groups="account.group_account_invoice")

    def _allegro_wallet_journal(self, currency):
        """The shop's Allegro payments journal in ``currency``, made on first use: a bank-type
        journal whose payments go straight to its own account, so its balance is the wallet's."""
        self.ensure_one()
        Journal = self.env["account.journal"].sudo()
        journal = Journal.search([("allegro_shop_id", "=", self.id), ("currency_id", "=", currency.id)], limit=1)
        if journal:
            return journal
        company = self.company_id
        if not currency.active:
            currency.sudo().active = True
        used = set(Journal.with_context(active_test=False).search([("company_id", "=", company.id)]).mapped("code"))
        code = next((c for c in ["AL" + currency.name[:3]] + ["A%d%s" % (n, currency.name[:3]) for n in range(1, 10)]
                     if c not in used), False)
        journal = Journal.create({
            "name": self.env._("Allegro payments %(currency)s (%(shop)s)", currency=currency.name, shop=self.name),
            "type": "bank",
            "code": code,
            "company_id": company.id,
            "currency_id": currency.id if currency != company.currency_id else False,
            "allegro_shop_id": self.id,
        })
        if not journal.currency_id:
            journal.currency_id = currency
        (journal.inbound_payment_method_line_ids | journal.outbound_payment_method_line_ids).write(
            {"payment_account_id": journal.default_account_id.id})
        return journal

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def action_fetch_money(self):
        """Read and book the shop's fees and payments now."""
        self.ensure_one()
        check_group(self, BILLING, "read")
        if not self.sudo().book_allegro_money:
            raise UserError(self.env._("Turn on *Book Allegro's fees and payments* on the shop first."))
        summary = self.env["allegro.money"]._run(self)
        if summary["state"] == "failed":
            raise UserError(summary["message"])
        return self._notify(summary["message"], "success" if summary["state"] != "skipped" else "warning")

    def action_view_fees(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_billing_entry")
        action["domain"] = [("shop_id", "=", self.id)]
        return action

    def action_view_payment_operations(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_payment_operation")
        action["domain"] = [("shop_id", "=", self.id)]
        return action

    def action_view_balance_differences(self):
        """The operations that make Allegro's wallet and the Allegro journal differ: those not booked."""
        action = self.action_view_payment_operations()
        action["domain"] = [("shop_id", "=", self.id), ("state", "!=", "booked")]
        action["name"] = self.env._("Operations not in the books")
        return action

    # ------------------------------------------------------------------
    # Scheduled
    # ------------------------------------------------------------------

    @api.model
    def _cron_fetch_money(self):
        self.search([("state", "=", "connected"), ("book_allegro_money", "=", True)])._enqueue_money()

    def _enqueue_money(self):
        for shop in self:
            shop.with_delay(
                channel=CHANNEL_IMPORT, identity_key=KEY_MONEY % shop.id,
                description=self.env._("Allegro: fees and payments of %(shop)s", shop=shop.display_name),
            )._money_job()

    def _money_job(self):
        self.ensure_one()
        shop = self._in_allegro_lang()
        return shop.env["allegro.money"]._run(shop)["message"]
