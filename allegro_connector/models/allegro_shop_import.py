"""Import settings, buttons and schedules of a shop; the import itself is
``allegro.importer``. Also the defaults the import asks the shop for."""

from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..const import CHANNEL_IMPORT, KEY_IMPORT
from .allegro_rights import ALLEGRO_MANAGER, ALLEGRO_USER, check_group


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
    initial_import_mark = fields.Datetime(
        "First import read up to", readonly=True, copy=False,
        help="While the first import runs in several parts: orders bought until then are in Odoo.")
    last_sweep_at = fields.Datetime("Last sweep", readonly=True, copy=False)
    sweep_mark = fields.Datetime(
        "Sweep read up to", readonly=True, copy=False,
        help="While a sweep runs in several parts: orders updated on Allegro until then were read.")
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
                channel=CHANNEL_IMPORT,
                identity_key=KEY_IMPORT % (kind, shop.id),
                description=self.env._("Allegro: import orders of %(shop)s", shop=shop.display_name),
            )._import_job(sweep=sweep)

    def _import_job(self, sweep=False):
        self.ensure_one()
        # Orders, notes and flags in the shop's language, not in the one the job was queued in.
        return self._in_allegro_lang()._run_import(sweep=sweep)["message"]

    def _run_import(self, sweep=False, slice_seconds=None):
        """One run of the import; one that stopped at its time limit goes on in a job."""
        summary = self._run_import_slice(sweep=sweep, slice_seconds=slice_seconds)
        if summary["state"] == "continues":
            self._enqueue_imports(sweep=sweep)
        return summary

    def _run_import_slice(self, sweep=False, slice_seconds=None):
        """Import on a cursor of its own, committing batch by batch.

        A batch commit is what lets the event cursor move: the orders it
        covers are committed with it, so a later failure (an Allegro outage
        half-way) neither loses them nor skips events.
        """
        self.ensure_one()
        self.env.flush_all()  # under tests the import cursor shares this transaction
        with self.env.registry.cursor() as cr:
            shop = self.with_env(self.env(cr=cr))
            summary = shop.env["allegro.importer"]._import_orders(shop, sweep=sweep, slice_seconds=slice_seconds)
        self.invalidate_recordset()
        return summary

    def _reimport_orders(self, orders):
        """Read these orders again from Allegro, in the current transaction."""
        self.env["allegro.importer"]._reimport_orders(self, orders)

    # ------------------------------------------------------------------
    # Defaults used while making sale orders
    # ------------------------------------------------------------------

    def _notify_new_order(self, order):
        if self.notify_email:
            self.env.ref("allegro_connector.mail_template_new_order").send_mail(order.id)
