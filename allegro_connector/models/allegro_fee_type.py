"""What each kind of Allegro fee is in the company's books.

Allegro does not publish its list of billing types: the list is read from
``/billing/billing-types`` and kept per company, where the accountant sets the
expense account and the tax of each. A type without an account is left for the
accountant: its fees are kept and flagged, never booked on a guess.
"""

from odoo import api, fields, models

# Codes seen on Allegro; anything else starts as "other" with no account.
KIND_BY_CODE = {
    "SUC": "commission", "BRG": "commission", "FSF": "commission",
    "LIS": "promotion", "FEA": "promotion", "NSP": "promotion", "ADS": "promotion", "DPG": "promotion",
    "HLB": "delivery", "ORB": "delivery", "DXP": "delivery", "HB4": "delivery",
    "SB2": "subscription", "CB2": "subscription",
    "REF": "refund",
}
# Kinds booked on the company's expense account unless the accountant says otherwise.
BOOKED_KINDS = ("commission", "promotion", "delivery", "subscription", "refund")


class AllegroFeeType(models.Model):
    _name = "allegro.fee.type"
    _description = "Allegro fee type"
    _order = "company_id, code"

    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    code = fields.Char(required=True, help="Allegro's billing type code, e.g. SUC for the sales commission.")
    name = fields.Char(required=True)
    kind = fields.Selection(
        [("commission", "Commission"), ("promotion", "Promotion"), ("delivery", "Delivery"),
         ("subscription", "Subscription"), ("refund", "Refund of fees"), ("other", "Other")],
        required=True, default="other")
    account_id = fields.Many2one(
        "account.account", "Expense account", check_company=True,
        help="Where these fees are booked. Fees of a type without an account are kept and flagged "
        "for the accountant.")
    tax_id = fields.Many2one(
        "account.tax", "Tax", check_company=True, domain="[('type_tax_use', '=', 'purchase')]",
        help="The tax included in Allegro's fees of this type (Allegro's amounts are gross).")
    active = fields.Boolean(default=True)

    _code_company_unique = models.Constraint(
        "UNIQUE(company_id, code)", "An Allegro fee type is listed once per company.")

    @api.model
    def _sync_types(self, company, billing_types):
        """Add the types Allegro lists and the company does not have yet, with defaults; the
        accountant's settings of known types are left as they are."""
        known = set(self.with_context(active_test=False).search([("company_id", "=", company.id)]).mapped("code"))
        values = []
        for billing_type in billing_types or []:
            code = (billing_type or {}).get("id") if isinstance(billing_type, dict) else None
            if not code or code in known:
                continue
            known.add(code)
            values.append(self._default_values(company, code, billing_type.get("description") or code))
        # The list is the connector's bookkeeping: a billing clerk fetching fees may not edit it.
        return self.sudo().create(values)

    @api.model
    def _default_values(self, company, code, name):
        kind = KIND_BY_CODE.get(code, "other")
        booked = kind in BOOKED_KINDS
        return {
            "company_id": company.id, "code": code, "name": name, "kind": kind,
            "account_id": company.expense_account_id.id if booked else False,
            "tax_id": self._default_tax(company).id if booked else False,
        }

    @api.model
    def _default_tax(self, company):
        """Allegro charges Polish VAT at 23 %: the company's purchase tax at that rate, if it has one."""
        return self.env["account.tax"].search([
            ("company_id", "=", company.id), ("type_tax_use", "=", "purchase"),
            ("amount_type", "=", "percent"), ("amount", "=", 23.0),
        ], limit=1, order="sequence, id")
