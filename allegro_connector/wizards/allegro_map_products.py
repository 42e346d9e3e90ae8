from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.allegro_rights import ALLEGRO_MANAGER, check_group


class AllegroMapProducts(models.TransientModel):
    """Choose the product of each unmatched offer of held orders, then
    complete those orders."""

    _name = "allegro.map.products"
    _description = "Map Allegro offers to products"

    line_ids = fields.One2many("allegro.map.products.line", "wizard_id")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        orders = self.env["allegro.order"].browse(self.env.context.get("active_ids", []))
        lines = orders.line_ids.filtered("unmanaged")
        offers = {}
        for line in lines:
            offers.setdefault((line.shop_id.id, line.offer_ref), line)
        values["line_ids"] = [
            (0, 0, {"shop_id": shop_id, "offer_ref": offer_id, "offer_name": line.offer_name,
                    "offer_sku": line.offer_sku})
            for (shop_id, offer_id), line in offers.items()
        ]
        return values

    def action_apply(self):
        self.ensure_one()
        orders = self.env["allegro.order"].browse(self.env.context.get("active_ids", []))
        check_group(orders, ALLEGRO_MANAGER)
        Offer = self.env["allegro.offer"]
        for line in self.line_ids.filtered("product_id"):
            offer = Offer.search([("shop_id", "=", line.shop_id.id), ("allegro_ref", "=", line.offer_ref)], limit=1)
            if offer:
                offer.product_id = line.product_id
            else:
                Offer.create({"shop_id": line.shop_id.id, "allegro_ref": line.offer_ref, "name": line.offer_name,
                              "sku": line.offer_sku, "product_id": line.product_id.id})
        if not self.line_ids.filtered("product_id"):
            raise UserError(self.env._("Choose a product for at least one offer."))
        orders._complete_held_orders()
        return {"type": "ir.actions.act_window_close"}


class AllegroMapProductsLine(models.TransientModel):
    _name = "allegro.map.products.line"
    _description = "Offer to map"

    wizard_id = fields.Many2one("allegro.map.products", required=True, ondelete="cascade")
    shop_id = fields.Many2one("allegro.shop", required=True)
    offer_ref = fields.Char("Offer ID", required=True)
    offer_name = fields.Char(required=True)
    offer_sku = fields.Char("Seller SKU")
    product_id = fields.Many2one("product.product", domain="[('sale_ok', '=', True)]")
