# Run inside `odoo shell` by demo.sh: create (or update) the demo shop and
# connect it to the emulator through the real device flow.
import os

url = os.environ["EMULATOR_URL"]
Shop = env["allegro.shop"]  # noqa: F821 (provided by odoo shell)
shop = Shop.with_context(active_test=False).search([("name", "=", "Allegro demo shop")], limit=1)
values = {
    "name": "Allegro demo shop",
    "active": True,
    "environment": "custom",
    "api_url": url,
    "auth_url": url + "/auth/oauth",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
}
if shop:
    shop.write(values)
else:
    shop = Shop.create(values)
env.cr.commit()  # noqa: F821 - the connection below runs on its own cursors

# The emulator restarts empty on each run: always connect anew.
shop.action_connect()
env.cr.commit()  # noqa: F821
shop._collect_device_token()
env.cr.commit()  # noqa: F821
print("Demo shop: %s, seller %s" % (shop.state, shop.seller_login))
if shop.state != "connected":
    raise SystemExit("demo shop not connected: %s" % shop.last_error)
