# Run inside `odoo shell` by demo.sh: create (or update) the demo shop, connect
# it to the emulator through the real device flow, give the emulator's offers
# a product each, and import the orders.
import os

import requests

url = os.environ["EMULATOR_URL"]
# The demo's admin works in Polish, and so do the scheduled actions (run by
# OdooBot) and the seller's e-mails (in the company's language).
for xmlid in ("base.user_admin", "base.user_root", "base.main_partner"):
    env.ref(xmlid).lang = "pl_PL"  # noqa: F821
env = env(context=dict(env.context, lang="pl_PL"))  # noqa: F821

Shop = env["allegro.shop"]  # noqa: F821 (provided by odoo shell)
shop = Shop.with_context(active_test=False).search([("name", "=", "Allegro demo shop")], limit=1)
values = {
    "name": "Allegro demo shop",
    "active": True,
    "environment": "custom",
    "api_url": url,
    "auth_url": url + "/auth/oauth",
    "client_key": "demo-client",
    "client_secret": "demo-secret",
    "notify_email": "sklep@example.com",
    # The emulator starts afresh on each run (same seed, same orders): read
    # them again from the start rather than from an old journal position.
    "order_event_cursor": False,
    "initial_import_done": False,
    "return_cursor": False,
}
if shop:
    shop.write(values)
else:
    shop = Shop.create(values)
env.cr.commit()  # noqa: F821 - the connection below runs on its own cursors

# The emulator restarts empty on each run: always connect anew.
shop.action_connect()
env.cr.commit()  # noqa: F821
shop.env["allegro.shop.token"]._collect_device_token(shop)
env.cr.commit()  # noqa: F821
print("Demo shop: %s, seller %s" % (shop.state, shop.seller_login))
if shop.state != "connected":
    raise SystemExit("demo shop not connected: %s" % shop.last_error)

# The seller's catalogue in Odoo: one product per Allegro offer, by SKU.
Product = env["product.product"]  # noqa: F821
for offer in shop._allegro_client().iter_offers():
    sku = (offer.get("external") or {}).get("id")
    if sku and not Product.search([("default_code", "=", sku)], limit=1):
        Product.create({
            "name": offer["name"],
            "default_code": sku,
            "type": "consu",
            "is_storable": True,
            "list_price": float(offer["sellingMode"]["price"]["amount"]),
        })
env.cr.commit()  # noqa: F821

summary = shop.env["allegro.importer"]._run_import(shop)
print("Orders imported: %s" % summary["message"])
env.cr.commit()  # noqa: F821

# A buyer returns one item of a delivered order: the return, its receipt waiting for the warehouse.
order = env["allegro.order"].search([("payment_status", "=", "paid"), ("sale_order_id.state", "=", "sale"),  # noqa: F821
                                     ("customer_return_ids", "=", False)], limit=1, order="id")
delivery = order.sale_order_id.picking_ids.filtered(lambda p: p.picking_type_code == "outgoing")[:1]
if delivery and delivery.state != "done":
    for move in delivery.move_ids:
        move.quantity = move.product_uom_qty
        move.picked = True
    delivery.with_context(skip_backorder=True, skip_sms=True).button_validate()
    env.cr.commit()  # noqa: F821
if order and delivery.state == "done":
    line = order.line_ids[:1]
    requests.post(url + "/_emulator/customer-returns", timeout=10, json={
        "order_id": order.allegro_ref, "items": [[line.offer_ref, 1]], "reason": "DONT_LIKE_IT",
        "comment": "Kolor inny niż na zdjęciu.", "waybill": "AD000RET0001", "status": "IN_TRANSIT"})
    summary = shop.env["allegro.customer.return"]._run_fetch(shop)
    print(summary["message"])
