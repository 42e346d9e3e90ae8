"""The path of an order from Allegro into Odoo, in one place.

Journal, first listing and sweep all end in ``_import_forms``: checkout
forms → Allegro order records → sale orders, committed 50 orders at a time.
The shop keeps the settings and the buttons; this unit holds no state of its
own, every method takes the shop it works for.
"""

import json
import logging
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..allegro_api import errors as api_errors
from ..allegro_api.pagination import id_sort_key
from ..allegro_api.params import format_value, parse_timestamp
from .allegro_order import MalformedCheckoutForm

_logger = logging.getLogger(__name__)

# Orders imported between two commits: small enough that a failure loses
# little work, large enough that commits do not dominate.
BATCH_SIZE = 50
EVENT_PAGE_SIZE = 1000
# Orders in error retried per run (each costs one API call).
RETRY_LIMIT = 50
# Around the events' times when listing the orders they name: Allegro's
# updatedAt and the event's occurredAt need not be the same millisecond.
EVENT_TIME_MARGIN = timedelta(seconds=2)
# A run stops at the first commit after this many seconds and the next goes
# on from there: well within the time a worker is given for one request or
# job (Odoo's limit_time_real, 120 s by default), so none is killed half-way.
SLICE_SECONDS = 60
# A first import resumed goes back this far before the last order it
# committed: the items of one order need not share their time of purchase.
RESUME_MARGIN = timedelta(hours=1)


class ImportTakenOver(Exception):
    """Another worker holds the shop's import lock: let it go on."""


class SliceEnded(Exception):
    """The run's time is up; what it did is committed, the next run goes on."""


class ImportStats:
    """Counters of one run, written to allegro.import.run at the end."""

    def __init__(self, kind, slice_seconds=None):
        self.kind = kind
        self.slice_seconds = slice_seconds
        self.new = self.updated = self.unchanged = self.failed = 0
        self.messages = []
        self.started = time.monotonic()
        self.started_at = fields.Datetime.now()


def _iso(value):
    """An Odoo datetime (or its string) as Allegro writes times, to the whole
    second as Odoo stores them: a listing from a stored mark starts at its second."""
    return format_value(fields.Datetime.to_datetime(value).replace(microsecond=0))


def _event_form(event):
    return (event.get("order") or {}).get("checkoutForm") or {}


def _as_new_as(form, revision, occurred_at):
    """Whether a listed form holds what an event announced: the announced
    revision, or a later one (updated at or after the event; revisions are
    opaque, times are not). A form updated before its event lags behind."""
    if revision in (None, form.get("revision")):
        return True
    updated_at = parse_timestamp(form.get("updatedAt"))
    return bool(updated_at and occurred_at and updated_at >= occurred_at)


class ListedForms:
    """The checkout forms updated around a page of events' times, listed
    (sorted by updatedAt, 100 per request) only as far as the slices need.

    An order changed again after the page's last event is outside the
    window: its slice reads it with a GET."""

    def __init__(self, client, events):
        moments = [m for m in (parse_timestamp(e.get("occurredAt")) for e in events) if m]
        self._forms = iter(client.iter_checkout_forms_updated(
            format_value(min(moments) - EVENT_TIME_MARGIN),
            updated_at_lte=format_value(max(moments) + EVENT_TIME_MARGIN),
        )) if moments else iter(())
        self._seen = {}

    def take(self, wanted):
        """The listed forms of the ``wanted`` ids, by id."""
        while not wanted.keys() <= self._seen.keys():
            form = next(self._forms, None)
            if form is None:
                break
            if isinstance(form, dict) and form.get("id"):
                self._seen[form["id"]] = form
        return {form_id: self._seen[form_id] for form_id in wanted if form_id in self._seen}


