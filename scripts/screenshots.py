"""Screenshots of the main screens, taken from a running demo (make demo) with
headless Chromium, into allegro_connector/static/description/.

Usage: python3 scripts/screenshots.py [http://localhost:8069] [database]
"""
import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "allegro_connector" / "static" / "description"
WIDTH, HEIGHT = 1440, 900


def rpc(session, url, model, method, *args, **kwargs):
    answer = session.post(url + "/web/dataset/call_kw", json={
        "jsonrpc": "2.0", "method": "call",
        "params": {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
    }, timeout=30).json()
    if "error" in answer:
        raise SystemExit(answer["error"]["data"]["message"])
    return answer["result"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chromium:
    """Just enough of the DevTools protocol: cookie, navigate, wait, capture."""

    def __init__(self):
        binary = next(filter(None, map(shutil.which, ("chromium", "google-chrome", "chromium-browser"))), None)
        if not binary:
            raise SystemExit("no Chromium found (Debian package: chromium)")
        self.profile = tempfile.mkdtemp()
        port = free_port()
        self.proc = subprocess.Popen([
            binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--remote-debugging-port=%d" % port, "--user-data-dir=" + self.profile,
            "--window-size=%d,%d" % (WIDTH, HEIGHT), "about:blank",
        ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                pages = requests.get("http://127.0.0.1:%d/json" % port, timeout=1).json()
                target = next(p for p in pages if p["type"] == "page")
                break
            except (requests.ConnectionError, StopIteration, ValueError):
                time.sleep(0.2)
        else:
            raise SystemExit("Chromium did not start")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30)
        self.ids = iter(range(1, 1 << 30))

    def call(self, method, **params):
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == call_id:
                return message.get("result", {})

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def shoot(self, url, ready, path):
        self.call("Page.navigate", url=url)
        for _ in range(150):
            if self.evaluate("!!document.querySelector(%s)" % json.dumps(ready)):
                break
            time.sleep(0.2)
        else:
            raise SystemExit("%s never showed %s" % (url, ready))
        time.sleep(1.5)  # let fonts, badges and the chatter settle
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print("wrote", path.relative_to(ROOT))

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    url = (sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8069").rstrip("/")
    db = sys.argv[2] if len(sys.argv) > 2 else "allegro_demo"
    session = requests.Session()
    login = session.post(url + "/web/session/authenticate", json={
        "jsonrpc": "2.0", "method": "call", "params": {"db": db, "login": "admin", "password": "admin"},
    }, timeout=30).json()
    if "error" in login:
        raise SystemExit(login["error"]["data"]["message"])
    shop = rpc(session, url, "allegro.shop", "search", [("name", "=", "Allegro demo shop")], limit=1)
    # A paid order with its sale order and delivery shows the most of the form.
    order = rpc(session, url, "allegro.order", "search",
                [("payment_status", "=", "paid"), ("sale_order_id", "!=", False)], limit=1, order="id")
    customer_return = rpc(session, url, "allegro.customer.return", "search", [], limit=1, order="id")
    if not shop or not order or not customer_return:
        raise SystemExit("the demo shop, its orders or its return are missing: run make demo first")
    browser = Chromium()
    try:
        host = url.split("://", 1)[1].split("/", 1)[0].split(":")[0]
        browser.call("Network.setCookie", name="session_id", value=session.cookies["session_id"],
                     domain=host, path="/")
        action = url + "/odoo/action-allegro_connector."
        browser.shoot(action + "action_allegro_order", ".o_list_view .o_data_row", OUT / "screenshot_orders.png")
        browser.shoot(action + "action_allegro_order/%d" % order[0], ".o_form_view .o_field_widget[name=payment_status]",
                      OUT / "screenshot_order.png")
        browser.shoot(action + "action_allegro_customer_return/%d" % customer_return[0],
                      ".o_form_view .o_field_widget[name=waybill]", OUT / "screenshot_return.png")
        browser.shoot(action + "action_allegro_shop/%d" % shop[0], ".o_form_view .o_field_widget[name=seller_login]",
                      OUT / "screenshot_shop.png")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
