from markupsafe import Markup

from odoo import fields, models
from odoo.tools import float_compare, format_amount

# Fields whose change means the buyer edited where the parcel goes.
DELIVERY_FIELDS = (
    "delivery_name", "delivery_company", "delivery_street", "delivery_zip",
    "delivery_city", "delivery_country_code", "delivery_phone", "pickup_point_id",
)
# What a revision history compares, by kind of change.
REVISION_FIELDS = {
    "money": ("total_to_pay", "delivery_cost", "surcharge_total"),
    "shipping": DELIVERY_FIELDS + ("pickup_point_address",),
    "invoice": ("invoice_required", "invoice_name", "invoice_vat", "invoice_street", "invoice_zip",
                "invoice_city", "invoice_country_code"),
    "status": ("status", "payment_status", "fulfillment_status"),
}
# Changes a confirmed sale order does not take silently. Address changes
# follow the status mapping (Odoo applies or flags them).
CHANGES_FLAGGED_AFTER_CONFIRMATION = ("money", "items", "delivery_method")


# What makes two contacts of one buyer the same.
CONTACT_KEY_FIELDS = ("name", "street", "zip", "city", "country_id")


def _contact_key(parent, contact_type, values):
    """(key, values with empty ones as False) of a contact of ``parent``."""
    values = {k: v or False for k, v in values.items()}
    return (parent.id, contact_type, tuple(values[name] for name in CONTACT_KEY_FIELDS)), values


class BatchContacts:
    """The buyers of a batch of orders, looked up at once, and the contacts
    made for them. A buyer made in this batch has no contacts but those made
    here: finding them needs no search."""

    def __init__(self, buyers):
        self.buyers = buyers  # (company id, Allegro buyer id) -> res.partner
        self.new_buyer_ids = set()
        self.made = {}  # (parent id, type, address) -> res.partner