class AllegroImporter(models.AbstractModel):
    _name = "allegro.importer"
    _description = "Allegro order import"

    # ------------------------------------------------------------------
    # A run
    # ------------------------------------------------------------------

    @api.model
    def _lock(self, shop):
        """Hold the shop row until the next commit; False if another worker does."""
        locked = shop.try_lock_for_update(allow_referencing=True)
        shop.invalidate_recordset(["order_event_cursor", "initial_import_done", "last_sweep_at", "sweep_mark"])
        return bool(locked)

    @api.model
    def _commit_batch(self, shop, stats=None):
        """Commit what is done; with ``stats``, end the run here if its time is up."""
        shop.env.cr.commit()
        if stats and stats.slice_seconds and time.monotonic() - stats.started > stats.slice_seconds:
            raise SliceEnded()
        if not self._lock(shop):
            raise ImportTakenOver()

    @api.model
    def _run_import(self, shop, sweep=False, slice_seconds=None):
        """One run of the import; one that stopped at its time limit goes on in a job."""
        summary = self._run_import_slice(shop, sweep=sweep, slice_seconds=slice_seconds)
        if summary["state"] == "continues":
            shop._enqueue_imports(sweep=sweep)
        return summary

    @api.model
    def _run_import_slice(self, shop, sweep=False, slice_seconds=None):
        """Import on a cursor of its own, committing batch by batch.

        A batch commit is what lets the event cursor move: the orders it
        covers are committed with it, so a later failure (an Allegro outage
        half-way) neither loses them nor skips events.
        """
        shop.ensure_one()
        shop.env.flush_all()  # under tests the import cursor shares this transaction
        with shop.env.registry.cursor() as cr:
            shop_on_cr = shop.with_env(shop.env(cr=cr))
            summary = shop_on_cr.env["allegro.importer"]._import_orders(
                shop_on_cr, sweep=sweep, slice_seconds=slice_seconds)
        shop.invalidate_recordset()
        return summary

    @api.model
    def _import_orders(self, shop, sweep=False, slice_seconds=None):
        """One run; it stops at the first commit after ``slice_seconds``
        (default SLICE_SECONDS; state "continues") for the caller to queue the next."""
        kind = "sweep" if sweep else ("events" if shop.initial_import_done else "initial")
        stats = ImportStats(kind, SLICE_SECONDS if slice_seconds is None else slice_seconds)
        client = None
        state = "done"
        try:
            if not self._lock(shop):
                raise ImportTakenOver()
            client = shop._allegro_client()
            # Orders that failed in an earlier run first, so that an order
            # failing now is retried next time, not twice in a row.
            self._retry_failed_orders(shop, client, stats)
            if sweep:
                self._sweep(shop, client, stats)
            elif not shop.initial_import_done:
                self._import_initial(shop, client, stats)
            else:
                self._import_events(shop, client, stats)
        except ImportTakenOver:
            shop.env.cr.rollback()
            state = "skipped"
            stats.messages.append(shop.env._("Another import of this shop is running."))
        except SliceEnded:
            state = "continues"
            stats.messages.append(shop.env._(
                "Stopped after %(seconds)s s with all it did saved; the import goes on in the background.",
                seconds=stats.slice_seconds))
        except (api_errors.AllegroError, UserError) as error:
            # The unfinished batch is dropped; the cursor stays where the last
            # committed batch left it, so the next run starts over from there.
            shop.env.cr.rollback()
            state = "failed"
            stats.messages.append(shop._allegro_error_text(error))
            if isinstance(error, UserError) or not getattr(error, "retryable", False):
                shop._set_error(shop._allegro_error_text(error))
        summary = self._record_run(shop, stats, state, client.request_count if client else 0)
        shop.env.cr.commit()
        return summary

    @api.model
    def _record_run(self, shop, stats, state, api_calls):
        counts = shop.env._(
            "%(new)s new, %(updated)s updated, %(failed)s failed order(s).",
            new=stats.new, updated=stats.updated, failed=stats.failed,
        )
        message = "\n".join([counts] + stats.messages) if state != "skipped" else stats.messages[0]
        shop.env["allegro.import.run"].sudo().create(
            {
                "shop_id": shop.id,
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
                     shop.id, stats.kind, state, counts, api_calls)
        return {"state": state, "message": message, "new": stats.new, "updated": stats.updated,
                "failed": stats.failed, "api_calls": api_calls}

    # ------------------------------------------------------------------
    # The three paths
    # ------------------------------------------------------------------

    @api.model
    def _import_initial(self, shop, client, stats):
        """First run: list the orders since the start date, oldest first,
        then follow events.

        Oldest first, orders bought meanwhile come last instead of shifting
        the pages; and the run can stop after any batch: the next one lists
        again from the last order committed (``initial_import_mark``)."""
        resume = shop.initial_import_mark
        if not resume:
            # Events after ``latest`` are read once the listing is done; older
            # ones are covered by it. The import's cursors are the connector's
            # bookkeeping: an Allegro user fetches orders without the right to
            # edit the shop.
            latest = (client.get_order_event_stats().get("latestEvent") or {}).get("id")
            shop.sudo().order_event_cursor = latest or False
        since = resume - RESUME_MARGIN if resume else shop.import_start_date
        batch = []
        for form in client.iter_checkout_forms(bought_at_gte=_iso(since), sort="lineItems.boughtAt"):
            batch.append(form)
            if len(batch) >= BATCH_SIZE:
                self._import_initial_batch(shop, batch, stats)
                batch = []
        self._import_forms(shop, batch, stats)
        shop.sudo().write({"initial_import_done": True, "initial_import_mark": False,
                           "last_sweep_at": fields.Datetime.now()})
        self._commit_batch(shop)

    @api.model
    def _import_initial_batch(self, shop, batch, stats):
        self._import_forms(shop, batch, stats)
        bought = [parse_timestamp(item.get("boughtAt")) for form in batch if isinstance(form, dict)
                  for item in form.get("lineItems") or [] if isinstance(item, dict)]
        bought = [moment for moment in bought if moment]
        if bought:
            shop.sudo().initial_import_mark = max(bought)
        self._commit_batch(shop, stats)

    @api.model
    def _import_events(self, shop, client, stats):
        """Follow the order event journal from the stored cursor.

        The orders a page of events names are read with one checkout-forms
        listing around the page's times, 100 per request. The page is cut
        into slices naming at most BATCH_SIZE orders; each slice is imported
        and committed with the cursor at its last event, so a failure late in
        a page keeps the slices before it. Events come duplicated and out of
        order: each changed order is read as it is now, and its revision decides.
        """
        while True:
            events = client.get_order_events(
                from_id=shop.order_event_cursor or None, limit=EVENT_PAGE_SIZE
            ).get("events") or []
            page_full = len(events) >= EVENT_PAGE_SIZE
            # Only what lies past the cursor, so that it never moves back; a
            # journal that does not move forward must not loop.
            cursor = id_sort_key(shop.order_event_cursor) if shop.order_event_cursor else None
            events = sorted((e for e in events if e.get("id") and (cursor is None or id_sort_key(e["id"]) > cursor)),
                            key=lambda e: id_sort_key(e["id"]))
            if not events:
                return
            listed = ListedForms(client, events)
            for chunk in self._event_slices(events):
                self._import_event_slice(shop, client, chunk, listed, stats)
                shop.sudo().order_event_cursor = chunk[-1]["id"]
                self._commit_batch(shop, stats)
            if not page_full:
                return

    @api.model
    def _event_slices(self, events):
        """Consecutive runs of events naming at most BATCH_SIZE orders each."""
        chunk, orders = [], set()
        for event in events:
            form_id = _event_form(event).get("id")
            if form_id and form_id not in orders and len(orders) >= BATCH_SIZE:
                yield chunk
                chunk, orders = [], set()
            chunk.append(event)
            if form_id:
                orders.add(form_id)
        if chunk:
            yield chunk

    @api.model
    def _import_event_slice(self, shop, client, events, listed, stats):
        """Import the orders these events name whose revision we lack: from
        the listing, one GET only for what it misses or gives in another
        revision than the last event announced."""
        revisions, latest = {}, {}
        for event in events:
            form = _event_form(event)
            if form.get("id"):
                revisions.setdefault(form["id"], set()).add(form.get("revision"))
                latest[form["id"]] = (form.get("revision"), parse_timestamp(event.get("occurredAt")))
        known = self._known_orders(shop, revisions)
        wanted = {}
        for form_id, announced in revisions.items():
            order = known.get(form_id)
            if order and order._holds_revision(announced):
                stats.unchanged += 1
            else:
                wanted[form_id] = announced
        if not wanted:
            return
        # A listing lagging behind the journal gives an order as it was before
        # its event: that one is read on its own before the cursor passes the event.
        forms = {form_id: form for form_id, form in listed.take(wanted).items()
                 if _as_new_as(form, *latest[form_id])}
        self._import_forms(shop, list(forms.values()), stats)
        missed = {form_id: announced for form_id, announced in wanted.items() if form_id not in forms}
        if missed:
            self._import_by_ids(shop, client, missed, stats)

    @api.model
    def _sweep(self, shop, client, stats):
        """Re-read what the journal may have missed, and unpaid orders.

        Orders updated since the previous sweep (less the overlap) are listed
        oldest change first, paged by updatedAt, so that one changed during
        the listing is read again at its end rather than shifting another out
        of sight. Each batch is committed with ``sweep_mark``, the updatedAt
        read up to: a run that stops at its time limit goes on from there.
        Unpaid orders, a few days' worth, are then re-read in one go."""
        now = fields.Datetime.now()
        since = shop.sweep_mark or (shop.last_sweep_at or now) - timedelta(minutes=shop.sweep_overlap_minutes)
        batch, seen = [], set()
        for form in client.iter_checkout_forms_updated(_iso(since)):
            batch.append(form)
            seen.add(form.get("id"))
            if len(batch) >= BATCH_SIZE:
                self._import_sweep_batch(shop, batch, stats)
                batch = []
        self._import_sweep_batch(shop, batch, stats)
        unpaid_since = _iso(now - timedelta(days=shop.unpaid_recheck_days))
        for status in ("BOUGHT", "FILLED_IN"):
            forms = [form for form in client.iter_checkout_forms_updated(
                unpaid_since, status=status, bought_at_gte=unpaid_since) if form.get("id") not in seen]
            for start in range(0, len(forms), BATCH_SIZE):
                self._import_forms(shop, forms[start:start + BATCH_SIZE], stats)
                self._commit_batch(shop)
        shop.sudo().write({"last_sweep_at": now, "sweep_mark": False})
        self._commit_batch(shop)

    @api.model
    def _import_sweep_batch(self, shop, batch, stats):
        self._import_forms(shop, batch, stats)
        updated = [moment for moment in (parse_timestamp(form.get("updatedAt")) for form in batch
                                         if isinstance(form, dict)) if moment]
        if updated:
            shop.sudo().sweep_mark = max(updated)
        self._commit_batch(shop, stats)

    @api.model
    def _retry_failed_orders(self, shop, client, stats):
        failed = shop.env["allegro.order"].search(
            [("shop_id", "=", shop.id), ("sync_state", "=", "error")], limit=RETRY_LIMIT, order="write_date"
        )
        if failed:
            self._import_by_ids(shop, client, dict.fromkeys(failed.mapped("allegro_ref")), stats)
            self._commit_batch(shop)

    @api.model
    def _reimport_orders(self, shop, orders):
        """Read these orders again from Allegro, in the current transaction."""
        self._import_by_ids(shop, shop._allegro_client(), dict.fromkeys(orders.mapped("allegro_ref")),
                            ImportStats("events"))

    @api.model
    def _take_forms(self, shop, forms):
        """Import forms already read (e.g. by an update job), in the current transaction."""
        self._import_forms(shop, forms, ImportStats("events"))

    # ------------------------------------------------------------------
    # Forms into orders
    # ------------------------------------------------------------------

    @api.model
    def _known_orders(self, shop, form_ids):
        return {
            order.allegro_ref: order
            for order in shop.env["allegro.order"].search(
                [("shop_id", "=", shop.id), ("allegro_ref", "in", list(form_ids))]
            )
        }

    @api.model
    def _import_by_ids(self, shop, client, revisions, stats):
        """Read one by one and import the orders whose revision differs from ours.

        ``revisions`` maps checkout form ids to the set of revisions events
        announced (None or an empty set: unknown, read it anyway). Out of
        order, an older revision may come last: only an order whose every
        announced revision is the one we hold is skipped.
        """
        known = self._known_orders(shop, revisions)
        batch = []
        for form_id, announced in revisions.items():
            order = known.get(form_id)
            if order and order._holds_revision(announced):
                stats.unchanged += 1
                continue
            try:
                batch.append(client.get_checkout_form(form_id))
            except api_errors.AllegroNotFound:
                # Merged into another order or deleted: stop asking for it.
                if order and order.sync_state != "gone":
                    order.write({"sync_state": "gone", "sync_error": shop.env._(
                        "Allegro no longer knows this order (merged or deleted).")})
                    order._flag(shop.env._("The order disappeared from Allegro (merged or deleted)."))
                continue
            except api_errors.AllegroError as error:
                if error.retryable:
                    raise
                self._record_failed_form(shop, {"id": form_id}, error, stats)
                continue
            if len(batch) >= BATCH_SIZE:
                self._import_forms(shop, batch, stats)
                batch = []
        self._import_forms(shop, batch, stats)

    @api.model
    def _import_forms(self, shop, forms, stats):
        """Import checkout forms; one bad order is recorded on its own record
        and the others go on.

        The batch is tried whole in one savepoint (one flush, as fast as
        plain Odoo); only if something in it fails is it done again order by
        order, each in its own savepoint, to isolate the culprit.
        """
        todo, known = self._forms_to_import(shop, forms, stats)
        if not todo:
            return
        Order = shop.env["allegro.order"]
        try:
            with shop.env.cr.savepoint():
                if not all(isinstance(form, dict) for form in todo):
                    raise MalformedCheckoutForm("not a JSON object")
                # The batch's new orders are created in one call, in the order of their forms.
                created = iter(Order._create_from_checkout_forms(
                    shop, [form for form in todo if form.get("id") not in known]))
                to_create, imported = [], []
                for form in todo:
                    if form.get("id") in known:
                        imported.append(self._import_form(shop, form, known[form["id"]], apply_policies=False))
                    else:
                        order = next(created)
                        order._sync_sale_order(None, apply_policies=False, to_create=to_create)
                        imported.append((order, "new"))
                Order.concat(*to_create)._create_sale_orders()
                Order.concat(*(order for order, _outcome in imported))._apply_policies()
                outcomes = [outcome for _order, outcome in imported]
        except Exception:  # noqa: BLE001 - retried one by one just below
            outcomes = []
            for form in todo:
                try:
                    with shop.env.cr.savepoint():
                        outcomes.append(self._import_form(shop, form, known.get(form.get("id"), Order))[1])
                except Exception as error:  # noqa: BLE001 - recorded on the order, the batch goes on
                    _logger.info("Allegro shop %s: order %s not imported: %s", shop.id, form.get("id"), error)
                    self._record_failed_form(shop, form, error, stats)
        stats.new += outcomes.count("new")
        stats.updated += outcomes.count("updated")

    @api.model
    def _forms_to_import(self, shop, forms, stats):
        """The forms whose revision we do not hold yet (or hold in error),
        and the orders already known for the batch, by Allegro id.

        A form listed twice (a listing shifting while it is paged) is
        imported once, as last seen."""
        unique = {}
        for form in forms:
            key = form.get("id") if isinstance(form, dict) and form.get("id") else ("no id", len(unique))
            unique.pop(key, None)
            unique[key] = form
        forms = list(unique.values())
        ids = [form.get("id") for form in forms if isinstance(form, dict) and form.get("id")]
        known = self._known_orders(shop, ids)
        todo = []
        for form in forms:
            order = known.get(form.get("id")) if isinstance(form, dict) else None
            if order and order._holds_revision({form.get("revision")}):
                stats.unchanged += 1
            else:
                todo.append(form)
        return todo, known

    @api.model
    def _import_form(self, shop, form, order, apply_policies=True, to_create=None):
        """Store one checkout form on ``order`` (empty for a new one) and bring
        its sale order in line. Returns the Allegro order and "new" or "updated".
        ``to_create``: see ``_sync_sale_order``."""
        if not isinstance(form, dict):
            raise MalformedCheckoutForm("not a JSON object")
        previous = order._snapshot() if order else None
        order = order._store_checkout_form(shop, form)
        order._sync_sale_order(previous, apply_policies=apply_policies, to_create=to_create)
        return order, "new" if previous is None else "updated"

    @api.model
    def _record_failed_form(self, shop, form, error, stats):
        """Keep the raw data and the error where a person will see them."""
        stats.failed += 1
        form_id = form.get("id") if isinstance(form, dict) else None
        error = shop._allegro_error_text(error)
        message = shop.env._("Could not import this revision: %(error)s", error=error)
        if not form_id:
            stats.messages.append(shop.env._("An order without id was skipped: %(error)s", error=error))
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
        Order = shop.env["allegro.order"].sudo()
        order = Order.search([("shop_id", "=", shop.id), ("allegro_ref", "=", form_id)], limit=1)
        if order:
            order.write(values)
        else:
            Order.create(dict(values, shop_id=shop.id, allegro_ref=form_id))
