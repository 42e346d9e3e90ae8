"""Allegro's money into Odoo's books, shop by shop: fees (billing entries) and
wallet operations, read oldest day first and booked day by day.

Allegro lists both newest first and never says how many there are, so a run
reads one window of time at a time (newest first inside it), stores and
books what it holds, then commits with the shop's position moved to the
window's end. A run that fails half-way loses nothing (its window is read
again) and books nothing twice (each entry and operation is unique in
PostgreSQL). The run stops at the first commit past its time and a job goes on.
"""

import logging
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..allegro_api import errors as api_errors
from ..const import MARKETPLACES

_logger = logging.getLogger(__name__)

WINDOW = timedelta(days=1)
# Allegro may list an operation a moment after it happened: the next run reads again this far
# back from where the last one ended (what it finds again is recognised and skipped).
LISTING_LAG = timedelta(minutes=5)
# A first run reads this far back.
FIRST_READ = timedelta(days=31)
SLICE_SECONDS = 60
KEY_MONEY = "allegro-money-%s"
# pg advisory lock namespace of the money run (the shop's id is the second key): a lock of its own,
# so that the money run and the order import of one shop do not wait for each other.
MONEY_LOCK = 0x414C4D4E


class MoneyTakenOver(Exception):
    """Another worker reads this shop's money."""


class MoneySliceEnded(Exception):
    """The run's time is up; what it did is committed."""


class AllegroMoney(models.AbstractModel):
    _name = "allegro.money"
    _description = "Allegro fees and payments import"

    @api.model
    def _run(self, shop, slice_seconds=None):
        """One run on a cursor of its own; one that ran out of time goes on in a job."""
        shop.ensure_one()
        shop.env.flush_all()
        with shop.env.registry.cursor() as cr:
            shop_on_cr = shop.with_env(shop.env(cr=cr))
            summary = shop_on_cr.env["allegro.money"]._read_and_book(shop_on_cr, slice_seconds)
        shop.invalidate_recordset()
        if summary["state"] == "continues":
            shop._enqueue_money()
        return summary

    @api.model
    def _lock(self, shop):
        return shop._hold_work_lock(MONEY_LOCK)

    @api.model
    def _commit(self, shop, started, slice_seconds):
        self.env.cr.commit()
        if slice_seconds and time.monotonic() - started > slice_seconds:
            raise MoneySliceEnded()
        if not self._lock(shop):
            raise MoneyTakenOver()

    @api.model
    def _read_fees(self, client, start, end):
        """Allegro lists the fees of one marketplace at a time (the account's own by default)."""
        entries = []
        for marketplace, _name in MARKETPLACES:
            entries += client.iter_billing_entries(start, end, marketplace_id=marketplace)
        return entries

    @api.model
    def _read_operations(self, client, start, end):
        return list(client.iter_payment_operations(start, end))

    @api.model
    def _read_and_book(self, shop, slice_seconds=None):
        started = time.monotonic()
        slice_seconds = SLICE_SECONDS if slice_seconds is None else slice_seconds
        counts = {"fees": 0, "operations": 0, "payouts_matched": 0}
        client = None
        state = "done"
        message = ""
        try:
            if not self._lock(shop):
                raise MoneyTakenOver()
            client = shop._allegro_client()
            self.env["allegro.fee.type"]._sync_types(shop.company_id, client.get_billing_types())
            # Odoo's times drop the microseconds: a second more takes in what happened this second.
            now = fields.Datetime.now() + timedelta(seconds=1)
            for kind, position_field, read, model in (
                    ("fees", "money_fees_position", self._read_fees, "allegro.billing.entry"),
                    ("operations", "money_operations_position", self._read_operations,
                     "allegro.payment.operation")):
                start = shop[position_field] or now - FIRST_READ
                while start < now:
                    end = min(start + WINDOW, now)
                    records = self.env[model]._store(shop, read(client, start, end))
                    records._book()
                    counts[kind] += len(records)
                    # The last window ends now: the next run looks back a little, for late listings.
                    shop.sudo()[position_field] = end if end < now else end - LISTING_LAG
                    self._commit(shop, started, slice_seconds)
                    start = end
            self.env["allegro.billing.entry"]._link_orders(shop)
            counts["payouts_matched"] = self.env["allegro.payment.operation"]._match_payouts(shop)
            self.env.cr.commit()
        except MoneyTakenOver:
            self.env.cr.rollback()
            state = "skipped"
            message = self.env._("Another run is reading this shop's fees and payments.")
        except MoneySliceEnded:
            state = "continues"
        except (api_errors.AllegroError, UserError) as error:
            # The window being read is dropped; the position stays where the last commit left it.
            self.env.cr.rollback()
            state = "failed"
            message = shop._allegro_error_text(error)
        if not message:
            message = self.env._(
                "%(fees)s new fee(s), %(operations)s new payment operation(s), %(payouts)s payout(s) "
                "matched to the bank statement.",
                fees=counts["fees"], operations=counts["operations"], payouts=counts["payouts_matched"])
        _logger.info("Allegro shop %s: money %s: %s (%s API calls)", shop.id, state, message,
                     client.request_count if client else 0)
        return {"state": state, "message": message, "api_calls": client.request_count if client else 0, **counts}
