from odoo import models

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


class AllegroOrderBuyer(models.AbstractModel):
    """The buyer of an Allegro order and its delivery and invoice contacts,
    found again or made. Part of ``allegro.order``."""

    _name = "allegro.order.buyer"
    _description = "Allegro order buyer and contacts"

    def _known_buyers(self):
        """The contacts of these orders' buyers already in Odoo (BatchContacts)."""
        Partner = self.env["res.partner"]
        buyers = {}
        for company, orders in self.grouped(lambda o: o.shop_id.company_id).items():
            for partner in Partner.search([
                ("allegro_buyer_ref", "in", list(set(orders.mapped("buyer_ref")))),
                ("company_id", "in", [company.id, False]),
                ("parent_id", "=", False),
            ], order="id"):
                buyers.setdefault((company.id, partner.allegro_buyer_ref), partner)
        return BatchContacts(buyers)

    def _find_or_create_partners(self, contacts=None):
        """Buyer (found again by Allegro buyer id), delivery and invoice contacts.

        ``contacts``: the BatchContacts of the batch this order is made in
        (``_known_buyers``, ``_make_new_partners``); without it, the buyer is
        looked up alone."""
        shop = self.shop_id
        if contacts is None:
            contacts = self._known_buyers()
        key = (shop.company_id.id, self.buyer_ref)
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
            "allegro_buyer_ref": self.buyer_ref,
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
            key = (order.shop_id.company_id.id, order.buyer_ref)
            if key not in contacts.buyers and key not in new:
                new[key] = order._buyer_values()
        if not new:
            return
        for key, buyer in zip(new, self._new_partners().create(list(new.values()))):
            contacts.buyers[key] = buyer
            contacts.new_buyer_ids.add(buyer.id)
        todo = {False: {}, True: {}}  # by "tax id kept unchecked"
        for order in orders:
            buyer = contacts.buyers[(order.shop_id.company_id.id, order.buyer_ref)]
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
            "country_id": country_code and self._lookup(("country", country_code.upper()), lambda: (
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
