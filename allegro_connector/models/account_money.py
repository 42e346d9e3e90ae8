"""Allegro's money in Odoo's accounting: the wallet
journals with their balance check, the company's choice of booking."""

from odoo import api, fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    allegro_fee_booking = fields.Selection(
        [("bill", "A draft vendor bill per month"), ("entry", "Journal entries")],
        "Book Allegro fees as", default="bill", required=True,
        help="A draft bill from Allegro per invoice period, to check against Allegro's VAT invoice; or "
        "posted journal entries against what is owed to Allegro.")


class AccountJournal(models.Model):
    _inherit = "account.journal"

    allegro_shop_id = fields.Many2one(
        "allegro.shop", "Allegro wallet of", readonly=True, index="btree_not_null", ondelete="restrict",
        help="This journal books the shop's Allegro payments wallet in its currency.")
    allegro_wallet_balance = fields.Monetary(
        "Balance on Allegro", compute="_compute_allegro_balances", currency_field="currency_id")
    allegro_book_balance = fields.Monetary(
        "Balance in Odoo", compute="_compute_allegro_balances", currency_field="currency_id")
    allegro_balance_difference = fields.Monetary(
        "Difference", compute="_compute_allegro_balances", currency_field="currency_id")

    @api.depends("allegro_shop_id")
    def _compute_allegro_balances(self):
        Operation = self.env["allegro.payment.operation"]
        wallets = {}
        for journal in self:
            shop = journal.allegro_shop_id
            if not shop:
                journal.allegro_wallet_balance = journal.allegro_book_balance = 0
                journal.allegro_balance_difference = 0
                continue
            if shop not in wallets:
                wallets[shop] = Operation._wallet_balances(shop)
            wallet = wallets[shop].get(journal.currency_id, 0.0)
            groups = self.env["account.move.line"]._read_group(
                [("journal_id", "=", journal.id), ("account_id", "=", journal.default_account_id.id),
                 ("parent_state", "=", "posted")], aggregates=["amount_currency:sum"])
            book = groups[0][0] if groups else 0.0
            journal.allegro_wallet_balance = wallet
            journal.allegro_book_balance = book
            journal.allegro_balance_difference = journal.currency_id.round(wallet - book)