class AllegroOrder(models.Model):
    """From Allegro order to sale order, and later revisions."""

    _inherit = "allegro.order"

    revision_ids = fields.One2many("allegro.order.revision", "order_id", "Revision history", readonly=True)
    def _snapshot(self):
        """What a later revision is compared with."""
        self.ensure_one()
        values = {name: self[name] for names in REVISION_FIELDS.values() for name in names}
        values.update(
            revision=self.revision,
            delivery_method_id=self.delivery_method_id,
            delivery_method_name=self.delivery_method_name,
            items={line.line_item_id: (line.offer_name, line.quantity, line.unit_price) for line in self.line_ids},
            charges=sorted((c.kind, c.name, c.quantity, c.unit_price) for c in self.charge_ids),
        )
        return values

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
            return "allegro_fulfilment"
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
    # Creation
    # ------------------------------------------------------------------

    def _match_products(self):
        """Products of the lines Allegro's offers sell, looked up for all these orders at once."""
        lines = self.line_ids.filtered("unmanaged")
        for shop, shop_lines in lines.grouped(lambda line: line.order_id.shop_id).items():
            products = self.env["allegro.offer"]._find_products(shop, shop_lines)
            for line in shop_lines:
                if products.get(line):
                    line.product_id = products[line]

    def _known_buyers(self):
        """The contacts of these orders' buyers already in Odoo (BatchContacts)."""
        Partner = self.env["res.partner"]
        buyers = {}
        for company, orders in self.grouped(lambda o: o.shop_id.company_id).items():
            for partner in Partner.search([
                ("allegro_buyer_id", "in", list(set(orders.mapped("buyer_id")))),
                ("company_id", "in", [company.id, False]),
                ("parent_id", "=", False),
            ], order="id"):
                buyers.setdefault((company.id, partner.allegro_buyer_id), partner)
        return BatchContacts(buyers)

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
            "warehouse_id": shop._warehouse().id,
            "team_id": shop.team_id.id,
            "user_id": shop.user_id.id,
            "date_order": self.bought_at or fields.Datetime.now(),
            "client_order_ref": self.external_id,
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
        self.shop_id._notify_new_order(self)

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
            "pricelist_id": shop._pricelist_for(self.currency_id).id,
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
        return self.shop_id._gross_taxes(fiscal_position.map_tax(taxes))

    def _sale_line_values(self, product, line, fiscal_position):
        name = line.offer_name
        if line.offer_external_id:
            name = f"[{line.offer_external_id}] {name}"
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
        shop = self.shop_id
        if not (self.delivery_method_id or self.delivery_cost):
            return {}, self.env["delivery.carrier"]
        method = self.env["allegro.delivery.method"]._for_order(self)
        carrier = method.carrier_id
        product = carrier.product_id or shop._delivery_product()
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

    def _find_or_create_partners(self, contacts=None):
        """Buyer (found again by Allegro buyer id), delivery and invoice contacts.

        ``contacts``: the BatchContacts of the batch this order is made in
        (``_known_buyers``, ``_make_new_partners``); without it, the buyer is
        looked up alone."""
        shop = self.shop_id
        if contacts is None:
            contacts = self._known_buyers()
        key = (shop.company_id.id, self.buyer_id)
        buyer = contacts.buyers.get(key)
        if buyer:
            values = self._buyer_values(address=False)
            buyer.write({k: v for k, v in values.items() if v and buyer[k] != v})
        else:
            buyer = contacts.buyers[key] = self._new_partners().create(self._buyer_values())
            contacts.new_buyer_ids.add(buyer.id)
        shipping_values, invoice_values = self._contact_values(buyer)
        shipping = self._child_contact(contacts, buyer, "delivery", shipping_values)
        # No invoice asked for: the shop says whose data a receipt-like invoice
        # carries, the delivery's or the account owner's.
        invoice = shipping if shop.invoice_data_source == "delivery" else buyer
        if invoice_values is not None:
            contact = self
            if self._vat_unchecked(invoice_values):
                # Odoo would refuse the contact, and the order with it: the
                # tax id is kept as the buyer gave it, for a person to check.
                contact = self.with_context(no_vat_validation=True)
                if not self.invoice_vat_unchecked:
                    self.invoice_vat_unchecked = True
                self._flag(self.env._(
                    "Check the buyer's tax id: %(vat)s does not pass Odoo's check; it is kept as Allegro gave it.",
                    vat=self.invoice_vat,
                ))
            elif self.invoice_vat_unchecked:
                self.invoice_vat_unchecked = False
            invoice = contact._child_contact(contacts, buyer, "invoice", invoice_values)
        return buyer, invoice, shipping

    def _new_partners(self):
        return self.env["res.partner"].with_context(mail_create_nolog=True, mail_create_nosubscribe=True)

    def _buyer_values(self, address=True):
        values = {
            "name": self.buyer_company or self.buyer_name or self.buyer_login or self.buyer_email,
            "is_company": bool(self.buyer_company),
            "email": self.buyer_email,
            "phone": self.buyer_phone,
            "allegro_buyer_id": self.buyer_id,
        }
        if address:
            # A new buyer: the account owner's address; the delivery one when Allegro gives none.
            values["company_id"] = self.shop_id.company_id.id
            values.update(self._address_values(
                self.buyer_street, self.buyer_zip, self.buyer_city, self.buyer_country_code
            ) if self.buyer_street else self._address_values(
                self.delivery_street, self.delivery_zip, self.delivery_city, self.delivery_country_code
            ))
        return values

    def _contact_values(self, buyer):
        """Values of the delivery contact, and of the invoice contact (None when no invoice data)."""
        shipping = {
            "name": self.delivery_company and self.delivery_name
            and f"{self.delivery_company}, {self.delivery_name}"
            or self.delivery_company or self.delivery_name or buyer.name,
            "phone": self.delivery_phone,
            **self._address_values(
                self.delivery_street, self.delivery_zip, self.delivery_city, self.delivery_country_code
            ),
        }
        invoice = None
        if self.invoice_required or self.invoice_street:
            invoice = {
                "name": self.invoice_name or buyer.name,
                "vat": self.invoice_vat,
                **self._address_values(
                    self.invoice_street, self.invoice_zip, self.invoice_city, self.invoice_country_code
                ),
            }
        return shipping, invoice

    def _vat_unchecked(self, invoice_values):
        return bool(self.invoice_vat) and not self._vat_passes_check(invoice_values["country_id"])

    def _make_new_partners(self, contacts):
        """The buyers of these orders not in Odoo yet, then their contacts:
        each kind made in one call (``_find_or_create_partners`` finds them)."""
        new = {}
        orders = self.filtered(lambda o: not o._held_for_products())
        for order in orders:
            key = (order.shop_id.company_id.id, order.buyer_id)
            if key not in contacts.buyers and key not in new:
                new[key] = order._buyer_values()
        if not new:
            return
        for key, buyer in zip(new, self._new_partners().create(list(new.values()))):
            contacts.buyers[key] = buyer
            contacts.new_buyer_ids.add(buyer.id)
        todo = {False: {}, True: {}}  # by "tax id kept unchecked"
        for order in orders:
            buyer = contacts.buyers[(order.shop_id.company_id.id, order.buyer_id)]
            if buyer.id not in contacts.new_buyer_ids:
                continue
            shipping, invoice = order._contact_values(buyer)
            kinds = [("delivery", shipping, False)]
            if invoice is not None:
                kinds.append(("invoice", invoice, order._vat_unchecked(invoice)))
            for contact_type, values, unchecked in kinds:
                key, values = _contact_key(buyer, contact_type, values)
                if key not in contacts.made:
                    todo[unchecked][key] = dict(values, parent_id=buyer.id, type=contact_type,
                                                company_id=buyer.company_id.id)
        for unchecked, pending in todo.items():
            if pending:
                Partner = self._new_partners().with_context(no_vat_validation=unchecked)
                contacts.made.update(zip(pending, Partner.create(list(pending.values()))))

    def _vat_passes_check(self, country_id):
        Partner = self.env["res.partner"]
        if not hasattr(Partner, "_run_vat_checks"):
            return True  # no VAT validation installed (base_vat)
        country = self.env["res.country"].browse(country_id)
        return bool(Partner._run_vat_checks(country, self.invoice_vat, validation="setnull")[0])

    def _address_values(self, street, zip_code, city, country_code):
        return {
            "street": street,
            "zip": zip_code,
            "city": city,
            "country_id": country_code and self.shop_id._lookup(("country", country_code.upper()), lambda: (
                self.env["res.country"].search([("code", "=", country_code.upper())], limit=1), True)).id,
        }

    def _child_contact(self, contacts, parent, contact_type, values):
        """The parent's contact of that type and address, made if missing."""
        key, values = _contact_key(parent, contact_type, values)
        if parent.id in contacts.new_buyer_ids:
            contact = contacts.made.get(key, self.env["res.partner"])
        else:
            contact = self.env["res.partner"].search(
                [("parent_id", "=", parent.id), ("type", "=", contact_type),
                 *[(name, "=", values[name]) for name in CONTACT_KEY_FIELDS]], limit=1)
        if contact:
            if values.get("vat") and contact.vat != values["vat"]:
                contact.vat = values["vat"]
            return contact
        contact = contacts.made[key] = self._new_partners().create(
            dict(values, parent_id=parent.id, type=contact_type, company_id=parent.company_id.id)
        )
        return contact

    # ------------------------------------------------------------------
    # Later revisions
    # ------------------------------------------------------------------

    def _revision_changes(self, previous):
        """What changed since ``previous`` (a snapshot): (kind, readable text) pairs."""
        current = self._snapshot()
        changes = []
        for kind, names in REVISION_FIELDS.items():
            for name in names:
                before, after = previous.get(name), current[name]
                if (before or False) != (after or False):
                    changes.append((kind, "%s: %s → %s" % (
                        self._fields[name]._description_string(self.env),
                        self._revision_value(name, before), self._revision_value(name, after))))
        if (previous.get("delivery_method_id") or False) != (current["delivery_method_id"] or False):
            changes.append(("delivery_method", self.env._(
                "Delivery method: %(before)s → %(after)s",
                before=previous.get("delivery_method_name") or "-", after=self.delivery_method_name or "-")))
        before_items, after_items = previous.get("items") or {}, current["items"]
        for item_id, (name, quantity, price) in after_items.items():
            old = before_items.get(item_id)
            if not old:
                changes.append(("items", self.env._(
                    "Item added: %(quantity)s × %(item)s at %(price)s", quantity=quantity, item=name,
                    price=format_amount(self.env, price, self.currency_id))))
            elif old[1:] != (quantity, price):
                changes.append(("items", self.env._(
                    "%(item)s: %(old_quantity)s × %(old_price)s → %(quantity)s × %(price)s", item=name,
                    old_quantity=old[1], old_price=format_amount(self.env, old[2], self.currency_id),
                    quantity=quantity, price=format_amount(self.env, price, self.currency_id))))
        for item_id, (name, quantity, _price) in before_items.items():
            if item_id not in after_items:
                changes.append(("items", self.env._(
                    "Item removed: %(quantity)s × %(item)s", quantity=quantity, item=name)))
        if (previous.get("charges") or []) != current["charges"]:
            changes.append(("money", self.env._(
                "Services, deposits and surcharges: %(before)s → %(after)s",
                before=self._describe_charges(previous.get("charges") or []),
                after=self._describe_charges(current["charges"]))))
        return changes

    def _describe_charges(self, charges):
        kinds = dict(self.env["allegro.order.charge"]._fields["kind"]._description_selection(self.env))
        return ", ".join(
            "%s %s: %s × %s" % (kinds[kind], name, quantity, format_amount(self.env, price, self.currency_id))
            for kind, name, quantity, price in charges
        ) or "-"

    def _revision_value(self, name, value):
        field = self._fields[name]
        if value in (None, False, ""):
            return "-"
        if field.type == "monetary":
            return format_amount(self.env, value, self.currency_id)
        if field.type == "selection":
            return dict(field._description_selection(self.env)).get(value, value)
        if field.type == "boolean":
            return self.env._("yes") if value else self.env._("no")
        return str(value)

    def _record_revision(self, previous, changes, outcome):
        # The history is the connector's bookkeeping, whoever fetched the order.
        self.env["allegro.order.revision"].sudo().create({
            "order_id": self.id,
            "revision": self.revision,
            "previous_revision": previous.get("revision"),
            "change_kinds": ", ".join(sorted({self._change_kind_label(kind) for kind, _text in changes})),
            "changes": "\n".join(text for _kind, text in changes),
            "outcome": outcome,
        })

    def _change_kind_label(self, kind):
        return {
            "money": self.env._("money"),
            "items": self.env._("items"),
            "delivery_method": self.env._("delivery method"),
            "shipping": self.env._("delivery address"),
            "invoice": self.env._("invoice data"),
            "status": self.env._("status"),
        }[kind]

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
            sale_order.with_context(allegro_no_push=True)._action_cancel()
        sale_order.message_post(
            body=self.env._("The buyer cancelled the order on Allegro; the order and its deliveries are cancelled."),
            subtype_xmlid="mail.mt_note",
        )

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
