"""The shop's side of Allegro's money: where it is booked, the buttons, and the
balance check (Allegro's wallet beside the Allegro journal in Odoo)."""

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..const import CHANNEL_IMPORT
from .allegro_money import KEY_MONEY
from .allegro_rights import BILLING, check_group


class AllegroShop(models.Model):
    _inherit = "allegro.shop"

    money_fees_position = fields.Datetime(
        "Fees read up to", readonly=True, copy=False, groups="account.group_account_invoice")
    money_operations_position = fields.Datetime(
        "Payments read up to", readonly=True, copy=False, groups="account.group_account_invoice")
    payout_journal_id = fields.Many2one(
        "account.journal", "Bank for payouts", check_company=True, domain="[('type', '=', 'bank')]",
        groups="account.group_account_invoice",
        help="The bank account Allegro pays out to: each payout's statement line there is matched to it.")
    allegro_fee_booking = fields.Selection(
        related="company_id.allegro_fee_booking", readonly=False, groups="account.group_account_invoice")
    wallet_journal_ids = fields.One2many(
        "account.journal", "allegro_shop_id", "Allegro payments journals", readonly=True,
        groups="account.group_account_invoice")

    def _allegro_wallet_journal(self, currency):
        """The shop's Allegro payments journal in ``currency``, made on first use: a bank-type
        journal whose payments go straight to its own account, so its balance is the wallet's."""
        self.ensure_one()
        Journal = self.env["account.journal"].sudo()
        journal = Journal.search([("allegro_shop_id", "=", self.id), ("currency_id", "=", currency.id)], limit=1)
        if journal:
            return journal
        company = self.company_id
        if not currency.active:
            currency.sudo().active = True
        used = set(Journal.with_context(active_test=False).search([("company_id", "=", company.id)]).mapped("code"))
        code = next((c for c in ["AL" + currency.name[:3]] + ["A%d%s" % (n, currency.name[:3]) for n in range(1, 10)]
                     if c not in used), False)
        journal = Journal.create({
            "name": self.env._("Allegro payments %(currency)s (%(shop)s)", currency=currency.name, shop=self.name),
            "type": "bank",
            "code": code,
            "company_id": company.id,
            "currency_id": currency.id if currency != company.currency_id else False,
            "allegro_shop_id": self.id,
        })
        if not journal.currency_id:
            journal.currency_id = currency
        (journal.inbound_payment_method_line_ids | journal.outbound_payment_method_line_ids).write(
            {"payment_account_id": journal.default_account_id.id})
        return journal

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def action_fetch_money(self):
        """Read and book the shop's fees and payments now."""
        self.ensure_one()
        check_group(self, BILLING, "read")
        summary = self.env["allegro.money"]._run(self)
        if summary["state"] == "failed":
            raise UserError(summary["message"])
        return self._notify(summary["message"], "success" if summary["state"] != "skipped" else "warning")

    def action_view_fees(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_billing_entry")
        action["domain"] = [("shop_id", "=", self.id)]
        return action

    def action_view_payment_operations(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_payment_operation")
        action["domain"] = [("shop_id", "=", self.id)]
        return action

    def action_view_balance_differences(self):
        """The operations that make Allegro's wallet and the Allegro journal differ: those not booked."""
        action = self.action_view_payment_operations()
        action["domain"] = [("shop_id", "=", self.id), ("state", "!=", "booked")]
        action["name"] = self.env._("Operations not in the books")
        return action

    # ------------------------------------------------------------------
    # Scheduled
    # ------------------------------------------------------------------

    @api.model
    def _cron_fetch_money(self):
        self.search([("state", "=", "connected")])._enqueue_money()

    def _enqueue_money(self):
        for shop in self:
            shop.with_delay(
                channel=CHANNEL_IMPORT, identity_key=KEY_MONEY % shop.id,
                description=self.env._("Allegro: fees and payments of %(shop)s", shop=shop.display_name),
            )._money_job()

    def _money_job(self):
        self.ensure_one()
        shop = self._in_allegro_lang()
        return shop.env["allegro.money"]._run(shop)["message"]
