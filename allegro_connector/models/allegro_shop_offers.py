import logging
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError

from ..allegro_api import errors as api_errors
from ..const import (CHANNEL_OFFERS, KEY_OFFER_EVENTS, KEY_OFFERS_RECONCILE, KEY_STOCK_SEND, MARKETPLACE_CURRENCIES,
                     MARKETPLACES)
from .allegro_offer import OFFER_STATUSES
from .allegro_push import _retry_seconds

_logger = logging.getLogger(__name__)

OFFER_PAGE_SIZE = 1000
# Stock changes are collected for this long, then sent in one go.
STOCK_SEND_DELAY = timedelta(seconds=20)
# A journal naming more offers than this is cheaper to follow by reading the whole list.
EVENT_OFFERS_LOOKUP_LIMIT = 200
EVENT_LOOKUP_CHUNK = 50
# Allegro down or busy, and it did not say for how long: the job runs again after this.
RETRY_AFTER_SECONDS = 60


@contextmanager
def _retry_when_allegro_is_away():
    """Allegro busy or down (the rule of updates to Allegro): the job runs again later."""
    try:
        yield
    except api_errors.AllegroError as exc:
        if not exc.retryable:
            raise
        raise RetryableJobError(str(exc), seconds=_retry_seconds(exc) or RETRY_AFTER_SECONDS) from exc


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
        """Send the shop's marked offers, and with them the marked offers of the same products in the
        company's other shops: every offer of a product shows its new quantity at once."""
        self.ensure_one()
        shop = self._in_allegro_lang()
        if not shop.stock_sync:
            return
        Offer = shop.env["allegro.offer"]
        offers = Offer.search([("shop_id", "=", shop.id), ("stock_dirty", "=", True), ("product_id", "!=", False)])
        if offers:
            offers |= Offer.search([("product_id", "in", offers.product_id.ids), ("stock_dirty", "=", True),
                                    ("company_id", "=", shop.company_id.id), ("shop_id.stock_sync", "=", True),
                                    ("shop_id.state", "=", "connected")])
        for offers_shop, shop_offers in offers.grouped("shop_id").items():
            with _retry_when_allegro_is_away():
                offers_shop._send_offer_updates(shop_offers, prices=False)

    def _job_read_offer_events(self):
        self.ensure_one()
        with _retry_when_allegro_is_away():
            self._in_allegro_lang()._read_offer_events()

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
        entries = []
        for data in listing:
            if not isinstance(data, dict) or not data.get("id"):
                # Nothing to keep it under: said in the log, the other offers go on.
                _logger.warning("Allegro shop %s: an offer without an id was skipped: %r", self.id, data)
                continue
            entries.append(data)
        existing = {o.offer_id: o for o in Offer.search([("shop_id", "=", self.id),
                                                         ("offer_id", "in", [str(d["id"]) for d in entries])])}
        currencies = {c.name: c for c in self.env["res.currency"].with_context(active_test=False).search([])}
        now = self.env.cr.now()  # the clock of the orders' create_date, see allegro.offer.stock_base_at
        to_create, changed = [], Offer
        for data in entries:
            values = self._offer_values(data, currencies)
            offer = existing.get(values["offer_id"])
            if offer is None:
                to_create.append(dict(values, shop_id=self.id, read_at=now, stock_base=values.get("allegro_stock", 0),
                                      stock_base_at=now))
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

    def _offer_values(self, data, currencies):
        """Offer values of an OfferListingDto entry (with an id). What Odoo cannot read (a status it
        does not know, a stock that is no number) is left as it was and said in ``read_error``."""
        price = (data.get("sellingMode") or {}).get("price") or {}
        publication = data.get("publication") or {}
        markets = publication.get("marketplaces") or {}
        base = markets.get("base") or {}
        marketplaces = [m.get("id") for m in [base] + (markets.get("additional") or []) if (m or {}).get("id")]
        currency = currencies.get(price.get("currency"))
        prices = {}
        if base.get("id") and price.get("amount") is not None:
            prices[base["id"]] = str(price["amount"])
        for mp, extra in (data.get("additionalMarketplaces") or {}).items():
            amount = (((extra or {}).get("sellingMode") or {}).get("price") or {}).get("amount")
            if amount is not None:
                prices[mp] = str(amount)
        problems = []
        values = {
            "marketplace_prices": prices or False,
            "offer_id": str(data["id"]),
            "name": data.get("name") or str(data["id"]),
            "external_id": (data.get("external") or {}).get("id") or False,
            "marketplaces": ", ".join(marketplaces) or False,
            "currency_id": currency.id if currency else False,
        }
        status = publication.get("status")
        if status in dict(OFFER_STATUSES) or not status:
            values["status"] = status or False
        else:
            problems.append(self.env._("Allegro gives the offer the status %(status)s, which this version of the "
                                       "connector does not know: the offer keeps the status it had.", status=status))
        available = (data.get("stock") or {}).get("available") or 0
        try:
            values["allegro_stock"] = int(available)
        except (TypeError, ValueError):
            problems.append(self.env._("Allegro gives the offer a stock Odoo cannot read (%(stock)s): the offer "
                                       "keeps the stock it had.", stock=available))
        try:
            if price.get("amount") is not None:
                values["price"] = float(price["amount"])
        except (TypeError, ValueError):
            problems.append(self.env._("Allegro gives the offer a price Odoo cannot read (%(price)s).",
                                       price=price.get("amount")))
        values["read_error"] = "\n".join(problems) or False
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

    def _stock_targets(self, offers):
        """``{offer id: quantity for Allegro}``: what Odoo can ship of the offer's product (see
        ``_stock_available``), minus what Allegro sold that Odoo has not imported yet (on any offer of
        the product), minus the safety buffer, never below zero; split between the product's
        offers when the shop says so."""
        self.ensure_one()
        available = self._stock_available(offers.product_id)
        siblings = self.env["allegro.offer"].sudo().search(
            [("product_id", "in", offers.product_id.ids), ("company_id", "=", self.company_id.id)]
        )._stock_synced()
        unexplained = siblings._stock_unexplained()
        sold_unknown = defaultdict(int)
        for offer in siblings:
            sold_unknown[offer.product_id.id] += unexplained[offer.id]
        selling = siblings._selling().grouped("product_id")
        targets = {}
        for offer in offers:
            product = offer.product_id
            quantity = max(0, available[product.id] - sold_unknown[product.id] - self.stock_buffer)
            if self.stock_split == "split":
                # Whole units, the remainder to the oldest offers: together never more than Odoo has.
                sharing = (selling.get(product, offers.browse()) | offer).sorted("id").ids
                quantity = quantity // len(sharing) + (1 if sharing.index(offer.id) < quantity % len(sharing) else 0)
            targets[offer.id] = quantity
        return targets

    def _stock_available(self, products):
        """``{product id: units Odoo can ship}``: the free quantity (on hand minus reserved) in the
        shop's warehouses minus the items of open Allegro orders Odoo has not reserved; for a kit
        (with mrp), as many kits as its components allow."""
        self.ensure_one()
        products = products.sudo().with_company(self.company_id)
        kits = {}
        if "mrp.bom" in self.env:
            boms = self.env["mrp.bom"].sudo()._bom_find(products, company_id=self.company_id.id, bom_type="phantom")
            for product in products.filtered(lambda p: boms.get(p)):
                kits[product] = _kit_components(boms[product], product)
        counted = products.filtered(lambda p: p not in kits)
        for components in kits.values():
            counted |= self.env["product.product"].concat(*[c for c, _qty in components])
        held = self._held_by_allegro_orders()
        free = {p.id: p.free_qty - held.get(p.id, 0)
                for p in counted.with_context(warehouse_id=self._stock_warehouses().ids)}
        result = {p.id: int(free[p.id] // 1) for p in products if p not in kits}
        for kit, components in kits.items():
            result[kit.id] = min((int(free[c.id] // qty) for c, qty in components if qty > 0), default=0)
        return result

    def _held_by_allegro_orders(self):
        """``{product id: units}`` bought on Allegro (any shop of the company) in orders still open
        whose sale order does not reserve them: not paid yet, held for product mapping, amounts that
        differ, in error. Allegro already took these units off its offers; a kit holds its components."""
        self.ensure_one()
        lines = self.env["allegro.order.line"].sudo().search([
            ("company_id", "=", self.company_id.id),
            ("order_id.status", "!=", "CANCELLED"),
            ("order_id.sync_state", "!=", "gone"),
            ("order_id.fulfillment_provider", "!=", "ALLEGRO"),
            "|", ("order_id.no_sale_reason", "=", False), ("order_id.sale_requested", "=", True),
            "|", ("order_id.sale_order_id", "=", False), ("order_id.sale_order_id.state", "in", ("draft", "sent")),
        ])
        offers = {(o.shop_id.id, o.offer_id): o.product_id for o in self.env["allegro.offer"].sudo().search(
            [("company_id", "=", self.company_id.id), ("offer_id", "in", list(set(lines.mapped("offer_id")))),
             ("product_id", "!=", False)])}
        held = defaultdict(int)
        boms = {}
        for line in lines:
            product = line.product_id or offers.get((line.shop_id.id, line.offer_id))
            if not product:
                continue
            if "mrp.bom" in self.env:
                if product not in boms:
                    bom = self.env["mrp.bom"].sudo()._bom_find(
                        product, company_id=self.company_id.id, bom_type="phantom").get(product)
                    boms[product] = _kit_components(bom, product) if bom else None
                if boms[product]:
                    for component, qty in boms[product]:
                        held[component.id] += line.quantity * qty
                    continue
            held[product.id] += line.quantity
        return held

    def _send_offer_updates(self, offers, prices=True):
        """Tell Allegro what differs: quantities grouped by value (1,000 offers a command), END for
        offers with nothing left, ACTIVATE for restocked ones; then prices. Each command is an update
        to Allegro (allegro.push), sent here, in this job's transaction, which reads its tasks;
        Allegro busy, or still carrying it out, leaves it to the update's own job. Returns them."""
        self.ensure_one()
        offers = offers.sudo()
        Push = self.env["allegro.push"]
        pushes = Push
        synced = offers._stock_synced()
        if synced:
            synced._rebase_stock(synced._stock_unexplained())
            targets = self._stock_targets(synced)
            groups = defaultdict(lambda: offers.browse())
            for offer in synced:
                for change in offer._stock_change(targets[offer.id]):
                    groups[change] |= offer
            # Quantities first, so that an offer is activated with its new stock.
            for change, group in sorted(groups.items(), key=lambda g: g[0][0] != "quantity"):
                pushes |= Push._queue_offer_change(self, change, group)
        if prices and self.price_sync:
            by_id = {offer.offer_id: offer for offer in offers}
            for value, offer_ids in self._price_changes(offers).items():
                pushes |= Push._queue_offer_change(self, ("price", value),
                                                   offers.browse([by_id[i].id for i in offer_ids]))
        if pushes:
            _logger.info("Allegro shop %s: %d offer command(s) to send", self.id, len(pushes))
            pushes._send_now(repeat=False)
        # Cleared only now, in the transaction that sent them: a stock move committed during the send
        # wrote its mark on the same rows, so this write conflicts and the job runs again.
        offers.filtered("stock_dirty").write({"stock_dirty": False})
        return pushes

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


def _kit_components(bom, product):
    """``[(component, quantity per kit)]`` of the storable components of a kit, nested kits unfolded,
    in the components' own units."""
    _boms, lines = bom.explode(product, 1)
    return [(line.product_id, line.product_uom_id._compute_quantity(data["qty"], line.product_id.uom_id))
            for line, data in lines if line.product_id.is_storable]


def _differs(current, new):
    if isinstance(current, dict) or isinstance(new, dict):
        return (current or {}) != (new or {})
    if isinstance(current, models.BaseModel):
        return current.id != (new or False)
    if isinstance(current, float) or isinstance(new, float):
        return abs((current or 0.0) - (new or 0.0)) > 0.0001
    return (current or False) != (new or False)


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
