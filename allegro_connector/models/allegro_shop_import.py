import json
import logging
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..allegro_api import errors as api_errors
from .allegro_order import MalformedCheckoutForm
from .allegro_rights import ALLEGRO_MANAGER, ALLEGRO_USER, check_group

_logger = logging.getLogger(__name__)

# Orders imported between two commits: small enough that a failure loses
# little work, large enough that commits do not dominate.
BATCH_SIZE = 50
EVENT_PAGE_SIZE = 1000
# Orders in error retried per run (each costs one API call).
RETRY_LIMIT = 50


class ImportTakenOver(Exception):
    """Another worker holds the shop's import lock: let it go on."""


class ImportStats:
    """Counters of one run, written to allegro.import.run at the end."""

    def __init__(self, kind):
        self.kind = kind
        self.new = self.updated = self.unchanged = self.failed = 0
        self.messages = []
        self.started = time.monotonic()
        self.started_at = fields.Datetime.now()


def _iso(value):
    return fields.Datetime.to_datetime(value).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _bookings(tax):
    """Where a tax books: the accounts and tags of its repartition lines."""
    return sorted(
        (line.document_type, line.repartition_type, line.account_id.id, tuple(sorted(line.tag_ids.ids)))
        for line in tax.repartition_line_ids
    )


def _event_key(event_id):
    return (0, int(event_id), "") if str(event_id).isdigit() else (1, 0, str(event_id))


