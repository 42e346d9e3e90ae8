from datetime import datetime

from odoo.tests import tagged

from .common import AllegroEmulatorCase

PAID = {"status": "READY_FOR_PROCESSING", "payment": {"type": "ONLINE", "provider": "P24"}}
UNPAID = {"status": "FILLED_IN", "payment": {"type": "ONLINE", "provider": "P24"}}


def items(*pairs):
    """lineItems overrides: (catalogue index, quantity) pairs."""
    from allegro_emulator import catalogue

    offers = catalogue.offers()
    return [{"offer": {"id": offers[index]["id"]}, "quantity": quantity} for index, quantity in pairs]


@tagged("post_install", "-at_install")
class TestOrderImport(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_catalogue_products()

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop()

    def sale_orders(self):
        return self.env["sale.order"].search([("allegro_shop_id", "=", self.shop.id)])

    def test_first_import_makes_sale_orders_matching_allegro(self):
        demo = self.emulator.seed_demo()
        summary = self.import_orders(self.shop)
        self.assertEqual(summary["state"], "done", summary["message"])
        self.assertEqual(summary["new"], len(demo))
        orders = self.env["allegro.order"].search([("shop_id", "=", self.shop.id)])
        self.assertEqual(len(orders), len(demo))
        self.assertEqual(len(self.sale_orders()), len(demo))
        for order in orders:
            sale = order.sale_order_id
            self.assertEqual(sale.allegro_order_id, order)
            self.assertEqual(sale.sales_channel, "allegro")
            self.assertEqual(sale.client_order_ref, order.allegro_ref)
            self.assertEqual(sale.date_order, order.bought_at)
            # Gross prices with price-included taxes: the total is what the buyer pays.
            self.assertEqual(sale.amount_total, order.total_to_pay, order.raw_payload)
            self.assertEqual(sale.currency_id, order.currency_id)
            self.assertTrue(sale.amount_tax > 0)
            delivery = sale.order_line.filtered("is_delivery")
            self.assertEqual(len(delivery), 1)
            self.assertEqual(delivery.price_total, order.delivery_cost)
            self.assertFalse(order.needs_attention, order.attention_reason)
        # Listing pages, one event-stats call: far below one request per order.
        self.assertLessEqual(summary["api_calls"], 3)
        run = self.env["allegro.import.run"].search([("shop_id", "=", self.shop.id)])
        self.assertEqual((run.kind, run.state, run.orders_new), ("initial", "done", len(demo)))

    def test_sale_order_takes_the_shop_s_warehouse_pricelist_and_delivery_product(self):
        company = self.shop.company_id
        warehouse = self.env["stock.warehouse"].create({"name": "Allegro", "code": "ALG", "company_id": company.id})
        pricelist = self.env["product.pricelist"].create(
            {"name": "Allegro shop", "currency_id": company.currency_id.id, "company_id": company.id})
        courier = self.env["product.product"].create({"name": "Allegro courier", "type": "service"})
        self.shop.write({"warehouse_id": warehouse.id, "pricelist_ids": [(6, 0, pricelist.ids)],
                         "delivery_product_id": courier.id})
        form = self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        self.import_orders(self.shop)
        sale = self.allegro_order(self.shop, form["id"]).sale_order_id
        self.assertEqual(sale.warehouse_id, warehouse)
        self.assertEqual(sale.pricelist_id, pricelist)
        self.assertEqual(sale.order_line.filtered("is_delivery").product_id, courier)

    def test_times_given_with_an_offset_are_kept_in_utc(self):
        """Allegro may write a time with its offset: the order shows the same moment, not two hours off."""
        paid = dict(PAID["payment"], finishedAt="2026-12-01T10:20:30.123+02:00")
        form = self.emulator.add_order(status="READY_FOR_PROCESSING", payment=paid)
        self.assertEqual(self.import_orders(self.shop)["state"], "done")
        order = self.env["allegro.order"].search([("allegro_ref", "=", form["id"])])
        self.assertEqual(order.paid_at, datetime(2026, 12, 1, 8, 20, 30))

    def test_private_buyer_contacts_and_lines(self):
        form = self.emulator.add_order(
            **PAID,
            buyer={"id": "777", "login": "ala_m", "email": "ala@example.com", "firstName": "Ala",
                   "lastName": "Ma", "phoneNumber": "500600700", "companyName": None},
            delivery={"address": {"firstName": "Ala", "lastName": "Ma", "street": "Lipowa 1", "city": "Lublin",
                                  "zipCode": "20-001", "countryCode": "PL", "phoneNumber": "500600700",
                                  "companyName": None},
                      "cost": {"amount": "12.99", "currency": "PLN"}},
            lineItems=items((0, 2), (3, 1)),
            invoice={"required": False},
            messageToSeller="Proszę o staranne zapakowanie.",
        )
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        sale = order.sale_order_id
        self.assertEqual(sale.partner_id.name, "Ala Ma")
        self.assertEqual(sale.partner_id.allegro_buyer_ref, "777")
        self.assertEqual(sale.partner_id.email, "ala@example.com")
        self.assertEqual(sale.partner_shipping_id.parent_id, sale.partner_id)
        self.assertEqual(sale.partner_shipping_id.type, "delivery")
        self.assertEqual(sale.partner_shipping_id.city, "Lublin")
        self.assertEqual(sale.partner_shipping_id.country_id.code, "PL")
        self.assertEqual(sale.partner_invoice_id, sale.partner_id)
        product_lines = sale.order_line.filtered(lambda l: not l.is_delivery)
        self.assertEqual(product_lines.product_id.mapped("default_code"), ["SKU-001", "SKU-004"])
        self.assertEqual(product_lines.mapped("product_uom_qty"), [2, 1])
        self.assertEqual(sale.order_line.filtered("is_delivery").price_unit, 12.99)
        self.assertIn("staranne", order.buyer_message)
        self.assertIn("staranne", " ".join(sale.message_ids.mapped("body")))
        self.assertEqual(sale.state, "sale", "paid order, default policy: confirmed")
        self.assertEqual(len(sale.picking_ids), 1)
        self.assertEqual(
            sale.picking_ids.move_ids.mapped("product_uom_qty"), [2.0, 1.0], "the picking moves the goods"
        )

    def test_buyer_is_found_again_not_duplicated(self):
        buyer = {"id": "4242", "login": "stały_klient", "email": "staly@example.com"}
        first = self.emulator.add_order(**PAID, buyer=buyer, lineItems=items((1, 1)))
        self.import_orders(self.shop)
        second = self.emulator.add_order(**PAID, buyer=buyer, lineItems=items((2, 1)))
        self.import_orders(self.shop)
        partners = self.env["res.partner"].search([("allegro_buyer_ref", "=", "4242")])
        self.assertEqual(len(partners), 1)
        self.assertEqual(
            self.allegro_order(self.shop, first["id"]).sale_order_id.partner_id,
            self.allegro_order(self.shop, second["id"]).sale_order_id.partner_id,
        )

    def test_company_buyer_gets_invoice_contact_with_vat(self):
        company = "Nowak Consulting Sp. z o.o."
        form = self.emulator.add_order(
            **PAID,
            buyer={"companyName": company},
            invoice={"required": True, "address": {
                "street": "Grunwaldzka 182", "city": "Poznań", "zipCode": "60-166", "countryCode": "PL",
                "company": {"name": company, "ids": [{"type": "PL_NIP", "value": "5250001233"}],
                            "vatPayerStatus": "ACTIVE"}}},
            lineItems=items((2, 3)),
        )
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertTrue(order.invoice_required)
        self.assertEqual(order.invoice_vat, "PL5250001233")
        invoice_partner = order.sale_order_id.partner_invoice_id
        self.assertEqual(invoice_partner.type, "invoice")
        self.assertEqual(invoice_partner.name, company)
        self.assertEqual(invoice_partner.vat, "PL5250001233")
        self.assertEqual(invoice_partner.street, "Grunwaldzka 182")
        self.assertEqual(invoice_partner.parent_id, order.sale_order_id.partner_id)
        self.assertTrue(order.sale_order_id.partner_id.is_company)

    def test_allegro_cz_order_in_czk(self):
        form = self.emulator.add_order(**PAID, marketplace={"id": "allegro-cz"}, lineItems=items((1, 1)))
        self.assertEqual(form["summary"]["totalToPay"]["currency"], "CZK")
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        sale = order.sale_order_id
        self.assertEqual(order.marketplace, "allegro-cz")
        self.assertEqual(sale.currency_id.name, "CZK")
        self.assertEqual(sale.pricelist_id.currency_id.name, "CZK")
        self.assertEqual(str(sale.amount_total), str(float(form["summary"]["totalToPay"]["amount"])))
        self.assertEqual(sale.order_line.filtered(lambda l: not l.is_delivery).price_unit,
                         float(form["lineItems"][0]["price"]["amount"]))

    def test_cash_on_delivery_is_confirmed_and_unpaid_is_not(self):
        cod = self.emulator.add_order(status="READY_FOR_PROCESSING",
                                      payment={"type": "CASH_ON_DELIVERY", "provider": "OFFLINE"},
                                      lineItems=items((6, 1)))
        unpaid = self.emulator.add_order(**UNPAID, lineItems=items((4, 1)))
        self.import_orders(self.shop)
        cod_order = self.allegro_order(self.shop, cod["id"])
        self.assertEqual(cod_order.payment_status, "cod")
        self.assertEqual(cod_order.sale_order_id.state, "sale")
        unpaid_order = self.allegro_order(self.shop, unpaid["id"])
        self.assertEqual(unpaid_order.payment_status, "unpaid")
        self.assertEqual(unpaid_order.sale_order_id.state, "draft")
        self.assertFalse(unpaid_order.sale_order_id.picking_ids)

    def test_confirmation_policies(self):
        self.shop.confirm_policy = "never"
        paid = self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        self.import_orders(self.shop)
        self.assertEqual(self.allegro_order(self.shop, paid["id"]).sale_order_id.state, "draft")
        self.shop.confirm_policy = "always"
        unpaid = self.emulator.add_order(**UNPAID, lineItems=items((0, 1)))
        self.import_orders(self.shop)
        self.assertEqual(self.allegro_order(self.shop, unpaid["id"]).sale_order_id.state, "sale")

    def test_payment_arriving_later_confirms_and_reserves(self):
        product = self.products.filtered(lambda p: p.default_code == "SKU-005")
        self.env["stock.quant"]._update_available_quantity(
            product, self.env.ref("stock.warehouse0").lot_stock_id, 10
        )
        form = self.emulator.add_order(**UNPAID, lineItems=items((4, 3)))
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual((order.payment_status, order.sale_order_id.state), ("unpaid", "draft"))
        self.emulator.pay_order(form["id"])
        summary = self.import_orders(self.shop)
        self.assertEqual(summary["updated"], 1)
        self.assertEqual(order.payment_status, "paid")
        self.assertEqual(order.status, "READY_FOR_PROCESSING")
        self.assertEqual(order.sale_order_id.state, "sale")
        picking = order.sale_order_id.picking_ids
        self.assertEqual(picking.state, "assigned")
        self.assertEqual(product.with_context(warehouse_id=self.env.ref("stock.warehouse0").id).free_qty, 7)
        self.assertIn("Paid", " ".join(order.sale_order_id.message_ids.mapped("body")))

    def test_events_duplicated_and_out_of_order_import_each_order_once(self):
        self.import_orders(self.shop)  # first run: nothing yet, cursor set
        self.emulator.duplicate_events = True
        self.emulator.shuffle_events = True
        forms = [self.emulator.add_order(**UNPAID, lineItems=items((i, 1))) for i in range(4)]
        self.emulator.pay_order(forms[0]["id"])
        self.emulator.cancel_order(forms[1]["id"])
        self.emulator.reset_requests()
        summary = self.import_orders(self.shop)
        self.assertEqual(summary["state"], "done", summary["message"])
        self.assertEqual(summary["new"], 4)
        orders = self.env["allegro.order"].search([("shop_id", "=", self.shop.id)])
        self.assertEqual(len(orders), 4)
        self.assertEqual(len(self.sale_orders()), 3, "the cancelled unpaid order needs no sale order")
        self.assertEqual(self.allegro_order(self.shop, forms[0]["id"]).payment_status, "paid")
        self.assertEqual(self.allegro_order(self.shop, forms[1]["id"]).status, "CANCELLED")
        # One journal page and one listing of the changed orders: none read on its own.
        routes = [r.route for r in self.emulator.requests]
        self.assertEqual(routes, ["/order/events", "/order/checkout-forms"])
        self.assertEqual(self.shop.order_event_cursor, self.emulator.events[-1]["id"])

    def test_rerun_is_a_no_op(self):
        self.emulator.seed_demo()
        self.import_orders(self.shop)
        sale_count = len(self.sale_orders())
        self.emulator.reset_requests()
        summary = self.import_orders(self.shop)
        self.assertEqual((summary["new"], summary["updated"], summary["failed"]), (0, 0, 0))
        self.assertEqual(len(self.sale_orders()), sale_count)
        self.assertEqual(len(self.emulator.requests), 1, "only the (empty) journal page is read")
        # A sweep re-reads recent orders but changes nothing either.
        summary = self.import_orders(self.shop, sweep=True)
        self.assertEqual((summary["new"], summary["updated"]), (0, 0))
        self.assertEqual(len(self.sale_orders()), sale_count)

    def test_sweep_catches_what_the_journal_missed(self):
        self.import_orders(self.shop)
        form = self.emulator.add_order(**PAID, lineItems=items((5, 1)))
        # The journal lost the events of that order (Allegro keeps it only a few days).
        self.shop.sudo().order_event_cursor = self.emulator.events[-1]["id"]
        self.import_orders(self.shop)
        self.assertFalse(self.allegro_order(self.shop, form["id"]))
        self.import_orders(self.shop, sweep=True)
        self.assertTrue(self.allegro_order(self.shop, form["id"]).sale_order_id)

    def test_unmanaged_items_hold_the_order_until_mapped(self):
        unknown = {"offer": {"id": "99000001", "name": "Zegarek vintage", "external": {"id": "NO-SUCH-SKU"}},
                   "quantity": 1, "price": {"amount": "250.00", "currency": "PLN"},
                   "originalPrice": {"amount": "250.00", "currency": "PLN"}}
        mixed = self.emulator.add_order(**PAID, lineItems=[*items((0, 1)), unknown])
        only_unknown = self.emulator.add_order(**PAID, lineItems=[unknown])
        self.import_orders(self.shop)
        for form in (mixed, only_unknown):
            order = self.allegro_order(self.shop, form["id"])
            self.assertEqual(order.sync_state, "held")
            self.assertTrue(order.needs_attention)
            self.assertIn("Zegarek vintage", order.attention_reason)
            self.assertFalse(order.sale_order_id, "never a half-empty sale order")
        watch = self.env["product.product"].create({"name": "Watch", "type": "consu", "is_storable": True})
        orders = self.allegro_order(self.shop, mixed["id"]) | self.allegro_order(self.shop, only_unknown["id"])
        wizard = self.env["allegro.map.products"].with_context(active_ids=orders.ids).create({})
        self.assertEqual(wizard.line_ids.mapped("offer_name"), ["Zegarek vintage"])
        wizard.line_ids.product_id = watch
        wizard.action_apply()
        for order in orders:
            self.assertEqual(order.sync_state, "done")
            self.assertFalse(order.needs_attention)
            self.assertEqual(order.sale_order_id.amount_total, order.total_to_pay)
            self.assertIn(watch, order.sale_order_id.order_line.product_id)
        offer = self.env["allegro.offer"].search([("shop_id", "=", self.shop.id), ("allegro_ref", "=", "99000001")])
        self.assertEqual(offer.product_id, watch, "the mapping is remembered")
        later = self.emulator.add_order(**PAID, lineItems=[unknown])
        self.import_orders(self.shop)
        self.assertIn(watch, self.allegro_order(self.shop, later["id"]).sale_order_id.order_line.product_id)

    def test_unmanaged_items_with_placeholder_product(self):
        placeholder = self.env["product.product"].create({"name": "Allegro item", "type": "consu"})
        self.shop.write({"unmanaged_policy": "placeholder", "placeholder_product_id": placeholder.id})
        unknown = {"offer": {"id": "99000002", "name": "Lampa naftowa", "external": None}, "quantity": 2,
                   "price": {"amount": "45.50", "currency": "PLN"},
                   "originalPrice": {"amount": "45.50", "currency": "PLN"}}
        form = self.emulator.add_order(**PAID, lineItems=[unknown, *items((0, 1))])
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        sale = order.sale_order_id
        self.assertTrue(order.needs_attention, "flagged, not silently completed")
        self.assertIn("Lampa naftowa", order.attention_reason)
        line = sale.order_line.filtered(lambda l: l.product_id == placeholder)
        self.assertEqual((line.name, line.product_uom_qty, line.price_unit), ("Lampa naftowa", 2, 45.5))
        self.assertEqual(sale.amount_total, order.total_to_pay)

    def test_products_found_by_mapping_ean_and_name(self):
        ean_product = self.env["product.product"].create(
            {"name": "Something else", "barcode": "5901234123457", "type": "consu"})
        named = self.env["product.product"].create({"name": "Szalik wełniany", "type": "consu"})
        mapped = self.env["product.product"].create({"name": "Mapped", "type": "consu"})
        self.env["allegro.offer"].create(
            {"shop_id": self.shop.id, "allegro_ref": "99000010", "name": "x", "product_id": mapped.id})
        lines = [
            {"offer": {"id": "99000010", "name": "Mapped offer", "external": {"id": "SKU-001"}}, "quantity": 1,
             "price": {"amount": "10.00", "currency": "PLN"}, "originalPrice": {"amount": "10.00", "currency": "PLN"}},
            {"offer": {"id": "99000011", "name": "EAN offer", "external": {"id": "5901234123457"}}, "quantity": 1,
             "price": {"amount": "10.00", "currency": "PLN"}, "originalPrice": {"amount": "10.00", "currency": "PLN"}},
            {"offer": {"id": "99000012", "name": "Szalik wełniany", "external": None}, "quantity": 1,
             "price": {"amount": "10.00", "currency": "PLN"}, "originalPrice": {"amount": "10.00", "currency": "PLN"}},
        ]
        form = self.emulator.add_order(**PAID, lineItems=lines)
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual(order.line_ids.product_id, mapped | ean_product | named,
                         "mapping beats SKU; EAN finds the barcode; the exact name finds the product")

    def test_address_change_before_shipping_updates_the_delivery(self):
        form = self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        picking = order.sale_order_id.picking_ids
        self.emulator.edit_delivery_address(form["id"], street="Nowa 5", city="Sopot", zipCode="81-701")
        self.import_orders(self.shop)
        sale = order.sale_order_id
        self.assertEqual(sale.partner_shipping_id.street, "Nowa 5")
        self.assertEqual(picking.partner_id, sale.partner_shipping_id)
        self.assertFalse(order.needs_attention)

    def _ship(self, sale):
        picking = sale.picking_ids
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        picking.button_validate()
        self.assertEqual(picking.state, "done")

    def test_address_change_after_shipping_is_flagged(self):
        form = self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self._ship(order.sale_order_id)
        shipped_to = order.sale_order_id.partner_shipping_id
        self.emulator.edit_delivery_address(form["id"], street="Nowa 5", city="Sopot")
        self.import_orders(self.shop)
        self.assertTrue(order.needs_attention)
        self.assertIn("after the parcel was shipped", order.attention_reason)
        self.assertEqual(order.sale_order_id.partner_shipping_id, shipped_to)

    def test_buyer_cancellation_before_shipping_cancels_and_frees_stock(self):
        product = self.products.filtered(lambda p: p.default_code == "SKU-001")
        warehouse = self.env.ref("stock.warehouse0")
        self.env["stock.quant"]._update_available_quantity(product, warehouse.lot_stock_id, 5)
        form = self.emulator.add_order(**PAID, lineItems=items((0, 2)))
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.assertEqual(product.with_context(warehouse_id=warehouse.id).free_qty, 3)
        self.emulator.cancel_order(form["id"])
        self.import_orders(self.shop)
        self.assertEqual(order.status, "CANCELLED")
        self.assertEqual(order.sale_order_id.state, "cancel")
        self.assertEqual(order.sale_order_id.picking_ids.state, "cancel")
        self.assertEqual(product.with_context(warehouse_id=warehouse.id).free_qty, 5)
        self.assertIn("cancelled", " ".join(order.sale_order_id.message_ids.mapped("body")))

    def test_buyer_cancellation_after_shipping_is_flagged_for_a_return(self):
        form = self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self._ship(order.sale_order_id)
        self.emulator.cancel_order(form["id"], auto=True)
        self.import_orders(self.shop)
        self.assertEqual(order.sale_order_id.state, "sale")
        self.assertTrue(order.needs_attention)
        self.assertIn("return", order.attention_reason)
        self.assertTrue(order.activity_ids)

    def test_malformed_order_does_not_block_the_batch(self):
        self.import_orders(self.shop)
        good = self.emulator.add_order(**PAID, lineItems=items((0, 1)))
        bad = self.emulator.add_order(**PAID, lineItems=items((1, 1)))
        other = self.emulator.add_order(**PAID, lineItems=items((2, 1)))
        # Allegro sends a broken revision of one order (no buyer id, bad amount).
        self.emulator.store.orders[bad["id"]]["buyer"]["id"] = None
        summary = self.import_orders(self.shop)
        self.assertEqual((summary["new"], summary["failed"]), (2, 1))
        broken = self.allegro_order(self.shop, bad["id"])
        self.assertEqual(broken.sync_state, "error")
        self.assertTrue(broken.needs_attention)
        self.assertIn("buyer.id", broken.sync_error)
        self.assertIn(bad["id"], broken.raw_payload, "the raw data is kept")
        self.assertTrue(self.allegro_order(self.shop, good["id"]).sale_order_id)
        self.assertTrue(self.allegro_order(self.shop, other["id"]).sale_order_id)
        self.assertEqual(self.shop.order_event_cursor, self.emulator.events[-1]["id"], "the cursor moves on")
        # Fixed on Allegro's side: the next run retries it.
        self.emulator.store.orders[bad["id"]]["buyer"]["id"] = "123123"
        summary = self.import_orders(self.shop)
        self.assertEqual(broken.sync_state, "done")
        self.assertTrue(broken.sale_order_id)

    def test_outage_mid_run_keeps_the_cursor(self):
        self.import_orders(self.shop)
        cursor = self.shop.order_event_cursor
        forms = [self.emulator.add_order(**PAID, lineItems=items((i, 1))) for i in range(3)]
        # Allegro fails for longer than the client retries: 503 on every order read.
        self.emulator.faults.add(status=503, count=None, path_prefix="/order/checkout-forms", retry_after=0)
        summary = self.import_orders(self.shop)
        self.assertEqual(summary["state"], "failed")
        self.assertEqual(self.shop.order_event_cursor, cursor, "no event is skipped")
        self.assertFalse(self.sale_orders())
        run = self.env["allegro.import.run"].search([("shop_id", "=", self.shop.id)], limit=1)
        self.assertEqual(run.state, "failed")
        self.assertTrue(run.message)
        self.assertEqual(self.shop.state, "connected", "an outage is no reason to disconnect")
        # 429 with Retry-After, then Allegro is back: everything arrives.
        self.emulator.faults.clear()
        self.emulator.faults.add(status=429, count=1, path_prefix="/order/events", retry_after=1)
        summary = self.import_orders(self.shop)
        self.assertEqual(summary["state"], "done", summary["message"])
        self.assertEqual(summary["new"], 3)
        self.assertEqual(len(self.sale_orders()), 3)
        self.assertEqual(self.shop.order_event_cursor, self.emulator.events[-1]["id"])
        for form in forms:
            self.assertTrue(self.allegro_order(self.shop, form["id"]).sale_order_id)

    def test_deleted_order_stops_being_asked_for(self):
        form = self.emulator.add_order(**UNPAID, lineItems=items((0, 1)))
        self.import_orders(self.shop)
        order = self.allegro_order(self.shop, form["id"])
        self.emulator.pay_order(form["id"])
        self.emulator.delete_order(form["id"])
        self.import_orders(self.shop)
        self.assertEqual(order.sync_state, "gone")
        self.assertTrue(order.needs_attention)
        self.emulator.reset_requests()
        self.import_orders(self.shop)
        self.assertFalse([r for r in self.emulator.requests if form["id"] in r.path])

    def test_seller_is_emailed_buyer_is_not(self):
        self.shop.notify_email = "sprzedawca@example.com"
        form = self.emulator.add_order(**PAID, lineItems=items((0, 1)),
                                       buyer={"email": "kupujacy@example.com"})
        self.import_orders(self.shop)
        mails = self.env["mail.mail"].search([("model", "=", "allegro.order")])
        self.assertEqual(mails.mapped("email_to"), ["sprzedawca@example.com"])
        self.assertIn(form["buyer"]["login"], mails.subject)
        sale = self.allegro_order(self.shop, form["id"]).sale_order_id
        to_buyer = self.env["mail.mail"].search([("recipient_ids", "in", sale.partner_id.ids)])
        self.assertFalse(to_buyer)
        self.assertNotIn(sale.partner_id, sale.message_partner_ids)
