from decimal import ROUND_HALF_UP, Decimal

from odoo import fields, models

from ..const import MARKETPLACES

# Allegro shows these prices in whole units.
WHOLE_UNIT_CURRENCIES = ("CZK", "HUF")


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
