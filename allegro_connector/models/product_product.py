from odoo import models


class ProductProduct(models.Model):
    _inherit = "product.product"

    def _allegro_counts_stock(self):
        """Odoo counts stock of this product: storable, or a kit of storable components (with mrp)."""
        self.ensure_one()
        return self.is_storable or bool(self.id and "mrp.bom" in self.env and self.is_kits)
