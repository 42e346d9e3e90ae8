"""One request budget per Allegro application, shared by every shop, worker
and host of the database.

Allegro counts requests per client id (9,000 a minute). The budget is a token
bucket kept in a row per application: it refills at ``requests_per_minute /
60`` a second up to a burst of a sixteenth of a minute's worth, so no 60
seconds ever see more than 17/16 of the set rate (8,500 at the default 8,000).
A client takes its requests from it a few at a time, each time on a cursor of
its own committed at once, so other workers see what it took; when the
bucket is empty, the worker waits instead of collecting 429s.
"""

import hashlib
import time
from urllib.parse import urlsplit

from psycopg2 import IntegrityError
from psycopg2.errors import SerializationFailure

from odoo import api, fields, models
from odoo.exceptions import LockError

from ..allegro_api import errors as api_errors

DEFAULT_REQUESTS_PER_MINUTE = 8000
RATE_PARAMETER = "allegro_connector.requests_per_minute"
# A client takes 1, 2, 4... then at most this many requests at a time: few
# database round trips for a long run, little left unused by a short one.
MAX_BLOCK = 16
# Seconds requests taken stay usable.
BLOCK_LIFETIME = 1.0
# Longer than this, the work is postponed (a job retries later) rather than
# held in a worker.
MAX_WAIT = 10.0
# Tries to take from a budget other workers are taking from at the same moment.
LOCK_ATTEMPTS = 200


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

    _application_unique = models.Constraint("UNIQUE(application_key)", "One budget per Allegro application.")

    @api.model
    def _rate(self):
        value = self.env["ir.config_parameter"].sudo().get_param(RATE_PARAMETER)
        try:
            return max(1.0, float(value)) if value else float(DEFAULT_REQUESTS_PER_MINUTE)
        except ValueError:
            return float(DEFAULT_REQUESTS_PER_MINUTE)

    @api.model
    def _take(self, key, count):
        """Take ``count`` requests of the application's budget; returns how
        many seconds to wait before sending them (0 when there is room).

        Raises AllegroRateLimited, taking nothing, when the wait would be
        longer than MAX_WAIT."""
        per_minute = self._rate()
        for _attempt in range(LOCK_ATTEMPTS):
            try:
                return self._take_once(key, count, per_minute)
            except (LockError, SerializationFailure):
                continue  # another worker took from it that very moment: its transaction lasts a ms
        raise api_errors.AllegroRateLimited("The request budget of this Allegro application is busy",
                                            status=429, retry_after=1)

    @api.model
    def _take_once(self, key, count, per_minute):
        with self.env.registry.cursor() as cr:
            Budget = api.Environment(cr, self.env.uid, self.env.context)[self._name].sudo()
            per_second, burst = per_minute / 60.0, max(1.0, per_minute / 16.0)
            budget = Budget.search([("application_key", "=", key)], limit=1)
            if not budget:
                # Two workers may make it at once: the unique key keeps one.
                try:
                    with cr.savepoint(flush=True):
                        Budget.create({"application_key": key, "tokens": burst, "refilled_at": time.time()})
                except IntegrityError:
                    pass
                budget = Budget.search([("application_key", "=", key)], limit=1)
            budget.lock_for_update()
            budget.invalidate_recordset()
            now = time.time()
            tokens = min(burst, budget.tokens + max(0.0, now - budget.refilled_at) * per_second)
            wait = max(0.0, (count - tokens) / per_second)
            if wait > MAX_WAIT:
                raise api_errors.AllegroRateLimited(
                    "The request budget of this Allegro application is spent for now", status=429,
                    retry_after=wait)
            # Taken now, even if sent after the wait: the next worker queues behind.
            budget.write({"tokens": tokens - count, "refilled_at": now})
        return wait


class RequestBudget:
    """What the Allegro client calls before each request: takes requests of
    the shared budget a few at a time and waits when it is spent.

    Requests taken are counted when taken: the ones not sent within a second
    are dropped rather than sent later, outside the minute they were counted in."""

    def __init__(self, env, key, sleep=time.sleep, clock=time.monotonic):
        self._env = env
        self._key = key
        self._sleep = sleep
        self._clock = clock
        self._left = 0
        self._block = 1
        self._taken_at = 0.0

    def __call__(self):
        if self._left and self._clock() - self._taken_at > BLOCK_LIFETIME:
            self._left = 0
        if not self._left:
            taken = self._block
            wait = self._env["allegro.request.budget"]._take(self._key, taken)
            if wait:
                self._sleep(wait)
            self._taken_at = self._clock()
            # While there is room, take more at a time; once the budget is
            # tight, one at a time, so that nothing taken goes unused.
            self._left, self._block = taken, 1 if wait else min(MAX_BLOCK, taken * 2)
        self._left -= 1
