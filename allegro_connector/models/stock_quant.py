from odoo import api, models


class StockQuant(models.Model):
    """Every change of on-hand or reserved quantity goes through these two
    methods (done moves, reservations, inventory adjustments), so they are
    where Allegro offers learn that their stock changed."""

    _inherit = "stock.quant"

    @api.model
    def _update_available_quantity(self, product_id, location_id, *args, **kwargs):
        result = super()._update_available_quantity(product_id, location_id, *args, **kwargs)
        self._allegro_stock_changed(product_id, location_id)
        return result

    @api.model
    def _update_reserved_quantity(self, product_id, location_id, *args, **kwargs):
        result = super()._update_reserved_quantity(product_id, location_id, *args, **kwargs)
        self._allegro_stock_changed(product_id, location_id)
        return result

    @api.model
    def _allegro_stock_changed(self, product, location):
        if location.usage not in ("internal", "transit"):
            return
        # The connector's own bookkeeping: a warehouse user cannot see offers.
        self.env["allegro.offer"].sudo()._offers_of_products(product)._mark_stock_dirty()
