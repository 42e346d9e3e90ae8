from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models

# OfferStatus of the specification.
OFFER_STATUSES = [
    ("INACTIVE", "Draft"),
    ("ACTIVATING", "Activating"),
    ("ACTIVE", "Active"),
    ("ENDED", "Ended"),
]
SELLING_STATUSES = ("ACTIVE", "ACTIVATING")
# How long after Odoo saw a drop of Allegro's stock an import must have started before a drop no
# imported order explains is taken for a change made by hand (the order journal lags a little).
UNEXPLAINED_DROP_WAIT = timedelta(minutes=5)
EAN_LENGTHS = (8, 12, 13, 14)


def looks_like_ean(code):
    return bool(code) and code.isdigit() and len(code) in EAN_LENGTHS


class AllegroOffer(models.Model):
    """An Allegro offer of a shop, the Odoo product it sells and the stock Odoo wants it to show.

    Read from Allegro's offer list (and the offers seen in orders); a product
    set here by hand wins over every automatic match.
    """

    _name = "allegro.offer"
    _description = "Allegro Offer"
    _order = "shop_id, name"

    shop_id = fields.Many2one("allegro.shop", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    allegro_ref = fields.Char("Offer ID", required=True, index=True)
    name = fields.Char("Title", required=True)
    sku = fields.Char("Seller SKU", help="The offer's external id (signature) on Allegro.")
    ean = fields.Char("EAN / GTIN")
    product_id = fields.Many2one(
        "product.product",
        check_company=True,
        domain="[('sale_ok', '=', True)]",
        index="btree_not_null",
        help="Product sold through this offer. Offers are linked by SKU (internal reference) or EAN "
        "(barcode) when they are read; choose one here when neither matches.",
    )
    status = fields.Selection(OFFER_STATUSES, readonly=True, help="Publication status on Allegro.")
    currency_id = fields.Many2one("res.currency", readonly=True)
    price = fields.Monetary(readonly=True, help="Buy-now price on the offer's base marketplace.")
    marketplace_prices = fields.Json(readonly=True, help="Price amount per marketplace, as Allegro shows it.")
    marketplaces = fields.Char(readonly=True, help="Marketplaces the offer is listed on, base first.")
    allegro_stock = fields.Integer("Allegro stock", readonly=True, help="Available quantity Allegro shows.")
    stock_to_send = fields.Integer(
        "Odoo stock",
        compute="_compute_stock_to_send",
        help="The quantity Odoo keeps on this offer: what Odoo can ship (free quantity of the shop's "
        "warehouses minus the items of Allegro orders not reserved yet and of purchases not imported yet) "
        "minus the safety buffer, never below zero; split between the product's offers when the shop says so. "
        "Empty when the shop does not sync stock.",
    )
    stock_state = fields.Selection(
        [("synced", "In sync"), ("pending", "To send"), ("refused", "Refused"), ("off", "Not synced")],
        compute="_compute_stock_state",
    )
    stock_dirty = fields.Boolean("Stock to send", readonly=True, copy=False, index=True,
                                 help="Odoo's stock of the product changed since it was last sent.")
    # Purchases Allegro counted that Odoo has not imported yet: Allegro's stock at
    # ``stock_base_at`` (plus the changes Odoo sent since) minus its stock now, less the
    # items of orders imported since (times of Odoo's own transactions, as create_date),
    # is what Allegro sold that Odoo does not know of.
    stock_base = fields.Integer("Allegro stock counted from", readonly=True, copy=False)
    stock_base_at = fields.Datetime("Allegro purchases counted since", readonly=True, copy=False)
    stock_drop_at = fields.Datetime("Purchases not imported seen", readonly=True, copy=False,
                                    help="When Odoo first saw Allegro's stock lowered by purchases not imported yet.")
    sync_error = fields.Text("Refused by Allegro", readonly=True, copy=False)
    read_error = fields.Text("Not understood", readonly=True, copy=False,
                             help="What Odoo could not read of this offer at its last read: kept as it was.")
    ended_by_sync = fields.Boolean(
        "Ended for lack of stock", readonly=True, copy=False,
        help="Ended because Odoo had no stock left (or Allegro ended it when sold out): activated again on restock.",
    )
    read_at = fields.Datetime("Last change read", readonly=True, help="When a change of this offer was last read.")
    line_ids = fields.One2many("allegro.order.line", compute="_compute_line_ids", string="Ordered items")
    unmanaged_line_count = fields.Integer(compute="_compute_line_ids")

    _shop_offer_unique = models.Constraint(
        "UNIQUE(shop_id, allegro_ref)", "An offer is listed once per shop."
    )

    def _compute_line_ids(self):
        for offer in self:
            offer.line_ids = self.env["allegro.order.line"].search(
                [("shop_id", "=", offer.shop_id.id), ("allegro_ref", "=", offer.allegro_ref)]
            )
            offer.unmanaged_line_count = len(offer.line_ids.filtered("unmanaged"))

    def _stock_synced(self):
        """The offers whose stock Odoo keeps: linked to a product Odoo tracks stock of (or a kit of such
        products, with mrp), in a shop that syncs. (A consumable or a service has no stock to count:
        its offers are left alone, never ended.)"""
        return self.filtered(lambda o: o.shop_id.stock_sync and o.product_id and o.product_id._allegro_counts_stock())

    @api.depends("product_id.is_storable", "shop_id.stock_sync", "shop_id.stock_warehouse_ids",
                 "shop_id.stock_buffer", "shop_id.stock_split")
    def _compute_stock_to_send(self):
        self.stock_to_send = 0
        for shop, offers in self._stock_synced().grouped("shop_id").items():
            targets = self.env["allegro.offer.sync"]._stock_targets(shop, offers)
            for offer in offers:
                offer.stock_to_send = targets[offer.id]

    def _selling(self):
        """Offers a buyer can buy from now or once restocked: those sharing a product's stock."""
        return self.filtered(lambda o: o.status in SELLING_STATUSES or (
            o.status == "ENDED" and o.ended_by_sync and o.shop_id.stock_reactivate))

    def _stock_unexplained(self):
        """``{offer id: units}`` Allegro took off these offers that no imported order explains yet:
        purchases Allegro counted before their orders reached Odoo. A drop still unexplained once an
        import has run well after it was seen was made by hand on Allegro, and no longer counts."""
        since = min(self.filtered("stock_base_at").mapped("stock_base_at"), default=False)
        imported = defaultdict(list)
        if since:
            for line in self.env["allegro.order.line"].sudo().search(
                    [("shop_id", "in", self.shop_id.ids), ("offer_ref", "in", self.mapped("allegro_ref")),
                     ("order_id.create_date", ">=", since)]):
                imported[(line.shop_id.id, line.offer_ref)].append((line.order_id.create_date, line.quantity))
        result = {}
        for offer in self:
            if not offer.stock_base_at:
                result[offer.id] = 0
                continue
            # Orders imported since, on Odoo's clock: their purchases are the drops they explain.
            explained = sum(quantity for when, quantity in imported[(offer.shop_id.id, offer.allegro_ref)]
                            if when >= offer.stock_base_at)
            result[offer.id] = max(0, offer.stock_base - offer.allegro_stock - explained)
        waited = self.filtered(lambda o: result[o.id] and o.stock_drop_at)
        if waited:
            runs = dict(self.env["allegro.import.run"].sudo()._read_group(
                [("shop_id", "in", waited.shop_id.ids), ("state", "in", ("done", "continues"))],
                ["shop_id"], ["started_at:max"]))
            for offer in waited:
                last_run = runs.get(offer.shop_id)
                if last_run and last_run > offer.stock_drop_at + UNEXPLAINED_DROP_WAIT:
                    result[offer.id] = 0
        return result

    def _rebase_stock(self, unexplained):
        """Offers with nothing unexplained start counting Allegro's purchases afresh from now on;
        the others remember when their drop was first seen."""
        now = self.env.cr.now()
        for offer in self.sudo():
            if unexplained[offer.id]:
                if not offer.stock_drop_at:
                    offer.stock_drop_at = now
            elif (offer.stock_base, offer.stock_base_at, offer.stock_drop_at) != (offer.allegro_stock,
                                                                                 offer.read_at, False):
                offer.write({"stock_base": offer.allegro_stock, "stock_base_at": offer.read_at or now,
                             "stock_drop_at": False})

    @api.depends("product_id.is_storable", "shop_id.stock_sync", "sync_error", "stock_dirty", "allegro_stock",
                 "status")
    def _compute_stock_state(self):
        synced = self._stock_synced()
        for offer in self:
            if offer not in synced:
                offer.stock_state = "off"
            elif offer.sync_error:
                offer.stock_state = "refused"
            elif offer.stock_dirty or offer._stock_change(offer.stock_to_send):
                offer.stock_state = "pending"
            else:
                offer.stock_state = "synced"

    def _stock_change(self, target):
        """What Allegro must be told so this offer shows ``target``: a set of
        ``("quantity", n)``, ``("end", None)``, ``("activate", None)``; empty when in step.

        Zero is never sent as a quantity (Allegro refuses it): a selling offer
        is ended instead. A restocked offer gets its quantity and, when Odoo
        (or a sell-out) ended it and the shop says so, is activated again.
        """
        self.ensure_one()
        changes = set()
        if target <= 0:
            if self.status in SELLING_STATUSES:
                changes.add(("end", None))
            return changes
        if self.allegro_stock != target:
            changes.add(("quantity", target))
        if self.status == "ENDED" and self.ended_by_sync and self.shop_id.stock_reactivate:
            changes.add(("activate", None))
        return changes

    def action_view_updates(self):
        """The stock, price and publication commands sent to Allegro for these offers."""
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_update")
        action.update(domain=[("offer_ids", "in", self.ids)], context={})
        return action

    # ------------------------------------------------------------------
    # Products
    # ------------------------------------------------------------------
    @api.model
    def _match_products(self, company, skus, eans):
        """``({sku: product}, {ean: product})`` for codes matching exactly one saleable product."""
        Product = self.env["product.product"].with_company(company)
        domain = [("company_id", "in", [company.id, False]), ("sale_ok", "=", True)]
        matches = []
        for field, codes in (("default_code", skus), ("barcode", eans)):
            found = {}
            codes = [c for c in set(codes) if c]
            if codes:
                for product in Product.search(domain + [(field, "in", codes)]):
                    found.setdefault(product[field], []).append(product)
            matches.append({code: products[0] for code, products in found.items() if len(products) == 1})
        return tuple(matches)

    def _link_products(self):
        """Link offers without a product by seller SKU, then EAN; the others stay unlinked."""
        for shop, offers in self.filtered(lambda o: not o.product_id).grouped("shop_id").items():
            eans = {offer: offer.ean or (offer.sku if looks_like_ean(offer.sku) else None)
                    for offer in offers}
            by_sku, by_ean = self._match_products(shop.company_id, offers.mapped("sku"), eans.values())
            linked = {}
            for offer in offers:
                product = by_sku.get(offer.sku) or by_ean.get(eans[offer])
                if product:
                    linked.setdefault(product, self.browse())
                    linked[product] |= offer
            quiet = self.with_context(allegro_offer_link_batch=True)
            for product, group in linked.items():
                quiet.browse(group.ids).write({"product_id": product.id})
            # Marked once for the whole batch rather than once per product.
            self.browse([o.id for group in linked.values() for o in group]).filtered(
                lambda o: o.shop_id.stock_sync)._mark_stock_dirty()

    def write(self, vals):
        result = super().write(vals)
        if "product_id" in vals and not self.env.context.get("allegro_offer_link_batch"):
            # A new link means a new target: let the next send look at it.
            self.filtered(lambda o: o.product_id and o.shop_id.stock_sync)._mark_stock_dirty()
        return result

    def _mark_stock_dirty(self):
        """Written even when already marked: a send running meanwhile then conflicts with this
        transaction on the offer's row and is run again, instead of clearing a mark it never saw."""
        if not self:
            return
        super(AllegroOffer, self.sudo()).write({"stock_dirty": True})
        self.shop_id._schedule_stock_send()

    @api.model
    def _offers_of_products(self, products):
        """The synced offers showing these products' stock: with mrp, also those of the kits made of
        them and of the components of kits among them."""
        products = products.sudo()
        if "mrp.bom" in self.env and products:
            Bom = self.env["mrp.bom"].sudo()
            # A kit's items hold its components, whose other offers and kits change with them.
            products |= Bom.search([("type", "=", "phantom"), "|", ("product_id", "in", products.ids), "&",
                                    ("product_id", "=", False), ("product_tmpl_id", "in", products.product_tmpl_id.ids)]
                                   ).bom_line_ids.product_id
            kits = Bom.search([("type", "=", "phantom"), ("bom_line_ids.product_id", "in", products.ids)])
            products |= kits.product_id | kits.filtered(lambda b: not b.product_id).product_tmpl_id.product_variant_ids
        if not products:
            return self.browse()
        return self.sudo().search([("product_id", "in", products.ids), ("shop_id.stock_sync", "=", True)])

    @api.model
    def _find_products(self, shop, lines):
        """The products these order lines sell, by line (lines matching none left out).

        Order of precedence: (1) this list, (2) seller SKU = internal
        reference, (3) EAN = barcode, (4) exact product name. Offers first
        seen are listed here, all looked up and made at once for a batch.
        """
        offers = {offer.allegro_ref: offer for offer in self.search(
            [("shop_id", "=", shop.id), ("allegro_ref", "in", list(set(lines.mapped("offer_ref"))))])}
        new = {}
        for line in lines:
            if line.offer_ref not in offers and line.offer_ref not in new:
                new[line.offer_ref] = {"shop_id": shop.id, "allegro_ref": line.offer_ref, "name": line.offer_name,
                                       "sku": line.offer_sku}
        if new:
            # Listing the offer is bookkeeping; choosing its product stays a manager's step.
            for offer in self.sudo().create(list(new.values())).sudo(False):
                offers[offer.allegro_ref] = offer
        codes = {}
        for line in lines:
            offer = offers[line.offer_ref]
            sku = offer.sku or line.offer_sku
            codes[line] = (sku, offer.ean or (sku if looks_like_ean(sku) else None))
        by_sku, by_ean = self._match_products(shop.company_id, [c[0] for c in codes.values()],
                                              [c[1] for c in codes.values()])
        Product = self.env["product.product"].with_company(shop.company_id)
        company_domain = [("company_id", "in", [shop.company_id.id, False]), ("sale_ok", "=", True)]
        found = {}
        for line in lines:
            sku, ean = codes[line]
            product = offers[line.offer_ref].product_id or by_sku.get(sku) or by_ean.get(ean)
            if not product:
                product = Product.search([("name", "=", line.offer_name)] + company_domain, limit=2)
                product = product if len(product) == 1 else Product
            if product:
                found[line] = product
        return found
