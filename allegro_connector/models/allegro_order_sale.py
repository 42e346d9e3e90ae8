from markupsafe import Markup

from odoo import fields, models
from odoo.tools import float_compare

# Fields whose change means the buyer edited where the parcel goes.
DELIVERY_FIELDS = (
    "delivery_name", "delivery_company", "delivery_street", "delivery_zip",
    "delivery_city", "delivery_country_code", "delivery_phone", "pickup_point_id",
)


class AllegroOrder(models.Model):
    """From Allegro order to sale order, and later revisions."""

    _inherit = "allegro.order"

    def _snapshot(self):
        """What a later revision is compared with."""
        self.ensure_one()
        return {
            "status": self.status,
            "payment_status": self.payment_status,
            **{name: self[name] for name in DELIVERY_FIELDS},
        }

    def _sync_sale_order(self, previous=None, apply_policies=True):
        """Bring the sale order in line with this revision of the order.

        ``apply_policies=False`` leaves confirmation and invoicing to the
        caller, who applies them to a whole batch at once (``_apply_policies``).
        """
        self.ensure_one()
        if self.sale_order_id:
            self._apply_changes(previous or {})
        elif self.status in ("FILLED_IN", "READY_FOR_PROCESSING"):
            # BOUGHT has no delivery data yet; CANCELLED needs no sale order.
            self._create_sale_order()
            if self.sale_order_id:
                self._check_total(self.sale_order_id)
        if self.sync_state not in ("held", "done") or self.sync_error:
            self.write({"sync_state": "done", "sync_error": False})
        if apply_policies:
            self._apply_policies()

    # ------------------------------------------------------------------
    # Creation
    # ------------------------------------------------------------------

    def _match_products(self):
        Offer = self.env["allegro.offer"]
        for line in self.line_ids.filtered("unmanaged"):
            product = Offer._find_product(self.shop_id, line)
            if product:
                line.product_id = product

    def _create_sale_order(self):
        shop = self.shop_id
        self._match_products()
        unmanaged = self.line_ids.filtered("unmanaged")
        if self.sync_state == "held" and not (unmanaged and shop.unmanaged_policy == "hold"):
            # Its products are known now: the reason it was held is gone.
            self.write({"sync_state": "done", "needs_attention": False, "attention_reason": False})
        if unmanaged and shop.unmanaged_policy == "hold":
            self.sync_state = "held"
            self._flag(
                self.env._(
                    "%(count)s item(s) match no product: %(items)s. Use Map products to "
                    "choose them; the sale order is created then.",
                    count=len(unmanaged),
                    items=", ".join(unmanaged.mapped("offer_name")),
                )
            )
            return
        if unmanaged:
            self._flag(
                self.env._(
                    "Sold with the placeholder product, since no product matches: %(items)s.",
                    items=", ".join(unmanaged.mapped("offer_name")),
                )
            )
        partner, invoice_partner, shipping_partner = self._find_or_create_partners()
        order_lines = [
            (0, 0, self._sale_line_values(line.product_id or shop.placeholder_product_id, line))
            for line in self.line_ids
        ]
        delivery_line, carrier = self._delivery_line()
        if delivery_line:
            order_lines.append((0, 0, delivery_line))
        sale_order = self.env["sale.order"].with_company(shop.company_id).with_context(
            mail_create_nolog=True, mail_create_nosubscribe=True
        ).create(
            {
                "partner_id": partner.id,
                "partner_invoice_id": invoice_partner.id,
                "partner_shipping_id": shipping_partner.id,
                "company_id": shop.company_id.id,
                "warehouse_id": shop._warehouse().id,
                "team_id": shop.team_id.id,
                "user_id": shop.user_id.id,
                "pricelist_id": shop._pricelist_for(self.currency_id).id,
                "date_order": self.bought_at or fields.Datetime.now(),
                "client_order_ref": self.external_id,
                "origin": "Allegro %s" % (self.buyer_login or ""),
                "allegro_shop_id": shop.id,
                "allegro_order_id": self.id,
                "carrier_id": carrier.id,
                "order_line": order_lines,
            }
        )
        for line, sale_line in zip(self.line_ids, sale_order.order_line):
            line.sale_line_id = sale_line
        self.sale_order_id = sale_order
        self.sync_state = "done"
        if self.buyer_message:
            sale_order.message_post(
                body=Markup("<b>%s</b><br/>%s") % (self.env._("Message from the buyer:"), self.buyer_message),
                subtype_xmlid="mail.mt_note",
            )
        shop._notify_new_order(self)

    def _sale_line_values(self, product, line):
        taxes = self.shop_id._gross_taxes(product.taxes_id._filter_taxes_by_company(self.shop_id.company_id))
        name = line.offer_name
        if line.offer_external_id:
            name = f"[{line.offer_external_id}] {name}"
        return {
            "product_id": product.id,
            "name": name,
            "product_uom_qty": line.quantity,
            "price_unit": line.unit_price,
            "tax_ids": [(6, 0, taxes.ids)],
        }

    def _delivery_line(self):
        """Values of the delivery line, and the carrier mapped to the method."""
        shop = self.shop_id
        if not (self.delivery_method_id or self.delivery_cost):
            return {}, self.env["delivery.carrier"]
        method = self.env["allegro.delivery.method"]._for_order(self)
        carrier = method.carrier_id
        product = carrier.product_id or shop._delivery_product()
        taxes = shop._gross_taxes(product.taxes_id._filter_taxes_by_company(shop.company_id))
        return {
            "product_id": product.id,
            "name": self.delivery_method_name or product.name,
            "product_uom_qty": 1,
            "price_unit": self.delivery_cost,
            "tax_ids": [(6, 0, taxes.ids)],
            "is_delivery": True,
        }, carrier

    def _check_total(self, sale_order):
        if float_compare(
            sale_order.amount_total, self.total_to_pay, precision_rounding=self.currency_id.rounding
        ):
            self._flag(
                self.env._(
                    "The sale order total (%(odoo)s) differs from what the buyer pays on Allegro (%(allegro)s).",
                    odoo=sale_order.amount_total,
                    allegro=self.total_to_pay,
                )
            )

    def _find_or_create_partners(self):
        """Buyer (found again by Allegro buyer id), delivery and invoice contacts."""
        shop = self.shop_id
        Partner = self.env["res.partner"].with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
        buyer = Partner.search(
            [
                ("allegro_buyer_id", "=", self.buyer_id),
                ("company_id", "in", [shop.company_id.id, False]),
                ("parent_id", "=", False),
            ],
            limit=1,
        )
        buyer_values = {
            "name": self.buyer_company or self.buyer_name or self.buyer_login or self.buyer_email,
            "is_company": bool(self.buyer_company),
            "email": self.buyer_email,
            "phone": self.buyer_phone,
            "allegro_buyer_id": self.buyer_id,
            "company_id": shop.company_id.id,
        }
        if buyer:
            del buyer_values["company_id"]
            buyer.write({k: v for k, v in buyer_values.items() if v and buyer[k] != v})
        else:
            # The account owner's address; the delivery one when Allegro gives none.
            address = self._address_values(
                self.buyer_street, self.buyer_zip, self.buyer_city, self.buyer_country_code
            ) if self.buyer_street else self._address_values(
                self.delivery_street, self.delivery_zip, self.delivery_city, self.delivery_country_code
            )
            buyer = Partner.create(dict(buyer_values, **address))
        shipping = self._child_contact(buyer, "delivery", {
            "name": self.delivery_company and self.delivery_name
            and f"{self.delivery_company}, {self.delivery_name}"
            or self.delivery_company or self.delivery_name or buyer.name,
            "phone": self.delivery_phone,
            **self._address_values(
                self.delivery_street, self.delivery_zip, self.delivery_city, self.delivery_country_code
            ),
        })
        # No invoice asked for: the shop says whose data a receipt-like invoice
        # carries, the delivery's or the account owner's.
        invoice = shipping if shop.invoice_data_source == "delivery" else buyer
        if self.invoice_required or self.invoice_street:
            invoice = self._child_contact(buyer, "invoice", {
                "name": self.invoice_name or buyer.name,
                "vat": self.invoice_vat,
                **self._address_values(
                    self.invoice_street, self.invoice_zip, self.invoice_city, self.invoice_country_code
                ),
            })
        return buyer, invoice, shipping

    def _address_values(self, street, zip_code, city, country_code):
        return {
            "street": street,
            "zip": zip_code,
            "city": city,
            "country_id": country_code
            and self.env["res.country"].search([("code", "=", country_code.upper())], limit=1).id,
        }

    def _child_contact(self, parent, contact_type, values):
        """The parent's contact of that type and address, made if missing."""
        values = {k: v or False for k, v in values.items()}
        same = [(name, "=", values[name]) for name in ("name", "street", "zip", "city", "country_id")]
        contact = self.env["res.partner"].search(
            [("parent_id", "=", parent.id), ("type", "=", contact_type), *same], limit=1
        )
        if contact:
            if values.get("vat") and contact.vat != values["vat"]:
                contact.vat = values["vat"]
            return contact
        return self.env["res.partner"].with_context(
            mail_create_nolog=True, mail_create_nosubscribe=True
        ).create(
            dict(values, parent_id=parent.id, type=contact_type, company_id=parent.company_id.id)
        )

    # ------------------------------------------------------------------
    # Later revisions
    # ------------------------------------------------------------------

    def _apply_changes(self, previous):
        sale_order = self.sale_order_id
        if previous.get("payment_status") and previous["payment_status"] != self.payment_status:
            sale_order.message_post(
                body=self.env._(
                    "Allegro payment status: %(status)s.",
                    status=dict(self._fields["payment_status"]._description_selection(self.env))[self.payment_status],
                ),
                subtype_xmlid="mail.mt_note",
            )
        if any(previous.get(name, self[name]) != self[name] for name in DELIVERY_FIELDS):
            self._apply_address_change()
        if self.status == "CANCELLED" and previous.get("status") != "CANCELLED":
            self._apply_buyer_cancellation()

    def _shipped_pickings(self):
        return self.sale_order_id.picking_ids.filtered(
            lambda p: p.state == "done" and p.picking_type_code == "outgoing"
        )

    def _mapping_lets_odoo_apply(self, allegro_event, flag_reason):
        """What the status mapping says of an Allegro event: True when Odoo
        should act on it; otherwise the order is flagged or left alone."""
        action = self.env["allegro.status.map"]._incoming_action(self.shop_id, allegro_event)
        if action == "flag":
            self._flag(flag_reason)
        return action == "apply"

    def _apply_address_change(self):
        sale_order = self.sale_order_id
        if not self._mapping_lets_odoo_apply(
            "address_changed", self.env._("The buyer changed the delivery address on Allegro.")
        ):
            return
        if self._shipped_pickings():
            self._flag(self.env._("The buyer changed the delivery address after the parcel was shipped."))
            return
        _buyer, _invoice, shipping = self._find_or_create_partners()
        sale_order.partner_shipping_id = shipping
        sale_order.picking_ids.filtered(lambda p: p.state not in ("done", "cancel")).partner_id = shipping
        sale_order.message_post(
            body=self.env._("The buyer changed the delivery address on Allegro: %(address)s.",
                            address=shipping._display_address(without_company=True).replace("\n", ", ")),
            subtype_xmlid="mail.mt_note",
        )

    def _apply_buyer_cancellation(self):
        sale_order = self.sale_order_id
        if not self._mapping_lets_odoo_apply(
            "buyer_cancelled", self.env._("The buyer cancelled the order on Allegro.")
        ):
            return
        if self._shipped_pickings():
            self._flag(self.env._("The buyer cancelled the order after it was shipped: arrange a return."))
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Cancelled after shipping: arrange a return"),
                user_id=(self.shop_id.user_id or self.env.user).id,
            )
            return
        if sale_order.state != "cancel":
            # Allegro knows already: nothing to send back.
            sale_order.with_context(allegro_no_push=True)._action_cancel()
        sale_order.message_post(
            body=self.env._("The buyer cancelled the order on Allegro; the order and its deliveries are cancelled."),
            subtype_xmlid="mail.mt_note",
        )

    def _complete_held_orders(self):
        """Make the sale orders of held orders whose products are now known."""
        held = self.filtered(lambda o: o.sync_state == "held" and not o.sale_order_id)
        for order in held:
            order._create_sale_order()
        held._apply_policies()

    def _apply_policies(self):
        """The shops' confirmation, then invoicing, policies."""
        self._apply_confirmation_policy()
        self._apply_invoice_policy("paid")

    def _apply_confirmation_policy(self):
        """Confirm the sale orders the shop's policy says to, all at once:
        Odoo confirms (and plans deliveries for) a batch faster than one by one."""
        to_confirm = self.filtered(lambda o: o._should_confirm())
        for notify_buyer, orders in to_confirm.grouped(lambda o: o.shop_id.notify_buyer).items():
            orders.sale_order_id.with_context(send_email=notify_buyer).action_confirm()

    def _should_confirm(self):
        sale_order = self.sale_order_id
        if not sale_order or sale_order.state not in ("draft", "sent") or self.status == "CANCELLED":
            return False
        policy = self.shop_id.confirm_policy
        return policy == "always" or (
            policy == "paid"
            and self.status == "READY_FOR_PROCESSING"
            and self.payment_status in ("paid", "cod")
        )
