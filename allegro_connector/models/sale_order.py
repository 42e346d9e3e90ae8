from odoo import api, fields, models
from odoo.exceptions import UserError


class SaleOrder(models.Model):
    _inherit = "sale.order"

    allegro_order_id = fields.Many2one(
        "allegro.order", "Allegro order", readonly=True, copy=False, index="btree_not_null"
    )
    allegro_shop_id = fields.Many2one(
        "allegro.shop",
        "Allegro shop",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Shop whose Allegro order this sale order was made from.",
    )
    allegro_seller_status = fields.Selection(related="allegro_order_id.seller_status")
    sales_channel = fields.Selection(
        [("direct", "Direct"), ("allegro", "Allegro")],
        compute="_compute_sales_channel",
        store=True,
        index=True,
    )

    @api.depends("allegro_shop_id")
    def _compute_sales_channel(self):
        for order in self:
            order.sales_channel = "allegro" if order.allegro_shop_id else "direct"

    def _prepare_confirmation_values(self):
        values = super()._prepare_confirmation_values()
        if self.allegro_order_id:
            # The order date stays the moment the buyer bought on Allegro.
            values.pop("date_order", None)
        return values

    def action_confirm(self):
        result = super().action_confirm()
        # Salespeople need no Allegro rights: queueing the update is bookkeeping.
        self.allegro_order_id.sudo()._update_event_status("order_confirmed")
        return result

    def _action_cancel(self):
        if self.env.context.get("allegro_no_update") or not self.allegro_order_id:
            return super()._action_cancel()
        self._check_allegro_cancel_right()
        # Allegro is asked once Odoo's own cancel went through, and in the same
        # savepoint: an error of that cancel reaches nobody, Allegro's refusal
        # undoes it. Asking is the connector's bookkeeping: a salesman has no
        # Allegro rights.
        with self.env.cr.savepoint():
            result = super()._action_cancel()
            self.allegro_order_id.sudo()._ask_allegro_to_cancel()
        return result

    def _check_allegro_cancel_right(self):
        """Only the seller's people cancel an Allegro order: a buyer declining
        the quotation on the portal (public or portal user, through sudo)
        cancels on Allegro, where the order was bought."""
        user = self.env.user
        allowed = user._is_superuser() or (
            user.has_group("sales_team.group_sale_salesman")
            and self.filtered("allegro_order_id").sudo(False).has_access("write")
        )
        if not allowed:
            raise UserError(self.env._(
                "Orders bought on Allegro are cancelled by the buyer on Allegro or by the seller in Odoo."))

    def _allegro_order_action(self, method):
        self.ensure_one()
        if not self.allegro_order_id:
            raise UserError(self.env._("%(order)s does not come from Allegro.", order=self.name))
        return getattr(self.allegro_order_id, method)()

    def action_allegro_start_processing(self):
        return self._allegro_order_action("action_start_processing")

    def action_allegro_add_tracking_number(self):
        return self._allegro_order_action("action_add_tracking_number")

    def action_allegro_handed_over(self):
        return self._allegro_order_action("action_handed_over")

    def action_allegro_cancel(self):
        return self._allegro_order_action("action_cancel_allegro_order")

    def action_open_allegro_order(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "allegro.order",
            "res_id": self.allegro_order_id.id,
            "view_mode": "form",
        }
