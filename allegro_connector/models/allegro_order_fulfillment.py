from odoo import models
from odoo.exceptions import UserError

from ..const import STATUS_RANK
from .allegro_rights import ALLEGRO_USER, check_group


class AllegroOrderFulfillment(models.AbstractModel):
    """Fulfillment back to Allegro: statuses, tracking numbers, cancellation.
    Part of ``allegro.order``."""

    _name = "allegro.order.fulfillment"
    _description = "Allegro order fulfillment"

    # ------------------------------------------------------------------
    # Automatic updates, from the status mapping
    # ------------------------------------------------------------------

    def _update_event_status(self, odoo_event, fallback=None):
        """Queue the status the mapping gives for an Odoo event."""
        Map = self.env["allegro.status.map"]
        by_status = {}
        for order in self.filtered(lambda o: o.status != "CANCELLED"):
            status = Map._outgoing_status(order.shop_id, odoo_event)
            if not status and fallback:
                status = Map._outgoing_status(order.shop_id, fallback)
            if not status:
                continue
            current = order.fulfillment_status or "NEW"
            if status != "CANCELLED" and current not in STATUS_RANK:
                continue  # a status Allegro added since: whether this is a step forward is unknown
            if status != "CANCELLED" and STATUS_RANK[current] >= STATUS_RANK[status]:
                continue
            by_status.setdefault(status, []).append(order.id)
        # One call per status: a confirmed import batch queues its updates at once.
        for status, order_ids in by_status.items():
            self.env["allegro.update"]._queue_status(self.browse(order_ids), status)

    # ------------------------------------------------------------------
    # Buttons (one order or many): sent at once, the result shown
    # ------------------------------------------------------------------

    def _set_allegro_status(self, status):
        """Change the status on Allegro now; returns the updates with their outcome."""
        check_group(self, ALLEGRO_USER)
        if status == "CANCELLED":
            return self._cancel_on_allegro_first()
        updates = self.env["allegro.update"]._queue_status(self, status, enqueue=False)
        updates._send_now()
        return updates

    def _cancel_on_allegro_first(self, status="CANCELLED"):
        """Ask Allegro to cancel, then cancel in Odoo the orders Allegro let go.

        Allegro first: an order refused there (or Allegro not answering) stays
        as it was in Odoo, rather than cancelled here and still open there."""
        for order in self:
            if order._shipped_pickings():
                raise UserError(self.env._(
                    "Order %(order)s has shipped already: it cannot be cancelled, arrange a return instead.",
                    order=order.display_name))
        updates = self.env["allegro.update"]._queue_status(self, status, enqueue=False)
        updates._send_now(retry_later=False)
        for update in updates.filtered(lambda p: p.state == "done"):
            sale = update.order_id.sale_order_id
            if sale and sale.state != "cancel":
                sale.with_context(allegro_no_update=True)._action_cancel()
        return updates

    def _ask_allegro_to_cancel(self):
        """For a cancel pressed on the sale order: Allegro is asked before
        Odoo cancels; a refusal stops the cancel with Allegro's answer."""
        Map = self.env["allegro.status.map"]
        for order in self.filtered(lambda o: o.status != "CANCELLED" and o.fulfillment_status != "CANCELLED"):
            status = Map._outgoing_status(order.shop_id, "order_cancelled")
            if status != "CANCELLED":
                continue
            update = self.env["allegro.update"]._queue_status(order, status, enqueue=False)
            update._send_now(retry_later=False)
            if update.state != "done":
                raise UserError(self.env._(
                    "Allegro did not cancel order %(order)s, so it stays open in Odoo too: %(reason)s",
                    order=order.display_name, reason=update.last_error))

    def _notify_updates(self, updates):
        failed = updates.filtered(lambda p: p.state != "done")
        if not failed:
            message, kind = self.env._("Allegro updated."), "success"
        else:
            message = "\n".join("%s: %s" % (p.order_id.display_name, p.last_error or p.state) for p in failed)
            kind = "danger" if len(failed) == len(updates) else "warning"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": bool(failed),
                       "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
        }

    def action_start_processing(self):
        return self._notify_updates(self._set_allegro_status("PROCESSING"))

    def action_handed_over(self):
        return self._notify_updates(self._set_allegro_status("SENT"))

    def action_cancel_allegro_order(self):
        return self._notify_updates(self._set_allegro_status("CANCELLED"))

    def action_add_tracking_number(self):
        self.ensure_one()
        check_group(self, ALLEGRO_USER)
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Add tracking number"),
            "res_model": "allegro.tracking.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_order_id": self.id},
        }

    def action_view_updates(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("allegro_connector.action_allegro_update")
        action["domain"] = [("order_id", "in", self.ids)]
        action["context"] = {}
        return action
