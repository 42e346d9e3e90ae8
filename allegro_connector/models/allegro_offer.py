from odoo import api, fields, models


class AllegroOffer(models.Model):
    """An Allegro offer of a shop and the Odoo product it sells.

    Created for every offer seen in an order; a product set here wins over
    every automatic match.
    """

    _name = "allegro.offer"
    _description = "Allegro Offer"
    _order = "shop_id, name"

    shop_id = fields.Many2one("allegro.shop", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    offer_id = fields.Char("Offer ID", required=True, index=True)
    name = fields.Char(required=True)
    external_id = fields.Char("Seller SKU", help="The offer's external id (signature) on Allegro.")
    ean = fields.Char("EAN / GTIN")
    product_id = fields.Many2one(
        "product.product",
        check_company=True,
        domain="[('sale_ok', '=', True)]",
        help="Product sold through this offer. Leave empty to match by SKU, barcode or name.",
    )
    line_ids = fields.One2many("allegro.order.line", compute="_compute_line_ids", string="Ordered items")
    unmanaged_line_count = fields.Integer(compute="_compute_line_ids")

    _shop_offer_unique = models.Constraint(
        "UNIQUE(shop_id, offer_id)", "An offer is listed once per shop."
    )

    def _compute_line_ids(self):
        for offer in self:
            offer.line_ids = self.env["allegro.order.line"].search(
                [("shop_id", "=", offer.shop_id.id), ("offer_id", "=", offer.offer_id)]
            )
            offer.unmanaged_line_count = len(offer.line_ids.filtered("unmanaged"))

    @api.model
    def _find_product(self, shop, line):
        """The product an order line sells, or an empty recordset.

        Order of precedence: (1) this mapping, (2) seller SKU = internal
        reference, (3) EAN = barcode, (4) exact product name.
        """
        offer = self.search([("shop_id", "=", shop.id), ("offer_id", "=", line.offer_id)], limit=1)
        if not offer:
            # Listing the offer is bookkeeping; choosing its product stays a manager's step.
            offer = self.sudo().create(
                {
                    "shop_id": shop.id,
                    "offer_id": line.offer_id,
                    "name": line.offer_name,
                    "external_id": line.offer_external_id,
                }
            ).sudo(False)
        if offer.product_id:
            return offer.product_id
        Product = self.env["product.product"].with_company(shop.company_id)
        company_domain = [("company_id", "in", [shop.company_id.id, False]), ("sale_ok", "=", True)]
        sku = offer.external_id or line.offer_external_id
        ean = offer.ean or (sku if sku and sku.isdigit() and len(sku) in (8, 12, 13, 14) else None)
        for domain in (
            [("default_code", "=", sku)] if sku else None,
            [("barcode", "=", ean)] if ean else None,
            [("name", "=", line.offer_name)],
        ):
            if domain:
                product = Product.search(domain + company_domain, limit=2)
                if len(product) == 1:
                    return product
        return Product
