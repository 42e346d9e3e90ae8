"""The offer and stock engine: reading offers from Allegro and keeping their
stock (and prices) in step with Odoo.

The shop keeps the settings, the buttons and the schedules; this unit holds
no state of its own, every method takes the shop it works for (in the
environment, and so the language, the shop's job gives it).
"""

import logging
from collections import defaultdict
from contextlib import contextmanager
from decimal import Decimal

from odoo import api, fields, models

from odoo.addons.queue_job.exception import RetryableJobError

from ..allegro_api import errors as api_errors
from ..const import MARKETPLACE_CURRENCIES
from .allegro_offer import OFFER_STATUSES
from .allegro_update import _retry_seconds

_logger = logging.getLogger(__name__)

OFFER_PAGE_SIZE = 1000
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


class AllegroOfferSync(models.AbstractModel):
    _name = "allegro.offer.sync"
    _description = "Allegro offer and stock sync"

    # ------------------------------------------------------------------
    # The work of the shop's jobs
    # ------------------------------------------------------------------
    @api.model
    def _reconcile_offers(self, shop):
        """Read every offer of the shop, then send what differs."""
        with _retry_when_allegro_is_away():
            self._read_offers(shop)
            if shop.stock_sync or shop.price_sync:
                self._send_offer_updates(shop, shop.offer_ids.filtered("product_id"))

    @api.model
    def _send_stock(self, shop):
        """Send the shop's marked offers, and with them the marked offers of the same products in the
        company's other shops: every offer of a product shows its new quantity at once."""
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
                self._send_offer_updates(offers_shop, shop_offers, prices=False)

    @api.model
    def _follow_offer_events(self, shop):
        with _retry_when_allegro_is_away():
            self._read_offer_events(shop)

    # ------------------------------------------------------------------
    # Reading offers
    # ------------------------------------------------------------------
    @api.model
    def _read_offers(self, shop, mark_drift=True):
        """Every offer of the shop, all marketplaces, into the offer list; new ones linked to products."""
        shop.ensure_one()
        client = shop._allegro_client()
        listing = list(client.iter_offers(page_size=OFFER_PAGE_SIZE))
        self._store_offers(shop, listing, mark_drift=mark_drift)
        shop.sudo().offers_read_at = fields.Datetime.now()
        return len(listing)

    @api.model
    def _store_offers(self, shop, listing, mark_drift=True):
        """Create or update offers from OfferListingDto entries; only changed values are written.

        ``mark_drift``: offers whose Allegro stock now differs from Odoo's are
        queued to be sent again. Not for the journal: a purchase lowers Allegro's
        stock before its order reaches Odoo, and sending Odoo's figure back in
        that window would sell the same item twice.
        """
        Offer = shop.env["allegro.offer"]
        entries = []
        for data in listing:
            if not isinstance(data, dict) or not data.get("id"):
                # Nothing to keep it under: said in the log, the other offers go on.
                _logger.warning("Allegro shop %s: an offer without an id was skipped: %r", shop.id, data)
                continue
            entries.append(data)
        existing = {o.allegro_ref: o for o in Offer.search([("shop_id", "=", shop.id),
                                                         ("allegro_ref", "in", [str(d["id"]) for d in entries])])}
        currencies = {c.name: c for c in shop.env["res.currency"].with_context(active_test=False).search([])}
        now = shop.env.cr.now()  # the clock of the orders' create_date, see allegro.offer.stock_base_at
        to_create, changed = [], Offer
        for data in entries:
            values = self._offer_values(shop, data, currencies)
            offer = existing.get(values["allegro_ref"])
            if offer is None:
                to_create.append(dict(values, shop_id=shop.id, read_at=now, stock_base=values.get("allegro_stock", 0),
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

    @api.model
    def _offer_values(self, shop, data, currencies):
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
            "allegro_ref": str(data["id"]),
            "name": data.get("name") or str(data["id"]),
            "sku": (data.get("external") or {}).get("id") or False,
            "marketplaces": ", ".join(marketplaces) or False,
            "currency_id": currency.id if currency else False,
        }
        status = publication.get("status")
        if status in dict(OFFER_STATUSES) or not status:
            values["status"] = status or False
        else:
            problems.append(shop.env._("Allegro gives the offer the status %(status)s, which this version of the "
                                       "connector does not know: the offer keeps the status it had.", status=status))
        available = (data.get("stock") or {}).get("available") or 0
        try:
            values["allegro_stock"] = int(available)
        except (TypeError, ValueError):
            problems.append(shop.env._("Allegro gives the offer a stock Odoo cannot read (%(stock)s): the offer "
                                       "keeps the stock it had.", stock=available))
        try:
            if price.get("amount") is not None:
                values["price"] = float(price["amount"])
        except (TypeError, ValueError):
            problems.append(shop.env._("Allegro gives the offer a price Odoo cannot read (%(price)s).",
                                       price=price.get("amount")))
        values["read_error"] = "\n".join(problems) or False
        return values

    @api.model
    def _read_offer_events(self, shop):
        """Follow the offer event journal: re-read the offers it names (or all of them after a burst)."""
        shop.ensure_one()
        client = shop._allegro_client()
        events = client.iter_offer_events(from_id=shop.sudo().offer_event_cursor or None)
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
                self._read_offers(shop, mark_drift=False)
            else:
                listing = []
                for start in range(0, len(offer_ids), EVENT_LOOKUP_CHUNK):
                    chunk = offer_ids[start:start + EVENT_LOOKUP_CHUNK]
                    listing += list(client.iter_offers(page_size=len(chunk), offer_id=chunk))
                self._store_offers(shop, listing, mark_drift=False)
            if sold_out:
                shop.env["allegro.offer"].search([("shop_id", "=", shop.id), ("allegro_ref", "in", list(sold_out))]
                                                 ).write({"ended_by_sync": True})
        if events.cursor:
            shop.sudo().offer_event_cursor = events.cursor
        return len(offer_ids)

    # ------------------------------------------------------------------
    # Stock
    # ------------------------------------------------------------------
    @api.model
    def _stock_warehouses(self, shop):
        shop.ensure_one()
        return shop.stock_warehouse_ids or shop.env["stock.warehouse"].sudo().search(
            [("company_id", "=", shop.company_id.id)])

    @api.model
    def _stock_targets(self, shop, offers):
        """``{offer id: quantity for Allegro}``: what Odoo can ship of the offer's product (see
        ``_stock_available``), minus what Allegro sold that Odoo has not imported yet (on any offer of
        the product), minus the safety buffer, never below zero; split between the product's
        offers when the shop says so."""
        shop.ensure_one()
        available = self._stock_available(shop, offers.product_id)
        siblings = shop.env["allegro.offer"].sudo().search(
            [("product_id", "in", offers.product_id.ids), ("company_id", "=", shop.company_id.id)]
        )._stock_synced()
        unexplained = siblings._stock_unexplained()
        sold_unknown = defaultdict(int)
        for offer in siblings:
            sold_unknown[offer.product_id.id] += unexplained[offer.id]
        selling = siblings._selling().grouped("product_id")
        targets = {}
        for offer in offers:
            product = offer.product_id
            quantity = max(0, available[product.id] - sold_unknown[product.id] - shop.stock_buffer)
            if shop.stock_split == "split":
                # Whole units, the remainder to the oldest offers: together never more than Odoo has.
                sharing = (selling.get(product, offers.browse()) | offer).sorted("id").ids
                quantity = quantity // len(sharing) + (1 if sharing.index(offer.id) < quantity % len(sharing) else 0)
            targets[offer.id] = quantity
        return targets

    @api.model
    def _stock_available(self, shop, products):
        """``{product id: units Odoo can ship}``: the free quantity (on hand minus reserved) in the
        shop's warehouses minus the items of open Allegro orders Odoo has not reserved; for a kit
        (with mrp), as many kits as its components allow."""
        shop.ensure_one()
        products = products.sudo().with_company(shop.company_id)
        kits = {}
        if "mrp.bom" in shop.env:
            boms = shop.env["mrp.bom"].sudo()._bom_find(products, company_id=shop.company_id.id, bom_type="phantom")
            for product in products.filtered(lambda p: boms.get(p)):
                kits[product] = _kit_components(boms[product], product)
        counted = products.filtered(lambda p: p not in kits)
        for components in kits.values():
            counted |= shop.env["product.product"].concat(*[c for c, _qty in components])
        held = self._held_by_allegro_orders(shop)
        free = {p.id: p.free_qty - held.get(p.id, 0)
                for p in counted.with_context(warehouse_id=self._stock_warehouses(shop).ids)}
        result = {p.id: int(free[p.id] // 1) for p in products if p not in kits}
        for kit, components in kits.items():
            result[kit.id] = min((int(free[c.id] // qty) for c, qty in components if qty > 0), default=0)
        return result

    @api.model
    def _held_by_allegro_orders(self, shop):
        """``{product id: units}`` bought on Allegro (any shop of the company) in orders still open
        whose sale order does not reserve them: not paid yet, held for product mapping, amounts that
        differ, in error. Allegro already took these units off its offers; a kit holds its components."""
        shop.ensure_one()
        lines = shop.env["allegro.order.line"].sudo().search([
            ("company_id", "=", shop.company_id.id),
            ("order_id.status", "!=", "CANCELLED"),
            ("order_id.sync_state", "!=", "gone"),
            ("order_id.fulfillment_provider", "!=", "ALLEGRO"),
            "|", ("order_id.no_sale_reason", "=", False), ("order_id.sale_requested", "=", True),
            "|", ("order_id.sale_order_id", "=", False), ("order_id.sale_order_id.state", "in", ("draft", "sent")),
        ])
        offers = {(o.shop_id.id, o.allegro_ref): o.product_id for o in shop.env["allegro.offer"].sudo().search(
            [("company_id", "=", shop.company_id.id), ("allegro_ref", "in", list(set(lines.mapped("offer_ref")))),
             ("product_id", "!=", False)])}
        held = defaultdict(int)
        boms = {}
        for line in lines:
            product = line.product_id or offers.get((line.shop_id.id, line.offer_ref))
            if not product:
                continue
            if "mrp.bom" in shop.env:
                if product not in boms:
                    bom = shop.env["mrp.bom"].sudo()._bom_find(
                        product, company_id=shop.company_id.id, bom_type="phantom").get(product)
                    boms[product] = _kit_components(bom, product) if bom else None
                if boms[product]:
                    for component, qty in boms[product]:
                        held[component.id] += line.quantity * qty
                    continue
            held[product.id] += line.quantity
        return held

    @api.model
    def _send_offer_updates(self, shop, offers, prices=True):
        """Tell Allegro what differs: quantities grouped by value (1,000 offers a command), END for
        offers with nothing left, ACTIVATE for restocked ones; then prices. Each command is an update
        to Allegro (allegro.update), sent here, in this job's transaction, which reads its tasks;
        Allegro busy, or still carrying it out, leaves it to the update's own job. Returns them."""
        shop.ensure_one()
        offers = offers.sudo()
        Update = shop.env["allegro.update"]
        updates = Update
        synced = offers._stock_synced()
        if synced:
            synced._rebase_stock(synced._stock_unexplained())
            targets = self._stock_targets(shop, synced)
            groups = defaultdict(lambda: offers.browse())
            for offer in synced:
                for change in offer._stock_change(targets[offer.id]):
                    groups[change] |= offer
            # Quantities first, so that an offer is activated with its new stock.
            for change, group in sorted(groups.items(), key=lambda g: g[0][0] != "quantity"):
                updates |= Update._queue_offer_change(shop, change, group)
        if prices and shop.price_sync:
            by_id = {offer.allegro_ref: offer for offer in offers}
            for value, offer_ids in self._price_changes(shop, offers).items():
                updates |= Update._queue_offer_change(shop, ("price", value),
                                                      offers.browse([by_id[i].id for i in offer_ids]))
        if updates:
            _logger.info("Allegro shop %s: %d offer command(s) to send", shop.id, len(updates))
            updates._send_now(repeat=False)
        # Cleared only now, in the transaction that sent them: a stock move committed during the send
        # wrote its mark on the same rows, so this write conflicts and the job runs again.
        offers.filtered("stock_dirty").write({"stock_dirty": False})
        return updates

    # ------------------------------------------------------------------
    # Prices
    # ------------------------------------------------------------------
    @api.model
    def _price_changes(self, shop, offers):
        """``{(marketplace, amount, currency): [offer ids]}`` for prices that differ from the pricelist
        chosen for that marketplace (pricelists in another currency than the marketplace's are skipped)."""
        shop.ensure_one()
        groups = defaultdict(list)
        for line in shop.price_pricelist_ids:
            currency = line.pricelist_id.currency_id
            if currency.name != MARKETPLACE_CURRENCIES.get(line.marketplace):
                continue
            for offer in offers.filtered(lambda o, mp=line.marketplace: mp in (o.marketplace_prices or {})):
                amount = line._price_of(offer.product_id)
                if Decimal(offer.marketplace_prices[line.marketplace]) != Decimal(amount):
                    groups[(line.marketplace, amount, currency.name)].append(offer.allegro_ref)
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
