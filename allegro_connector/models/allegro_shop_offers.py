import logging
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError

from ..allegro_api import errors as api_errors
from ..allegro_api.client import MAX_OFFERS_PER_COMMAND
from ..const import MARKETPLACE_CURRENCIES, MARKETPLACES

_logger = logging.getLogger(__name__)

OFFER_PAGE_SIZE = 1000
# Stock changes are collected for this long, then sent in one go.
STOCK_SEND_DELAY = timedelta(seconds=20)
# How soon commands whose tasks Allegro has not carried out yet are read again.
COMMAND_RECHECK_DELAY = timedelta(seconds=10)
# A journal naming more offers than this is cheaper to follow by reading the whole list.
EVENT_OFFERS_LOOKUP_LIMIT = 200
EVENT_LOOKUP_CHUNK = 50
JOB_CHANNEL = "root.allegro.offers"
# Allegro down or busy: the job runs again later (its sends are FIXED values, safe to repeat).
TEMPORARY_ERRORS = (api_errors.AllegroRateLimited, api_errors.AllegroServerError, api_errors.AllegroTransportError)
RETRY_AFTER_SECONDS = 60


@contextmanager
def _retry_when_allegro_is_away():
    try:
        yield
    except TEMPORARY_ERRORS as exc:
        raise RetryableJobError(str(exc), seconds=RETRY_AFTER_SECONDS) from exc


# Allegro shows these prices in whole units.
WHOLE_UNIT_CURRENCIES = ("CZK", "HUF")


