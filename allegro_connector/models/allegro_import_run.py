from datetime import timedelta

from odoo import api, fields, models


class AllegroImportRun(models.Model):
    """What one order import did, for the admin to check."""

    _name = "allegro.import.run"
    _description = "Allegro Import Run"
    _order = "started_at desc, id desc"
    _rec_name = "started_at"

    shop_id = fields.Many2one("allegro.shop", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="shop_id.company_id", store=True)
    started_at = fields.Datetime(required=True, default=fields.Datetime.now)
    duration = fields.Float("Duration (s)", digits=(16, 2))
    kind = fields.Selection(
        [("initial", "First import"), ("events", "New events"), ("sweep", "Sweep")], required=True
    )
    state = fields.Selection(
        [("done", "Done"), ("continues", "Continues"), ("failed", "Failed"), ("skipped", "Skipped")],
        required=True, default="done",
        help="Continues: the run stopped at its time limit, with what it did committed; "
        "the next run goes on from there at once.",
    )
    orders_new = fields.Integer("New")
    orders_updated = fields.Integer("Updated")
    orders_unchanged = fields.Integer("Unchanged")
    orders_failed = fields.Integer("Failed")
    api_calls = fields.Integer("API calls")
    message = fields.Text()

    @api.autovacuum
    def _gc_old_runs(self):
        self.search([("started_at", "<", fields.Datetime.now() - timedelta(days=30))]).unlink()
