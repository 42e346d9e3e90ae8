"""One request budget per Allegro application, shared by every shop, worker
and host of the database.

Allegro counts requests per client id (9,000 a minute). The budget is a token
bucket kept in a row per application: it refills at ``requests_per_minute /
60`` a second up to a burst of a sixteenth of a minute's worth, so no 60
seconds ever see more than 17/16 of the set rate (8,500 at the default 8,000).
Each request takes exactly one token, at the moment it is about to be sent,
with one short statement on a cursor of its own committed at once: nothing
is taken ahead, so nothing taken goes unused. When the bucket is empty, the
request is given the next free moment and the worker waits for it instead of
collecting 429s.
"""

import hashlib
import time
from urllib.parse import urlsplit

from psycopg2 import IntegrityError
from psycopg2.errors import LockNotAvailable, SerializationFailure

from odoo import api, fields, models

from ..allegro_api import errors as api_errors

DEFAULT_REQUESTS_PER_MINUTE = 8000
RATE_PARAMETER = "allegro_connector.requests_per_minute"
# Longer than this, the work is postponed (a job retries later) rather than
# held in a worker.
MAX_WAIT = 10.0

# One atomic statement, the row locked only while it runs: refill for the time
# elapsed, then take one request, unless that request would have to wait
# longer than MAX_WAIT (a negative balance is the queue of requests waiting
# for their moment). The ORM would read, lock and write in three round trips,
# holding the lock in between. The clock is the database's, one for every host.
TAKE_ONE = """
    UPDATE allegro_request_budget
       SET tokens = LEAST(%(burst)s, tokens + GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp())
                                                         - refilled_at) * %(per_second)s) - 1,
           refilled_at = GREATEST(refilled_at, EXTRACT(EPOCH FROM statement_timestamp())),
           taken = COALESCE(taken, 0) + 1
     WHERE application_key = %(key)s
       AND LEAST(%(burst)s, tokens + GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp())
                                               - refilled_at) * %(per_second)s) - 1 >= %(floor)s
 RETURNING tokens
"""


def application_key(api_url, client_id):
    """The budget's key: which Allegro environment (its host), which
    application. A digest, so the client id itself is kept in one place only."""
    host = urlsplit(api_url or "").hostname or ""
    return hashlib.sha256(("%s\n%s" % (host, client_id)).encode()).hexdigest()[:32]


class AllegroRequestBudget(models.Model):
    """A row per application, for system admins only; no company rule on
    purpose: shops of several companies using one application share its limit."""

    _name = "allegro.request.budget"
    _description = "Allegro request budget"

    application_key = fields.Char("Application", required=True, readonly=True, index=True,
                                  help="A digest of the Allegro environment and client id.")
    tokens = fields.Float("Requests available", readonly=True, help="Requests that may be sent at once.")
    refilled_at = fields.Float("Counted at", readonly=True, help="When the requests available were last counted "
                               "(Unix time).")

    taken = fields.Integer("Requests counted", readonly=True,
                           help="Requests taken from this budget since it was made: one per request sent.")

    _application_unique = models.Constraint("UNIQUE(application_key)", "One budget per Allegro application.")

    @api.model
    def _rate(self):
        value = self.env["ir.config_parameter"].sudo().get_param(RATE_PARAMETER)
        try:
            return max(1.0, float(value)) if value else float(DEFAULT_REQUESTS_PER_MINUTE)
        except ValueError:
            return float(DEFAULT_REQUESTS_PER_MINUTE)

    @api.model
    def _take(self, key):
        """Take one request of the application's budget; returns how many
        seconds to wait before sending it (0 when there is room).

        Another worker holding the row makes this one wait in PostgreSQL's
        queue for the row lock, never fail; once it has the row, it takes
        again from the row as the other worker left it. Raises
        AllegroRateLimited, taking nothing, when the wait would be longer
        than MAX_WAIT."""
        per_second = self._rate() / 60.0
        give_up = time.monotonic() + MAX_WAIT
        while True:
            try:
                return self._take_once(key, per_second, max(0.001, give_up - time.monotonic()))
            except SerializationFailure:
                continue  # the row changed while this one waited for it: the other worker is done
            except LockNotAvailable:
                raise api_errors.AllegroRateLimited(
                    "The request budget of this Allegro application is busy", status=429, retry_after=1) from None

    @api.model
    def _take_once(self, key, per_second, lock_wait):
        with self.env.registry.cursor() as cr:
            # The wait for another worker's row lock is PostgreSQL's, bounded.
            cr.execute("SET LOCAL lock_timeout = '%dms'" % max(1, lock_wait * 1000))
            burst = max(1.0, per_second * 60.0 / 16.0)
            # A wait past the timeout is told by the caller, not logged as a bad query.
            cr.execute(TAKE_ONE, {"key": key, "burst": burst, "per_second": per_second,
                                  "floor": -MAX_WAIT * per_second}, log_exceptions=False)
            row = cr.fetchone()
            if row:
                # Taken now, sent after the wait: the next request queues behind.
                return max(0.0, -row[0] / per_second)
            Budget = api.Environment(cr, self.env.uid, self.env.context)[self._name].sudo()
            budget = Budget.search([("application_key", "=", key)], limit=1)
            if budget:
                level = min(burst, budget.tokens + max(0.0, time.time() - budget.refilled_at) * per_second)
                raise api_errors.AllegroRateLimited(
                    "The request budget of this Allegro application is spent for now", status=429,
                    retry_after=(1 - level) / per_second)
            # The first request of this application: a full bucket, counted
            # from the start of time so the statement above sets the clock.
            # Two workers may make it at once: the unique key keeps one.
            try:
                with cr.savepoint(flush=True):
                    Budget.create({"application_key": key, "tokens": burst, "refilled_at": 0.0})
            except IntegrityError:
                pass
        return self._take_once(key, per_second, lock_wait)


class RequestBudget:
    """What the Allegro client calls before each request: takes one request
    of the shared budget and waits for its moment when the budget is spent."""

    def __init__(self, env, key, sleep=time.sleep):
        self._env = env
        self._key = key
        self._sleep = sleep

    def __call__(self):
        wait = self._env["allegro.request.budget"]._take(self._key)
        if wait:
            self._sleep(wait)