class AllegroShop(models.Model):
    _inherit = "allegro.shop"

    import_start_date = fields.Datetime(
        "Import orders since",
        default=lambda self: fields.Datetime.now() - timedelta(days=14),
        help="The first import reads orders bought since then; later imports follow Allegro's event journal.",
    )
    last_event_id = fields.Char("Last order event", readonly=True, copy=False,
                                help="Cursor in Allegro's order event journal.")
    initial_import_done = fields.Boolean(readonly=True, copy=False)
    last_sweep_at = fields.Datetime("Last sweep", readonly=True, copy=False)
    sweep_overlap_minutes = fields.Integer(
        "Sweep overlap (minutes)", default=60,
        help="The sweep re-reads orders updated on Allegro since the previous sweep minus this margin.",
    )
    unpaid_recheck_days = fields.Integer(
        "Re-check unpaid orders for (days)", default=14,
        help="Unpaid orders bought within this many days are re-read at each sweep "
        "(payment arriving, address edited).",
    )
    confirm_policy = fields.Selection(
        [
            ("never", "Never: I confirm them"),
            ("paid", "When paid or cash on delivery"),
            ("always", "Always"),
        ],
        string="Confirm sale orders",
        default="paid",
        required=True,
        help="Confirming creates the delivery, which reserves the stock.",
    )
    unmanaged_policy = fields.Selection(
        [
            ("hold", "Hold the order until its products are mapped"),
            ("placeholder", "Use the placeholder product"),
        ],
        string="Items matching no product",
        default="hold",
        required=True,
    )
    placeholder_product_id = fields.Many2one("product.product", check_company=True)
    delivery_product_id = fields.Many2one(
        "product.product", check_company=True,
        help="Product of the delivery line when the Allegro delivery method has no carrier mapped.",
    )
    warehouse_id = fields.Many2one("stock.warehouse", check_company=True)
    team_id = fields.Many2one("crm.team", "Sales team", check_company=True)
    user_id = fields.Many2one("res.users", "Salesperson")
    pricelist_ids = fields.Many2many(
        "product.pricelist", string="Pricelists",
        help="One per currency. Orders in a currency with no pricelist here get the first "
        "pricelist of the company in that currency, or a new one.",
    )
    notify_email = fields.Char("E-mail on new orders",
                               help="Address that gets an e-mail for every new Allegro order.")
    notify_buyer = fields.Boolean(
        "E-mail the buyer", help="Off by default: Allegro already informs the buyer."
    )
    invoice_policy = fields.Selection(
        [("never", "Never"), ("paid", "When the order is paid"), ("delivered", "When the delivery is validated")],
        string="Create invoices", default="never", required=True,
    )
    invoice_post = fields.Boolean(
        "Post invoices", help="Off: invoices stay drafts for the accountant to check and post.")
    invoice_data_source = fields.Selection(
        [("account", "The account owner's data"), ("delivery", "The delivery data")],
        string="Invoice data when none was asked for", default="account", required=True,
        help="Whose name and address an invoice carries when the buyer did not ask for one.",
    )
    payment_journal_id = fields.Many2one(
        "account.journal", "Register Allegro payments in", check_company=True,
        domain="[('type', 'in', ('bank', 'cash'))]",
        help="Posted invoices of orders Allegro says are paid are registered as paid in this journal.",
    )
    close_on_invoice = fields.Boolean(
        "Close orders once invoiced", help="The order's status turns Closed when its invoice is posted.")
    order_count = fields.Integer(compute="_compute_order_count")
    import_run_ids = fields.One2many("allegro.import.run", "shop_id")

    @api.constrains("unmanaged_policy", "placeholder_product_id")
    def _check_placeholder(self):
        for shop in self:
            if shop.unmanaged_policy == "placeholder" and not shop.placeholder_product_id:
                raise UserError(self.env._("Choose the placeholder product of shop %(shop)s.", shop=shop.name))

    def _compute_order_count(self):
        counts = dict(self.env["allegro.order"]._read_group(
            [("shop_id", "in", self.ids)], ["shop_id"], ["__count"]
        ))
        for shop in self:
            shop.order_count = counts.get(shop, 0)

    def action_update_carriers(self):
        """Read the carriers Allegro accepts with tracking numbers."""
        self.ensure_one()
        check_group(self, ALLEGRO_MANAGER)
        self.env["allegro.carrier"]._update_from(
            self.company_id, self._allegro_client().get_carriers().get("carriers") or []
        )
        return self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_carrier")

    def action_view_orders(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_order")
        action["domain"] = [("shop_id", "in", self.ids)]
        return action

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------

    def action_fetch_orders(self):
        self.ensure_one()
        check_group(self, ALLEGRO_USER, "read")
        summary = self._run_import()
        kind = "danger" if summary["state"] == "failed" else "success"
        if summary["state"] == "skipped":
            kind = "warning"
        return self._notify(summary["message"], kind)

    @api.model
    def _cron_fetch_orders(self):
        self.search([("state", "=", "connected")])._enqueue_imports()

    @api.model
    def _cron_sweep_orders(self):
        self.search([("state", "=", "connected"), ("initial_import_done", "=", True)])._enqueue_imports(sweep=True)

    def _enqueue_imports(self, sweep=False):
        """One job per shop, so that several shops import side by side on
        several workers and one shop's failure stays its own. The identity key
        keeps a shop from being queued twice; the shop's lock keeps two jobs
        from importing it at once."""
        for shop in self:
            kind = "sweep" if sweep else "fetch"
            shop.with_delay(
                channel="root.allegro.import",
                identity_key="allegro.import:%s:%d" % (kind, shop.id),
                description=self.env._("Allegro: import orders of %(shop)s", shop=shop.display_name),
            )._import_job(sweep=sweep)

    def _import_job(self, sweep=False):
        self.ensure_one()
        return self._run_import(sweep=sweep)["message"]

    def _run_import(self, sweep=False):
        """Import on a cursor of its own, committing batch by batch.

        A batch commit is what lets the event cursor move: the orders it
        covers are committed with it, so a later failure (an Allegro outage
        half-way) neither loses them nor skips events.
        """
        self.ensure_one()
        self.env.flush_all()  # under tests the import cursor shares this transaction
        with self.env.registry.cursor() as cr:
            shop = self.with_env(self.env(cr=cr))
            summary = shop._import_orders(sweep=sweep)
        self.invalidate_recordset()
        return summary

    # ------------------------------------------------------------------
    # The import itself
    # ------------------------------------------------------------------

    def _lock_for_import(self):
        """Hold the shop row until the next commit; False if another worker does."""
        locked = self.try_lock_for_update(allow_referencing=True)
        self.invalidate_recordset(["last_event_id", "initial_import_done", "last_sweep_at"])
        return bool(locked)

    def _commit_batch(self):
        self.env.cr.commit()
        if not self._lock_for_import():
            raise ImportTakenOver()

    def _import_orders(self, sweep=False):
        kind = "sweep" if sweep else ("events" if self.initial_import_done else "initial")
        stats = ImportStats(kind)
        client = None
        state = "done"
        try:
            if not self._lock_for_import():
                raise ImportTakenOver()
            client = self._allegro_client()
            # Orders that failed in an earlier run first, so that an order
            # failing now is retried next time, not twice in a row.
            self._retry_failed_orders(client, stats)
            if sweep:
                self._sweep(client, stats)
            elif not self.initial_import_done:
                self._import_initial(client, stats)
            else:
                self._import_events(client, stats)
        except ImportTakenOver:
            self.env.cr.rollback()
            state = "skipped"
            stats.messages.append(self.env._("Another import of this shop is running."))
        except (api_errors.AllegroError, UserError) as error:
            # The unfinished batch is dropped; the cursor stays where the last
            # committed batch left it, so the next run starts over from there.
            self.env.cr.rollback()
            state = "failed"
            stats.messages.append(str(error))
            if isinstance(error, UserError) or not getattr(error, "retryable", False):
                self._set_error(str(error))
        summary = self._record_run(stats, state, client.request_count if client else 0)
        self.env.cr.commit()
        return summary

    def _record_run(self, stats, state, api_calls):
        counts = self.env._(
            "%(new)s new, %(updated)s updated, %(failed)s failed order(s).",
            new=stats.new, updated=stats.updated, failed=stats.failed,
        )
        message = "\n".join([counts] + stats.messages) if state != "skipped" else stats.messages[0]
        self.env["allegro.import.run"].sudo().create(
            {
                "shop_id": self.id,
                "started_at": stats.started_at,
                "duration": time.monotonic() - stats.started,
                "kind": stats.kind,
                "state": state,
                "orders_new": stats.new,
                "orders_updated": stats.updated,
                "orders_unchanged": stats.unchanged,
                "orders_failed": stats.failed,
                "api_calls": api_calls,
                "message": message,
            }
        )
        _logger.info("Allegro shop %s: %s import %s: %s (%s API calls)",
                     self.id, stats.kind, state, counts, api_calls)
        return {"state": state, "message": message, "new": stats.new, "updated": stats.updated,
                "failed": stats.failed, "api_calls": api_calls}

    def _import_initial(self, client, stats):
        """First run: list the orders since the start date, then follow events."""
        latest = (client.get_order_event_stats().get("latestEvent") or {}).get("id")
        batch = []
        for form in client.iter_checkout_forms(bought_at_gte=_iso(self.import_start_date)):
            batch.append(form)
            if len(batch) >= BATCH_SIZE:
                self._import_forms(batch, stats)
                self._commit_batch()
                batch = []
        self._import_forms(batch, stats)
        # Events after ``latest`` are read next time; older ones are covered
        # by the listing above.
        # The import's cursors are the connector's bookkeeping: an Allegro
        # user fetches orders without the right to edit the shop.
        self.sudo().write({"last_event_id": latest or False, "initial_import_done": True,
                           "last_sweep_at": fields.Datetime.now()})
        self._commit_batch()

    def _import_events(self, client, stats):
        """Follow the order event journal from the stored cursor.

        Events come duplicated and out of order: each changed order is read
        once per page, as it is now, and its revision decides.
        """
        while True:
            events = client.get_order_events(
                from_id=self.last_event_id or None, limit=EVENT_PAGE_SIZE
            ).get("events") or []
            if not events:
                return
            revisions = {}
            for event in events:
                form = (event.get("order") or {}).get("checkoutForm") or {}
                if form.get("id"):
                    revisions.setdefault(form["id"], set()).add(form.get("revision"))
            self._import_by_ids(client, revisions, stats)
            last = max((e["id"] for e in events if e.get("id")), key=_event_key)
            if self.last_event_id and _event_key(last) <= _event_key(self.last_event_id):
                return  # a journal that does not move forward must not loop
            self.sudo().last_event_id = last
            self._commit_batch()
            if len(events) < EVENT_PAGE_SIZE:
                return

    def _sweep(self, client, stats):
        """Re-read what the journal may have missed, and unpaid orders."""
        now = fields.Datetime.now()
        since = (self.last_sweep_at or now) - timedelta(minutes=self.sweep_overlap_minutes)
        forms = list(client.iter_checkout_forms(updated_at_gte=_iso(since), sort="updatedAt"))
        seen = {form.get("id") for form in forms}
        unpaid_since = now - timedelta(days=self.unpaid_recheck_days)
        for status in ("BOUGHT", "FILLED_IN"):
            forms += [
                form for form in client.iter_checkout_forms(status=status, bought_at_gte=_iso(unpaid_since))
                if form.get("id") not in seen
            ]
        for start in range(0, len(forms), BATCH_SIZE):
            self._import_forms(forms[start:start + BATCH_SIZE], stats)
            self._commit_batch()
        self.sudo().last_sweep_at = now
        self._commit_batch()

    def _retry_failed_orders(self, client, stats):
        failed = self.env["allegro.order"].search(
            [("shop_id", "=", self.id), ("sync_state", "=", "error")], limit=RETRY_LIMIT, order="write_date"
        )
        if failed:
            self._import_by_ids(client, dict.fromkeys(failed.mapped("external_id")), stats)
            self._commit_batch()

    def _reimport_orders(self, orders):
        """Read these orders again from Allegro, in the current transaction."""
        self._import_by_ids(self._allegro_client(), dict.fromkeys(orders.mapped("external_id")), ImportStats("events"))

    def _import_by_ids(self, client, revisions, stats):
        """Read and import the orders whose revision differs from ours.

        ``revisions`` maps checkout form ids to the set of revisions events
        announced (None or an empty set: unknown, read it anyway). Out of
        order, an older revision may come last: only an order whose every
        announced revision is the one we hold is skipped.
        """
        known = {
            order.external_id: order
            for order in self.env["allegro.order"].search(
                [("shop_id", "=", self.id), ("external_id", "in", list(revisions))]
            )
        }
        batch = []
        for form_id, announced in revisions.items():
            order = known.get(form_id)
            if order and announced == {order.revision} and order.sync_state not in ("error", "gone"):
                stats.unchanged += 1
                continue
            try:
                batch.append(client.get_checkout_form(form_id))
            except api_errors.AllegroNotFound:
                # Merged into another order or deleted: stop asking for it.
                if order and order.sync_state != "gone":
                    order.write({"sync_state": "gone", "sync_error": self.env._(
                        "Allegro no longer knows this order (merged or deleted).")})
                    order._flag(self.env._("The order disappeared from Allegro (merged or deleted)."))
                continue
            except api_errors.AllegroError as error:
                if error.retryable:
                    raise
                self._record_failed_form({"id": form_id}, error, stats)
                continue
            if len(batch) >= BATCH_SIZE:
                self._import_forms(batch, stats)
                batch = []
        self._import_forms(batch, stats)

    def _import_forms(self, forms, stats):
        """Import checkout forms; one bad order is recorded on its own record
        and the others go on.

        The batch is tried whole in one savepoint (one flush, as fast as
        plain Odoo); only if something in it fails is it done again order by
        order, each in its own savepoint, to isolate the culprit.
        """
        todo, known = self._forms_to_import(forms, stats)
        if not todo:
            return
        Order = self.env["allegro.order"]
        try:
            with self.env.cr.savepoint():
                imported = [self._import_form(form, known.get(form.get("id"), Order), apply_policies=False)
                            for form in todo]
                self.env["allegro.order"].concat(*(order for order, _outcome in imported))._apply_policies()
                outcomes = [outcome for _order, outcome in imported]
        except Exception:  # noqa: BLE001 - retried one by one just below
            outcomes = []
            for form in todo:
                try:
                    with self.env.cr.savepoint():
                        outcomes.append(self._import_form(form, known.get(form.get("id"), Order))[1])
                except Exception as error:  # noqa: BLE001 - recorded on the order, the batch goes on
                    _logger.info("Allegro shop %s: order %s not imported: %s", self.id, form.get("id"), error)
                    self._record_failed_form(form, error, stats)
        stats.new += outcomes.count("new")
        stats.updated += outcomes.count("updated")

    def _forms_to_import(self, forms, stats):
        """The forms whose revision we do not hold yet (or hold in error),
        and the orders already known for the batch, by Allegro id."""
        ids = [form.get("id") for form in forms if isinstance(form, dict) and form.get("id")]
        known = {
            order.external_id: order
            for order in self.env["allegro.order"].search([("shop_id", "=", self.id), ("external_id", "in", ids)])
        }
        todo = []
        for form in forms:
            order = known.get(form.get("id")) if isinstance(form, dict) else None
            if order and order.sync_state in ("done", "held") and order.revision == form.get("revision"):
                stats.unchanged += 1
            else:
                todo.append(form)
        return todo, known

    def _import_form(self, form, order, apply_policies=True):
        """Store one checkout form on ``order`` (empty for a new one) and bring
        its sale order in line. Returns the Allegro order and "new" or "updated"."""
        if not isinstance(form, dict):
            raise MalformedCheckoutForm("not a JSON object")
        previous = order._snapshot() if order else None
        order = order._store_checkout_form(self, form)
        order._sync_sale_order(previous, apply_policies=apply_policies)
        return order, "new" if previous is None else "updated"

    def _record_failed_form(self, form, error, stats):
        """Keep the raw data and the error where a person will see them."""
        stats.failed += 1
        form_id = form.get("id") if isinstance(form, dict) else None
        message = self.env._("Could not import this revision: %(error)s", error=error)
        if not form_id:
            stats.messages.append(self.env._("An order without id was skipped: %(error)s", error=error))
            return
        values = {
            "sync_state": "error",
            "sync_error": message,
            "needs_attention": True,
            "attention_reason": message,
        }
        if len(form) > 1:
            values["raw_payload"] = json.dumps(form, ensure_ascii=False, indent=1)
        # The raw payload is for managers' eyes; storing it is bookkeeping.
        Order = self.env["allegro.order"].sudo()
        order = Order.search([("shop_id", "=", self.id), ("external_id", "=", form_id)], limit=1)
        if order:
            order.write(values)
        else:
            Order.create(dict(values, shop_id=self.id, external_id=form_id))

    # ------------------------------------------------------------------
    # Defaults used while making sale orders
    # ------------------------------------------------------------------

    def _lookup(self, key, find):
        """``find()`` once per import transaction: asked for every order.

        Only records that existed already are remembered; one made now could
        vanish with a rolled-back savepoint."""
        cache = self.env.cr.cache.setdefault("allegro_connector", {})
        if key in cache:
            return self.env[cache[key][0]].browse(cache[key][1])
        record, existed = find()
        if existed:
            cache[key] = (record._name, record.ids)
        return record

    def _warehouse(self):
        return self.warehouse_id or self._lookup(("warehouse", self.company_id.id), lambda: (
            self.env["stock.warehouse"].search([("company_id", "=", self.company_id.id)], limit=1), True))

    def _delivery_product(self):
        return self.delivery_product_id or self.env.ref("allegro_connector.product_allegro_delivery")

    def _pricelist_for(self, currency):
        pricelist = self.pricelist_ids.filtered(lambda p: p.currency_id == currency)[:1]
        return pricelist or self._lookup(("pricelist", self.company_id.id, currency.id),
                                         lambda: self._find_or_create_pricelist(currency))

    def _find_or_create_pricelist(self, currency):
        Pricelist = self.env["product.pricelist"]
        pricelist = Pricelist.search(
            [("currency_id", "=", currency.id), ("company_id", "in", [self.company_id.id, False])], limit=1
        )
        if pricelist:
            return pricelist, True
        if not currency.active:
            currency.active = True
        return Pricelist.create(
            {"name": f"Allegro {currency.name}", "currency_id": currency.id, "company_id": self.company_id.id}
        ), False

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

    def _notify_new_order(self, order):
        if self.notify_email:
            self.env.ref("allegro_connector.mail_template_new_order").send_mail(order.id)