class AllegroShop(models.Model):
    """Offers of a shop: reading them from Allegro and keeping their stock (and prices) in step with Odoo."""

    _inherit = "allegro.shop"

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

    def _compute_offer_count(self):
        counts = dict(self.env["allegro.offer"]._read_group([("shop_id", "in", self.ids)], ["shop_id"], ["__count"]))
        for shop in self:
            shop.offer_count = counts.get(shop, 0)

    def write(self, vals):
        result = super().write(vals)
        if {"stock_sync", "stock_warehouse_ids", "stock_buffer", "stock_reactivate"} & set(vals):
            for shop in self.filtered("stock_sync"):
                shop.offer_ids.filtered("product_id")._mark_stock_dirty()
        return result

    # ------------------------------------------------------------------
    # Buttons, crons
    # ------------------------------------------------------------------
    def action_read_offers(self):
        """Read every offer now, then send what differs."""
        for shop in self:
            try:
                shop._read_offers()
            except api_errors.AllegroError as exc:
                raise UserError(self.env._("Allegro did not return the offer list: %(error)s", error=exc)) from exc
            if shop.stock_sync or shop.price_sync:
                shop._send_offer_updates(shop.offer_ids.filtered("product_id"))
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
            shop.with_delay(channel=JOB_CHANNEL, identity_key="allegro-offers-reconcile-%d" % shop.id,
                            description="Allegro: read offers of %s and reconcile" % shop.name
                            )._job_reconcile_offers()

    @api.model
    def _cron_read_offer_events(self):
        for shop in self._offer_shops():
            shop.with_delay(channel=JOB_CHANNEL, identity_key="allegro-offer-events-%d" % shop.id,
                            description="Allegro: offer events of %s" % shop.name)._job_read_offer_events()

    def _schedule_stock_send(self):
        """One send per shop, a little later, so that a burst of stock moves makes one batch."""
        eta = fields.Datetime.now() + STOCK_SEND_DELAY
        for shop in self.filtered("stock_sync").with_user(SUPERUSER_ID):
            shop.with_delay(channel=JOB_CHANNEL, eta=eta, identity_key="allegro-stock-send-%d" % shop.id,
                            description="Allegro: send stock of %s" % shop.name)._job_send_stock()

    # ------------------------------------------------------------------
    # Jobs (Allegro's refusals and the offers' states in the shop's language)
    # ------------------------------------------------------------------
    def _job_reconcile_offers(self):
        self.ensure_one()
        shop = self._in_allegro_lang()
        with _retry_when_allegro_is_away():
            shop._read_offers()
            if shop.stock_sync or shop.price_sync:
                shop._send_offer_updates(shop.offer_ids.filtered("product_id"))

    def _job_send_stock(self):
        self.ensure_one()
        shop = self._in_allegro_lang()
        offers = shop.env["allegro.offer"].search([("shop_id", "=", shop.id), ("stock_dirty", "=", True),
                                                   ("product_id", "!=", False)])
        if offers and shop.stock_sync:
            with _retry_when_allegro_is_away():
                shop._send_offer_updates(offers, prices=False)

    def _job_read_offer_events(self):
        self.ensure_one()
        with _retry_when_allegro_is_away():
            self._in_allegro_lang()._read_offer_events()

    def _job_read_command_tasks(self, commands):
        """Read commands whose tasks were still NEW; again later while some still are."""
        self.ensure_one()
        shop = self._in_allegro_lang()
        with _retry_when_allegro_is_away():
            shop._read_command_tasks(shop._allegro_client(), commands)

    # ------------------------------------------------------------------
    # Reading offers
    # ------------------------------------------------------------------
    def _read_offers(self, mark_drift=True):
        """Every offer of the shop, all marketplaces, into the offer list; new ones linked to products."""
        self.ensure_one()
        client = self._allegro_client()
        listing = list(client.iter_offers(page_size=OFFER_PAGE_SIZE))
        self._store_offers(listing, mark_drift=mark_drift)
        self.sudo().offers_read_at = fields.Datetime.now()
        return len(listing)

    def _store_offers(self, listing, mark_drift=True):
        """Create or update offers from OfferListingDto entries; only changed values are written.

        ``mark_drift``: offers whose Allegro stock now differs from Odoo's are
        queued to be sent again. Not for the journal: a purchase lowers Allegro's
        stock before its order reaches Odoo, and sending Odoo's figure back in
        that window would sell the same item twice.
        """
        Offer = self.env["allegro.offer"]
        existing = {o.offer_id: o for o in Offer.search([("shop_id", "=", self.id),
                                                         ("offer_id", "in", [d.get("id") for d in listing])])}
        currencies = {c.name: c for c in self.env["res.currency"].with_context(active_test=False).search([])}
        now = fields.Datetime.now()
        to_create, changed = [], Offer
        for data in listing:
            values = self._offer_values(data, currencies)
            offer = existing.get(values["offer_id"])
            if offer is None:
                to_create.append(dict(values, shop_id=self.id, read_at=now))
                continue
            diff = {k: v for k, v in values.items() if _differs(offer[k], v)}
            if diff:
                if diff.get("status") == "ENDED" and "allegro_stock" not in diff and offer.allegro_stock == 0:
                    diff["ended_by_sync"] = True  # sold out on Allegro
                offer.write(dict(diff, read_at=now))
                changed |= offer
        created = Offer.create(to_create) if to_create else Offer
        (created | changed)._link_products()
        # A hand-made change on Allegro (drift) makes the offer differ from Odoo: send it again.
        drifted = mark_drift and changed._stock_synced().filtered(
            lambda o: not o.stock_dirty and o._stock_change(o.stock_to_send))
        if drifted:
            drifted._mark_stock_dirty()
        return created | changed

    @staticmethod
    def _offer_values(data, currencies):
        price = (data.get("sellingMode") or {}).get("price") or {}
        publication = data.get("publication") or {}
        markets = publication.get("marketplaces") or {}
        marketplaces = [m.get("id") for m in [markets.get("base") or {}] + (markets.get("additional") or [])
                        if m.get("id")]
        currency = currencies.get(price.get("currency"))
        prices = {}
        if markets.get("base", {}).get("id") and price.get("amount") is not None:
            prices[markets["base"]["id"]] = str(price["amount"])
        for mp, extra in (data.get("additionalMarketplaces") or {}).items():
            amount = (((extra or {}).get("sellingMode") or {}).get("price") or {}).get("amount")
            if amount is not None:
                prices[mp] = str(amount)
        values = {
            "marketplace_prices": prices or False,
            "offer_id": str(data["id"]),
            "name": data.get("name") or str(data["id"]),
            "external_id": (data.get("external") or {}).get("id") or False,
            "status": publication.get("status") or False,
            "allegro_stock": int((data.get("stock") or {}).get("available") or 0),
            "marketplaces": ", ".join(marketplaces) or False,
            "currency_id": currency.id if currency else False,
        }
        if price.get("amount") is not None:
            values["price"] = float(price["amount"])
        return values

    def _read_offer_events(self):
        """Follow the offer event journal: re-read the offers it names (or all of them after a burst)."""
        self.ensure_one()
        client = self._allegro_client()
        events = client.iter_offer_events(from_id=self.sudo().offer_event_cursor or None)
        offer_ids, sold_out = [], set()
        for event in events:
            offer_id = (event.get("offer") or {}).get("id")
            if offer_id and offer_id not in offer_ids:
                offer_ids.append(offer_id)
            if event.get("type") == "OFFER_ENDED" and \
                    ((event.get("offer") or {}).get("publication") or {}).get("endedBy") == "EMPTY_STOCK":
                sold_out.add(offer_id)
        if offer_ids:
            if len(offer_ids) > EVENT_OFFERS_LOOKUP_LIMIT:
                self._read_offers(mark_drift=False)
            else:
                listing = []
                for start in range(0, len(offer_ids), EVENT_LOOKUP_CHUNK):
                    chunk = offer_ids[start:start + EVENT_LOOKUP_CHUNK]
                    listing += list(client.iter_offers(page_size=len(chunk), offer_id=chunk))
                self._store_offers(listing, mark_drift=False)
            if sold_out:
                self.env["allegro.offer"].search([("shop_id", "=", self.id), ("offer_id", "in", list(sold_out))]
                                                 ).write({"ended_by_sync": True})
        if events.cursor:
            self.sudo().offer_event_cursor = events.cursor
        return len(offer_ids)

    # ------------------------------------------------------------------
    # Stock
    # ------------------------------------------------------------------
    def _stock_warehouses(self):
        self.ensure_one()
        return self.stock_warehouse_ids or self.env["stock.warehouse"].sudo().search(
            [("company_id", "=", self.company_id.id)])

    def _stock_targets(self, products):
        """``{product id: quantity for Allegro}``: free quantity (on hand minus reserved) in the
        shop's warehouses, minus the safety buffer, never below zero."""
        self.ensure_one()
        products = products.sudo().with_company(self.company_id).with_context(
            warehouse_id=self._stock_warehouses().ids)
        return {p.id: max(0, int(p.free_qty) - self.stock_buffer) for p in products}

    def _send_offer_updates(self, offers, prices=True):
        """Tell Allegro what differs: quantities grouped by value (1,000 offers a command), END for
        offers with nothing left, ACTIVATE for restocked ones; then prices. Reads the tasks' results."""
        self.ensure_one()
        offers = offers.sudo()
        client = None
        commands = []
        synced = offers._stock_synced()
        offers.filtered("stock_dirty").write({"stock_dirty": False})
        if synced:
            targets = self._stock_targets(synced.product_id)
            groups = defaultdict(list)
            for offer in synced:
                for change in offer._stock_change(targets[offer.product_id.id]):
                    groups[change].append(offer.offer_id)
            if groups:
                client = self._allegro_client()
                # Quantities first, so that an offer is activated with its new stock.
                for (kind, value), offer_ids in sorted(groups.items(), key=lambda g: g[0][0] != "quantity"):
                    commands += self._put_commands(client, kind, value, offer_ids)
        if prices and self.price_sync:
            price_groups = self._price_changes(offers)
            if price_groups:
                client = client or self._allegro_client()
                for (marketplace, amount, currency), offer_ids in price_groups.items():
                    commands += self._put_commands(client, "price", (marketplace, amount, currency), offer_ids)
        if commands:
            _logger.info("Allegro shop %s: %d offer command(s) sent", self.id, len(commands))
            self._read_command_tasks(client, commands)
        return commands

    def _put_commands(self, client, kind, value, offer_ids):
        """Send one change to the offers, in commands of at most 1,000; returns [(api kind, id, value)]."""
        sent = []
        for start in range(0, len(offer_ids), MAX_OFFERS_PER_COMMAND):
            chunk = offer_ids[start:start + MAX_OFFERS_PER_COMMAND]
            command_id = str(uuid.uuid4())
            if kind == "quantity":
                client.change_offer_quantity(command_id, chunk, value)
                sent.append(("quantity", command_id, value))
            elif kind == "price":
                marketplace, amount, currency = value
                client.change_offer_price(command_id, chunk, amount, currency, marketplace_id=marketplace)
                sent.append(("price", command_id, list(value)))
            else:
                client.change_offer_publication(command_id, chunk, "END" if kind == "end" else "ACTIVATE")
                sent.append(("publication", command_id, kind))
        return sent

    def _read_command_tasks(self, client, commands):
        """Apply each command's task results to its offers; a refused task is shown on its offer."""
        Offer = self.env["allegro.offer"].sudo()
        waiting = []
        for api_kind, command_id, value in commands:
            tasks = client.get_offer_command_tasks(api_kind, command_id).get("tasks") or []
            if any(task.get("status") == "NEW" for task in tasks):
                waiting.append((api_kind, command_id, value))
                continue
            done = [t["offer"]["id"] for t in tasks if t.get("status") == "SUCCESS"]
            refused = {t["offer"]["id"]: _task_error(t) or self.env._("Refused by Allegro")
                       for t in tasks if t.get("status") == "FAIL"}
            if done:
                offers = Offer.search([("shop_id", "=", self.id), ("offer_id", "in", done)])
                if api_kind == "price":
                    marketplace, amount, _currency = value
                    for offer in offers:
                        prices = dict(offer.marketplace_prices or {}, **{marketplace: amount})
                        offer.write({"marketplace_prices": prices, "sync_error": False})
                else:
                    offers.write(dict(_applied_values(api_kind, value), sync_error=False))
            if refused:
                _logger.info("Allegro shop %s: command %s refused for %d offer(s)", self.id, command_id, len(refused))
            for offer in Offer.search([("shop_id", "=", self.id), ("offer_id", "in", list(refused))]):
                offer.sync_error = refused[offer.offer_id]
        if waiting:
            self.with_delay(channel=JOB_CHANNEL, eta=fields.Datetime.now() + COMMAND_RECHECK_DELAY,
                            description="Allegro: results of offer changes of %s" % self.name
                            )._job_read_command_tasks(waiting)
        return waiting

    # ------------------------------------------------------------------
    # Prices
    # ------------------------------------------------------------------
    def _price_changes(self, offers):
        """``{(marketplace, amount, currency): [offer ids]}`` for prices that differ from the pricelist
        chosen for that marketplace (pricelists in another currency than the marketplace's are skipped)."""
        self.ensure_one()
        groups = defaultdict(list)
        for line in self.price_pricelist_ids:
            currency = line.pricelist_id.currency_id
            if currency.name != MARKETPLACE_CURRENCIES.get(line.marketplace):
                continue
            for offer in offers.filtered(lambda o, mp=line.marketplace: mp in (o.marketplace_prices or {})):
                amount = line._price_of(offer.product_id)
                if Decimal(offer.marketplace_prices[line.marketplace]) != Decimal(amount):
                    groups[(line.marketplace, amount, currency.name)].append(offer.offer_id)
        return groups


