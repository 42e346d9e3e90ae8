from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.sale.controllers import portal


class CustomerPortal(portal.CustomerPortal):
    @http.route()
    def portal_quote_decline(self, order_id, access_token=None, decline_message=None, **kwargs):
        """A buyer cancels an Allegro order on Allegro, where it was bought:
        its quotation is not declined here (the sale order refuses it too)."""
        try:
            order_sudo = self._document_check_access("sale.order", order_id, access_token=access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        if order_sudo.allegro_order_id:
            return request.redirect(order_sudo.get_portal_url(query_string="&message=cant_reject"))
        return super().portal_quote_decline(order_id, access_token=access_token, decline_message=decline_message,
                                            **kwargs)
