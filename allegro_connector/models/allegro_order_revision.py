from odoo import fields, models
from odoo.tools import format_amount

# Fields whose change means the buyer edited where the parcel goes.
DELIVERY_FIELDS = (
    "delivery_name", "delivery_company", "delivery_street", "delivery_zip",
    "delivery_city", "delivery_country_code", "delivery_phone", "pickup_point_ref",
)
# What a revision history compares, by kind of change.
REVISION_FIELDS = {
    "money": ("total_to_pay", "delivery_cost", "surcharge_total"),
    "shipping": DELIVERY_FIELDS + ("pickup_point_address",),
    "invoice": ("invoice_required", "invoice_name", "invoice_vat", "invoice_street", "invoice_zip",
                "invoice_city", "invoice_country_code"),
    "status": ("status", "payment_status", "fulfillment_status"),
}

REVISION_OUTCOMES = [
    ("applied", "Applied to the sale order"),
    ("flagged", "Flagged: the sale order was confirmed already"),
    ("recorded", "Recorded"),
]


class AllegroOrderRevision(models.Model):
    """What changed in an Allegro order from one revision to the next."""

    _name = "allegro.order.revision"
    _description = "Allegro Order Revision"
    _order = "order_id, id desc"
    _rec_name = "revision"

    order_id = fields.Many2one("allegro.order", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="order_id.company_id", store=True)
    revision = fields.Char(readonly=True)
    previous_revision = fields.Char(readonly=True)
    received_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    change_kinds = fields.Char("Changed", readonly=True)
    changes = fields.Text(readonly=True)
    outcome = fields.Selection(REVISION_OUTCOMES, readonly=True)


class AllegroOrderRevisionLedger(models.AbstractModel):
    """The revision an order holds, what a later one changed, and its entry
    in the history (``allegro.order.revision``). Part of ``allegro.order``."""

    _name = "allegro.order.revision.ledger"
    _description = "Allegro order revision ledger"

    def _holds_revision(self, revisions):
        """Whether this order is imported in good standing exactly as each of
        ``revisions`` (a set: the one a listing gives, or all an event page
        announced; None when unknown, to read it anyway): then there is
        nothing to read or to redo."""
        self.ensure_one()
        return revisions is not None and self.sync_state in ("done", "held") and set(revisions) == {self.revision}

    def _snapshot(self):
        """What a later revision is compared with."""
        self.ensure_one()
        values = {name: self[name] for names in REVISION_FIELDS.values() for name in names}
        values.update(
            revision=self.revision,
            delivery_method_ref=self.delivery_method_ref,
            delivery_method_name=self.delivery_method_name,
            items={line.allegro_ref: (line.offer_name, line.quantity, line.unit_price) for line in self.line_ids},
            charges=sorted((c.kind, c.name, c.quantity, c.unit_price) for c in self.charge_ids),
        )
        return values

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
        if (previous.get("delivery_method_ref") or False) != (current["delivery_method_ref"] or False):
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