def _differs(current, new):
    if isinstance(current, dict) or isinstance(new, dict):
        return (current or {}) != (new or {})
    if isinstance(current, models.BaseModel):
        return current.id != (new or False)
    if isinstance(current, float) or isinstance(new, float):
        return abs((current or 0.0) - (new or 0.0)) > 0.0001
    return (current or False) != (new or False)


def _task_error(task):
    errors = task.get("errors") or []
    return "; ".join(e.get("userMessage") or e.get("message") or "" for e in errors) or task.get("message")


def _applied_values(api_kind, value):
    """Offer values once a task succeeded."""
    if api_kind == "quantity":
        return {"allegro_stock": value}
    if value == "end":
        return {"status": "ENDED", "ended_by_sync": True}
    return {"status": "ACTIVE", "ended_by_sync": False}


class AllegroShopPricelist(models.Model):
    _name = "allegro.shop.pricelist"
    _description = "Allegro price source per marketplace"
    _order = "shop_id, marketplace"

    shop_id = fields.Many2one("allegro.shop", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    marketplace = fields.Selection(MARKETPLACES, required=True)
    pricelist_id = fields.Many2one("product.pricelist", required=True, check_company=True)
    currency_id = fields.Many2one(related="pricelist_id.currency_id")

    _shop_marketplace_unique = models.Constraint(
        "UNIQUE(shop_id, marketplace)", "One pricelist per marketplace and shop."
    )

    def _price_of(self, product):
        """The pricelist price as Allegro's amount string, in the currency's precision."""
        self.ensure_one()
        price = self.pricelist_id._get_product_price(product, 1.0)
        currency = self.pricelist_id.currency_id
        if currency.name in WHOLE_UNIT_CURRENCIES:
            return str(Decimal(str(price)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)) + ".00"
        return "%.*f" % (currency.decimal_places, currency.round(price))
