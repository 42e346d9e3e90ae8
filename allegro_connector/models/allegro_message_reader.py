"""Buyers' messages and issues read from Allegro, per shop, on a cursor of its own.

Allegro lists threads by last message with no date filter and keeps no
journal of issues: a poll reads the first page of threads (it stops at the
shop's stored position) and the open issues, so that one finding nothing
new costs two requests. Each thread's messages are read after the thread's
own position and committed with it, one thread at a time: a run that stops
(its time is up, Allegro fails, the worker dies) loses nothing and doubles
nothing, each message's Allegro id being unique.
"""

import logging
import time

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..allegro_api import errors as api_errors
from ..allegro_api.params import format_value, parse_timestamp
from .allegro_importer import SLICE_SECONDS
from .allegro_issue import OPEN_STATUSES
from .allegro_thread import _files

_logger = logging.getLogger(__name__)

# Threads in error read again per run (each costs a request).
RETRY_LIMIT = 20


# pg_try_advisory_xact_lock's first key: readers of one shop's messages take turns without
# holding the shop's row, which the order import locks every minute.
LOCK_NAMESPACE = 0x414C4D53


class MessagesTakenOver(Exception):
    """Another worker reads this shop's messages."""


class AllegroMessageReader(models.AbstractModel):
    _name = "allegro.message.reader"
    _description = "Allegro messages and issues reader"

    @api.model
    def _run(self, shop, slice_seconds=SLICE_SECONDS):
        """One run on a cursor of its own; "continues" when its time ran out."""
        shop.ensure_one()
        shop.env.flush_all()  # under tests the reader's cursor shares this transaction
        with shop.env.registry.cursor() as cr:
            shop_on_cr = shop.with_env(shop.env(cr=cr))
            state = shop_on_cr.env["allegro.message.reader"]._read(shop_on_cr, slice_seconds)
        shop.invalidate_recordset()
        return state

    @api.model
    def _lock(self, shop):
        """Hold the shop's message reading until the next commit."""
        if not shop._hold_work_lock(LOCK_NAMESPACE):
            raise MessagesTakenOver()
        shop.invalidate_recordset(["message_position"])

    @api.model
    def _read(self, shop, slice_seconds):
        started = time.monotonic()
        try:
            self._lock(shop)
            client = shop._allegro_client()
            if not self._read_threads(shop, client, started, slice_seconds):
                shop.env.cr.commit()
                return "continues"
            self._read_issues(shop, client)
            shop.env.cr.commit()
            return "done"
        except MessagesTakenOver:
            shop.env.cr.rollback()
            return "skipped"
        except (api_errors.AllegroError, UserError) as error:
            # What was committed stays; the next run goes on from there.
            shop.env.cr.rollback()
            _logger.info("Allegro shop %s: messages not read: %s", shop.id, type(error).__name__)
            return "failed"

    # ------------------------------------------------------------------
    # Threads
    # ------------------------------------------------------------------

    @api.model
    def _read_threads(self, shop, client, started, slice_seconds):
        """False when the run's time ran out before every thread was read."""
        since = shop.message_position or format_value(shop.import_start_date)
        listed = [t for t in client.iter_threads(since=since) if isinstance(t, dict) and t.get("id")]
        # Oldest first: the shop's position moves past a thread only once every
        # thread up to it is committed (a tie moves it with the last of the tie).
        listed.sort(key=lambda t: parse_timestamp(t.get("lastMessageDateTime")) or fields.Datetime.now())
        for index, data in enumerate(listed):
            thread = shop.env["allegro.thread"]._take(shop, data)
            self._read_thread_safely(shop, client, thread)
            moment = data.get("lastMessageDateTime")
            following = listed[index + 1].get("lastMessageDateTime") if index + 1 < len(listed) else None
            if moment and (following is None or parse_timestamp(following) > parse_timestamp(moment)):
                shop.sudo().message_position = moment
            shop.env.cr.commit()
            if slice_seconds and time.monotonic() - started > slice_seconds and index + 1 < len(listed):
                return False
            self._lock(shop)
        self._retry_failed_threads(shop, client, [t["id"] for t in listed])
        return True

    @api.model
    def _retry_failed_threads(self, shop, client, listed_ids):
        """Threads whose last read failed are read again at each run (the shop's position
        went past them), a few at a time."""
        failed = shop.env["allegro.thread"].sudo().search(
            [("shop_id", "=", shop.id), ("sync_error", "!=", False), ("allegro_ref", "not in", listed_ids)],
            limit=RETRY_LIMIT, order="write_date")
        for thread in failed:
            self._read_thread_safely(shop, client, thread)
            shop.env.cr.commit()

    @api.model
    def _read_thread_safely(self, shop, client, thread):
        """Read one thread's new messages; what Allegro refuses or Odoo cannot read is said
        on the thread and the other threads go on. Allegro busy or down stops the run."""
        try:
            with shop.env.cr.savepoint():
                self._read_thread_messages(shop, client, thread)
            thread.sync_error = False
        except api_errors.AllegroError as error:
            if error.retryable:
                raise
            thread.sync_error = shop._allegro_error_text(error)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            thread.sync_error = shop.env._("Allegro sent data Odoo could not read: %(error)s",
                                           error=type(error).__name__)

    @api.model
    def _read_thread_messages(self, shop, client, thread):
        Message = shop.env["allegro.message"].sudo()
        # A conversation new to Odoo is read from the shop's start date, like its orders.
        after = thread.read_position or format_value(shop.import_start_date)
        read = list(client.iter_thread_messages(thread.allegro_ref, after=after))
        newest = max(read, key=lambda m: parse_timestamp(m.get("createdAt")) or fields.Datetime.now(), default=None)
        known = set(Message.search([("shop_id", "=", shop.id),
                                    ("allegro_ref", "in", [m.get("id") for m in read])]).mapped("allegro_ref"))
        for data in reversed(read):  # Allegro lists the newest first
            if not isinstance(data, dict) or not data.get("id") or data["id"] in known:
                continue
            self._take_message(shop, client, thread, data)
        if newest and newest.get("createdAt"):
            thread.read_position = newest["createdAt"]

    @api.model
    def _take_message(self, shop, client, thread, data):
        author = data.get("author") or {}
        from_buyer = bool(author.get("isInterlocutor"))
        order_ref = ((data.get("relatesTo") or {}).get("order") or {}).get("id")
        order = shop.env["allegro.order"].sudo()
        if order_ref:
            order = order.search([("shop_id", "=", shop.id), ("allegro_ref", "=", order_ref)], limit=1)
        if order:
            thread.order_id = order
        elif not from_buyer:
            # The seller's answer on Allegro names no order: it answers the conversation's last one.
            order = thread.order_id
        if not from_buyer:
            pending = thread.message_line_ids.filtered(
                lambda m: m.direction == "out" and not m.allegro_ref and m.text == data.get("text"))[:1]
            if pending:
                # The reply Odoo is sending, read back before its job heard Allegro's answer.
                pending.write({"allegro_ref": data["id"], "state": "sent", "error": False})
                return
        message = shop.env["allegro.message"].sudo().create({
            "shop_id": shop.id, "thread_id": thread.id, "order_id": order.id,
            "allegro_ref": data["id"], "direction": "in" if from_buyer else "out",
            "buyer_login": thread.buyer_login, "text": data.get("text") or "",
            "created_at": parse_timestamp(data.get("createdAt")) or fields.Datetime.now(),
            "state": "received",
        })
        message._post_received(_files(client.download_attachment, data.get("attachments")))

    # ------------------------------------------------------------------
    # Issues
    # ------------------------------------------------------------------

    @api.model
    def _read_issues(self, shop, client):
        """The open issues as listed, and the ones Odoo holds open that left the list (closed)."""
        Issue = shop.env["allegro.issue"]
        listed = set()
        for data in client.iter_issues(statuses=OPEN_STATUSES):
            if isinstance(data, dict) and data.get("id"):
                listed.add(data["id"])
                Issue._take_listed(shop, data, client)
        left = Issue.sudo().search([("shop_id", "=", shop.id), ("status", "in", OPEN_STATUSES),
                                    ("allegro_ref", "not in", list(listed))])
        for issue in left:
            try:
                data = client.get_issue(issue.allegro_ref)
            except api_errors.AllegroNotFound:
                issue.status = "GONE"
                continue
            Issue._take_listed(shop, data, client)
        shop.env.cr.commit()
