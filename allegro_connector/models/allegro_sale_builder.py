from markupsafe import Markup

from odoo import fields, models
from odoo.tools import float_compare, format_amount

from .allegro_order_revision import DELIVERY_FIELDS

# Changes a confirmed sale order does not take silently. Address changes
# follow the status mapping (Odoo applies or flags them).
CHANGES_FLAGGED_AFTER_CONFIRMATION = ("money", "items", "delivery_method")


def _bookings(tax):
    """Where a tax books: the accounts and tags of its repartition lines."""
    return sorted(
        (line.document_type, line.repartition_type, line.account_id.id, tuple(sorted(line.tag_ids.ids)))
        for line in tax.repartition_line_ids
    )


class AllegroSaleBuilder(models.AbstractModel):
    """The sale order of an Allegro order: made, updated from later revisions,
    confirmed by the shop's policy; and the shop's defaults it is made with
    (warehouse, pricelist, price-included taxes). Part of ``allegro.order``."""

    _name = "allegro.sale.builder"
    _description = "Allegro sale order builder"

    def _sync_sale_order(self, previous=None, apply_policies=True, to_create=None):
        """Bring the sale order in line with this revision of the order.

        ``apply_policies=False`` leaves confirmation and invoicing to the
        caller, who applies them to a whole batch at once (``_apply_policies``).
        With a list as ``to_create``, a sale order to make is left to the
        caller too: the order is added to the list for ``_create_sale_orders``.
        """
        self.ensure_one()
        changes = []
        if previous and previous.get("revision") and previous["revision"] != self.revision:
            changes = self._revision_changes(previous)
        outcome = "recorded"
        sale_order = self.sale_order_id
        if sale_order:
            # A status change alone (payment arriving) leaves the lines as they are.
            resync = (
                any(kind != "status" for kind, _text in changes)
                and sale_order.state in ("draft", "sent")
                and self.status != "CANCELLED"
            )
            if resync and self._resync_sale_order():
                outcome = "applied"
            elif sale_order.state == "sale" and any(
                kind in CHANGES_FLAGGED_AFTER_CONFIRMATION for kind, _text in changes
            ):
                outcome = "flagged"
                self._flag(self.env._(
                    "The order changed on Allegro after its sale order was confirmed (revision %(revision)s): "
                    "%(changes)s. Check the sale order against the revision history.",
                    revision=self.revision,
                    changes="; ".join(text for kind, text in changes if kind in CHANGES_FLAGGED_AFTER_CONFIRMATION),
                ))
            self._apply_changes(previous or {}, resynced=outcome == "applied")
        elif self.status in ("FILLED_IN", "READY_FOR_PROCESSING"):
            # BOUGHT has no delivery data yet; CANCELLED needs no sale order.
            reason = not self.sale_requested and self._no_sale_reason()
            if (self.no_sale_reason or False) != reason:
                self.no_sale_reason = reason
            if not reason and to_create is not None:
                to_create.append(self)
            elif not reason:
                self._create_sale_orders()
        if changes:
            self._record_revision(previous, changes, outcome)
        if self.sync_state not in ("held", "done") or self.sync_error:
            self.write({"sync_state": "done", "sync_error": False})
        if apply_policies:
            self._apply_policies()

    def _no_sale_reason(self):
        """Why this order should be recorded without a sale order, if it should."""
        if self.fulfillment_provider == "ALLEGRO":
            return "allegro_fulfillment"
        start = self.shop_id.import_start_date
        if start and self.bought_at and self.bought_at < start:
            # The journal brings every change of old orders too (a status set on
            # Allegro): they were handled before Odoo, not to be shipped again.
            return "before_start"
        return False

    def action_create_sale_order(self):
        """The seller wants a sale order of an order recorded only."""
        for order in self.filtered(lambda o: not o.sale_order_id and o.no_sale_reason):
            order.write({"sale_requested": True})
            order._sync_sale_order()
        return True

    # ------------------------------------------------------------------
    # Making the sale order
    # ------------------------------------------------------------------

    def _match_products(self):
        """Products of the lines Allegro's offers sell, looked up for all these orders at once."""
        lines = self.line_ids.filtered("unmanaged")
        for shop, shop_lines in lines.grouped(lambda line: line.order_id.shop_id).items():
            products = self.env["allegro.offer"]._find_products(shop, shop_lines)
            for line in shop_lines:
                if products.get(line):
                    line.product_id = products[line]

    def _create_sale_orders(self):
        """Make the sale orders of these orders, created in one call (Odoo
        computes a batch of new sale orders and lines far faster than one by one)."""
        self._match_products()
        contacts = self._known_buyers()
        self._make_new_partners(contacts)
        prepared = [(order, values) for order in self for values in [order._prepare_sale_order(contacts)] if values]
        by_shop = {}
        for order, values in prepared:
            by_shop.setdefault(order.shop_id, []).append((order, values))
        for shop, pairs in by_shop.items():
            sale_orders = self.env["sale.order"].with_company(shop.company_id).with_context(
                mail_create_nolog=True, mail_create_nosubscribe=True
            ).create([values for _order, values in pairs])
            for (order, _values), sale_order in zip(pairs, sale_orders):
                order._sale_order_created(sale_order)

    def _held_for_products(self):
        """Items match no product and the shop holds such orders until they do."""
        return bool(self.line_ids.filtered("unmanaged")) and self.shop_id.unmanaged_policy == "hold"

    def _prepare_sale_order(self, contacts):
        """The values of this order's sale order, or None when it is held
        (products matched already; ``contacts``: see ``_known_buyers``)."""
        shop = self.shop_id
        unmanaged = self.line_ids.filtered("unmanaged")
        if self.sync_state == "held" and not self._held_for_products():
            # Its products are known now: the reason it was held is gone.
            self.write({"sync_state": "done", "needs_attention": False, "attention_reason": False})
        if self._held_for_products():
            self.sync_state = "held"
            self._flag(
                self.env._(
                    "%(count)s item(s) match no product: %(items)s. Use Map products to "
                    "choose them; the sale order is created then.",
                    count=len(unmanaged),
                    items=", ".join(unmanaged.mapped("offer_name")),
                )
            )
            return None
        if unmanaged:
            self._flag(
                self.env._(
                    "Sold with the placeholder product, since no product matches: %(items)s.",
                    items=", ".join(unmanaged.mapped("offer_name")),
                )
            )
        return {
            **self._sale_order_values(contacts),
            "company_id": shop.company_id.id,
            "warehouse_id": self._warehouse().id,
            "team_id": shop.team_id.id,
            "user_id": shop.user_id.id,
            "date_order": self.bought_at or fields.Datetime.now(),
            "client_order_ref": self.allegro_ref,
            "origin": "Allegro %s" % (self.buyer_login or ""),
            "allegro_shop_id": shop.id,
            "allegro_order_id": self.id,
        }

    def _sale_order_created(self, sale_order):
        self._link_sale_lines(sale_order)
        self.write({"sale_order_id": sale_order.id, "sync_state": "done"})
        self._check_money()
        if self.buyer_message:
            sale_order.message_post(
                body=Markup("<b>%s</b><br/>%s") % (self.env._("Message from the buyer:"), self.buyer_message),
                subtype_xmlid="mail.mt_note",
            )
        if self.shop_id.notify_email:
            self.env.ref("allegro_connector.mail_template_new_order").send_mail(self.id)

    def _sale_order_values(self, contacts=None):
        """Partners, fiscal position, carrier and lines of this revision.

        The fiscal position is the one Odoo itself picks for the buyer and the
        delivery address (OSS for EU consumers, intra-EU B2B for a buyer with a
        VAT id, none at home); each line's taxes are the product's taxes mapped
        by it, in their price-included variant since Allegro prices are gross.
        """
        shop = self.shop_id
        partner, invoice_partner, shipping_partner = self._find_or_create_partners(contacts)
        fiscal_position = self.env["account.fiscal.position"].with_company(shop.company_id)._get_fiscal_position(
            partner, shipping_partner
        )
        order_lines = [
            self._sale_line_values(line.product_id or shop.placeholder_product_id, line, fiscal_position)
            for line in self.line_ids
        ]
        order_lines += [self._charge_line_values(charge, fiscal_position) for charge in self.charge_ids]
        delivery_line, carrier = self._delivery_line(fiscal_position)
        if delivery_line:
            order_lines.append(delivery_line)
        return {
            "partner_id": partner.id,
            "partner_invoice_id": invoice_partner.id,
            "partner_shipping_id": shipping_partner.id,
            "fiscal_position_id": fiscal_position.id,
            "pricelist_id": self._pricelist_for(self.currency_id).id,
            "carrier_id": carrier.id,
            "order_line": [(0, 0, values) for values in order_lines],
        }

    def _link_sale_lines(self, sale_order):
        # Item lines come first, in the order of the Allegro items.
        for line, sale_line in zip(self.line_ids, sale_order.order_line.sorted(lambda l: (l.sequence, l.id))):
            line.sale_line_id = sale_line

    def _taxes(self, product, fiscal_position, company_default=False):
        """``company_default``: a product without sales tax in the company
        takes the company's default one (the connector's own delivery and
        service products, made before or apart from any chart of accounts)."""
        company = self.shop_id.company_id
        taxes = product.taxes_id._filter_taxes_by_company(company)
        if not taxes and company_default:
            taxes = company.account_sale_tax_id
        return self._gross_taxes(fiscal_position.map_tax(taxes))

    def _sale_line_values(self, product, line, fiscal_position):
        name = line.offer_name
        if line.offer_sku:
            name = f"[{line.offer_sku}] {name}"
        return {
            "product_id": product.id,
            "name": name,
            "product_uom_qty": line.quantity,
            "price_unit": line.unit_price,
            "tax_ids": [(6, 0, self._taxes(product, fiscal_position).ids)],
        }

    def _charge_line_values(self, charge, fiscal_position):
        product = self.env.ref(f"allegro_connector.product_allegro_{charge.kind}")
        name = {
            "service": charge.name,
            "deposit": self.env._("Deposit: %(item)s", item=charge.name),
            "surcharge": self.env._("Surcharge paid on Allegro (%(payment)s)", payment=charge.name),
        }[charge.kind]
        return {
            "product_id": product.id,
            "name": name,
            "product_uom_qty": charge.quantity,
            "price_unit": charge.unit_price,
            # A deposit is no sale: no VAT.
            "tax_ids": [(6, 0, self._taxes(product, fiscal_position, company_default=charge.kind != "deposit").ids)],
        }

    def _delivery_line(self, fiscal_position):
        """Values of the delivery line, and the carrier mapped to the method."""
        if not (self.delivery_method_ref or self.delivery_cost):
            return {}, self.env["delivery.carrier"]
        method = self.env["allegro.delivery.method"]._for_order(self)
        carrier = method.carrier_id
        product = carrier.product_id or self._delivery_product()
        return {
            "product_id": product.id,
            "name": self.delivery_method_name or product.name,
            "product_uom_qty": 1,
            "price_unit": self.delivery_cost,
            "tax_ids": [(6, 0, self._taxes(product, fiscal_position, company_default=True).ids)],
            "is_delivery": True,
        }, carrier

    def _check_money(self):
        """The sale order must total what the buyer pays; Allegro's VAT rates
        must be Odoo's. A difference is flagged and stops automatic
        confirmation and invoicing."""
        sale_order = self.sale_order_id
        currency = self.currency_id
        difference = currency.round(self.total_to_pay + self.surcharge_total - sale_order.amount_total)
        mismatch = not currency.is_zero(difference)
        if mismatch != self.amount_mismatch or difference != self.amount_difference:
            self.write({"amount_mismatch": mismatch, "amount_difference": difference if mismatch else 0.0})
        if mismatch:
            self._flag(
                self.env._(
                    "The sale order total (%(odoo)s) differs from what the buyer pays on Allegro (%(allegro)s) "
                    "by %(difference)s: it is not confirmed or invoiced automatically.",
                    odoo=format_amount(self.env, sale_order.amount_total, currency),
                    allegro=format_amount(self.env, self.total_to_pay + self.surcharge_total, currency),
                    difference=format_amount(self.env, difference, currency),
                )
            )
        for line in self.line_ids.filtered(lambda l: l.tax_rate and l.sale_line_id):
            odoo_rate = sum(line.sale_line_id.tax_ids.filtered(lambda t: t.amount_type == "percent").mapped("amount"))
            try:
                allegro_rate = float(line.tax_rate)
            except ValueError:
                allegro_rate = None
            if allegro_rate is None or float_compare(allegro_rate, odoo_rate, precision_digits=2):
                self._flag(
                    self.env._(
                        "Allegro states %(allegro)s%% VAT on %(item)s, Odoo applies %(odoo)s%%.",
                        allegro=line.tax_rate, item=line.offer_name, odoo=f"{odoo_rate:g}",
                    )
                )

    # ------------------------------------------------------------------
    # Applying a later revision
    # ------------------------------------------------------------------

    def _resync_sale_order(self):
        """Rebuild the unconfirmed sale order from this revision. False when it
        cannot be (an item matches no product while the shop holds such orders)."""
        sale_order = self.sale_order_id
        self._match_products()
        if self.line_ids.filtered("unmanaged") and not self.shop_id.placeholder_product_id:
            self._flag(self.env._(
                "A new revision has items matching no product: map them, then refresh the order from Allegro."))
            return False
        values = self._sale_order_values()
        values["order_line"] = [(5, 0, 0)] + values["order_line"]
        sale_order.write(values)
        self._link_sale_lines(sale_order)
        sale_order.message_post(
            body=self.env._("Updated from Allegro revision %(revision)s.", revision=self.revision),
            subtype_xmlid="mail.mt_note",
        )
        self._check_money()
        return True

    def _apply_changes(self, previous, resynced=False):
        """Payment, address and cancellation news for an existing sale order;
        ``resynced``: the sale order was rebuilt from this revision already."""
        sale_order = self.sale_order_id
        if previous.get("payment_status") and previous["payment_status"] != self.payment_status:
            sale_order.message_post(
                body=self.env._(
                    "Allegro payment status: %(status)s.",
                    status=dict(self._fields["payment_status"]._description_selection(self.env))[self.payment_status],
                ),
                subtype_xmlid="mail.mt_note",
            )
        if not resynced and any(previous.get(name, self[name]) != self[name] for name in DELIVERY_FIELDS):
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
            sale_order.with_context(allegro_no_update=True)._action_cancel()
        sale_order.message_post(
            body=self.env._("The buyer cancelled the order on Allegro; the order and its deliveries are cancelled."),
            subtype_xmlid="mail.mt_note",
        )

    # ------------------------------------------------------------------
    # Held orders, confirmation
    # ------------------------------------------------------------------

    def _complete_held_orders(self):
        """Make the sale orders of held orders whose products are now known."""
        held = self.filtered(lambda o: o.sync_state == "held" and not o.sale_order_id)
        held._create_sale_orders()
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
        if (
            not sale_order
            or sale_order.state not in ("draft", "sent")
            or self.status == "CANCELLED"
            or self.amount_mismatch
        ):
            return False
        policy = self.shop_id.confirm_policy
        return policy == "always" or (
            policy == "paid"
            and self.status == "READY_FOR_PROCESSING"
            and self.payment_status in ("paid", "cod")
        )

    # ------------------------------------------------------------------
    # The shop's defaults for sale orders
    # ------------------------------------------------------------------

    def _lookup(self, key, find):
        """``find()`` once per import transaction: asked for every order.

        Only records that existed already are remembered; one made now could
        vanish with a rolled-back savepoint. One found now may have been made
        earlier in the same batch: Odoo empties the cursor's cache at every
        rollback, savepoints included, so it never outlives a dropped batch."""
        cache = self.env.cr.cache.setdefault("allegro_connector", {})
        if key in cache:
            return self.env[cache[key][0]].browse(cache[key][1])
        record, existed = find()
        if existed:
            cache[key] = (record._name, record.ids)
        return record

    def _warehouse(self):
        shop = self.shop_id
        return shop.warehouse_id or self._lookup(("warehouse", shop.company_id.id), lambda: (
            self.env["stock.warehouse"].search([("company_id", "=", shop.company_id.id)], limit=1), True))

    def _delivery_product(self):
        return self.shop_id.delivery_product_id or self.env.ref("allegro_connector.product_allegro_delivery")

    def _pricelist_for(self, currency):
        shop = self.shop_id
        pricelist = shop.pricelist_ids.filtered(lambda p: p.currency_id == currency)[:1]
        return pricelist or self._lookup(("pricelist", shop.company_id.id, currency.id),
                                         lambda: self._find_or_create_pricelist(currency))

    def _find_or_create_pricelist(self, currency):
        # Whoever fetches orders need not manage pricelists or currencies: the
        # marketplace's pricelist is the connector's own set-up, like the gross taxes.
        company = self.shop_id.company_id
        Pricelist = self.env["product.pricelist"].sudo()
        pricelist = Pricelist.search(
            [("currency_id", "=", currency.id), ("company_id", "in", [company.id, False])], limit=1
        )
        if pricelist:
            return pricelist.sudo(False), True
        if not currency.active:
            currency.sudo().active = True
        return Pricelist.create(
            {"name": f"Allegro {currency.name}", "currency_id": currency.id, "company_id": company.id}
        ).sudo(False), False

    def _gross_taxes(self, taxes):
        """The price-included version of each tax: Allegro prices are gross,
        and an order must total what the buyer paid, to the grosz."""
        result = self.env["account.tax"]
        for tax in taxes:
            result |= tax if tax.price_include else self._lookup(
                ("gross_tax", tax.id), lambda tax=tax: self._find_or_create_gross_tax(tax))
        return result

    def _find_or_create_gross_tax(self, tax):
        # Same rate is not enough: an OSS tax of another country (23% in
        # Slovakia) must not become the domestic one; it is the same tax when
        # it books to the same accounts with the same tags.
        included = self.env["account.tax"].search(
            [
                ("company_id", "=", tax.company_id.id),
                ("type_tax_use", "=", tax.type_tax_use),
                ("amount_type", "=", tax.amount_type),
                ("amount", "=", tax.amount),
                ("price_include_override", "=", "tax_included"),
                ("tax_group_id", "=", tax.tax_group_id.id),
                ("country_id", "=", tax.country_id.id),
            ],
        ).filtered(lambda included: _bookings(included) == _bookings(tax))[:1]
        if included:
            return included, True
        # Whoever fetches orders need not be an accountant: the gross twin of a
        # tax is the connector's own bookkeeping.
        return tax.sudo().copy(
            {"name": self.env._("%(tax)s (price included)", tax=tax.name), "price_include_override": "tax_included"}
        ).sudo(False), False
