"""The HTTP layer: threaded server, request parsing, faults, auth and media checks, recording.

Each request: control endpoints (/_emulator/) go straight to their handler;
everything else may first be delayed or replaced by an injected fault, then
is routed to OAuth or the REST API with the emulator's lock held, recorded
in emu.requests and answered.
"""

import json
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# The API modules register their routes on API.
from . import api_messaging, api_money, api_orders, api_returns, api_sale, api_shipping  # noqa: F401
from .common import JSON_V1, iso, utcnow
from .control import CONTROL
from .faults import error_reply
from .oauth import OAUTH, OAuthError
from .routing import API, ApiError, Reply, Request


class Headers(dict):
    """Request headers for emu.requests: a dict whose lookups ignore case."""

    def __init__(self, items):
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return super().__contains__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)


class Record(dict):
    """One served request in emu.requests; keys can also be read as attributes (rec.path)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _media(content_type):
    return (content_type or "").split(";")[0].strip().lower()


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() closes kept-alive connections itself instead of waiting for them

    def __init__(self, address, emulator):
        self.emulator = emulator
        self._connections = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients with sessions expect
    server_version = "AllegroEmulator/1.0"
    timeout = 120  # idle keep-alive connections are dropped after this

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format, *args):
        if self.server.emulator.log_requests:
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))

    # -- request -------------------------------------------------------------
    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self):
        emu = self.server.emulator
        url = urlsplit(self.path)
        req = Request(self.command, url.path, parse_qs(url.query, keep_blank_values=True), self.headers,
                      self._read_body())
        if url.path.startswith("/_emulator/"):
            reply = self._control(emu, req)
            return self._send(reply, reply.encode())
        route, params, router = self._match(req)
        delay = emu.faults.take_delay(req.method, req.path) + (emu.latency if route is not None else 0)
        if delay:
            time.sleep(delay)
        reply = emu.faults.take_error(req.method, req.path, req.headers.get("Accept-Language"))
        if reply is None and router is API:
            reply = emu.faults.take_rate_limit()
        if reply is not None:
            payload = reply.encode()
        else:
            reply, payload = self._dispatch(emu, req, route, params, router)
            lost = emu.faults.take_lost_answer(req.method, req.path)
            if lost is not None:
                # Recorded as processed (what Allegro did), then the answer is lost.
                self._record(emu, req, route, reply, payload, answer_lost=True)
                if lost["status"] is None:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                reply = error_reply(lost["status"], language=req.headers.get("Accept-Language"))
                return self._send(reply, reply.encode())
        self._record(emu, req, route, reply, payload)
        self._send(reply, payload)

    @staticmethod
    def _match(req):
        """(route, path params, router) of an OAuth or REST API request; route None if unknown."""
        params = {}
        for router in (OAUTH, API):
            route, found = router.match(req.method, req.path)
            if route:
                return route, found, router
            if found is None:
                params = None  # the path exists, the method does not
        return None, params, None

    def _dispatch(self, emu, req, route, params, router):
        """(reply, encoded body) of a matched request."""
        if route is None:
            status, message = (405, "Method not allowed") if params is None else (404, "Resource not found")
            reply = ApiError(status, "%s: %s %s" % (message, req.method, req.path)).reply()
            return reply, reply.encode()
        with emu.lock:  # the whole request, incl. encoding, sees one consistent state
            try:
                reply = (self._guard(emu, req, route) if router is API else None) or route.handler(emu, req, **params)
            except ApiError as error:
                reply = error.reply(req.headers.get("Accept-Language"))
            except OAuthError as error:
                reply = error.reply()
            except Exception:  # a bug in the emulator: answer like Allegro's 500, keep serving
                traceback.print_exc()
                reply = ApiError(500, "Internal emulator error").reply()
            if reply.status >= 400 and route.options.get("error_media"):
                reply.media = route.options["error_media"]  # beta endpoints declare their errors in their own type
            return reply, reply.encode()

    def _guard(self, emu, req, route):
        """Token and media type checks common to the REST API; a Reply stops the request."""
        denied = emu.oauth.check_bearer(req.headers.get("Authorization"))
        if denied:
            return denied
        if not emu.strict_media_types:
            return None
        produces = route.options.get("produces", JSON_V1)
        if produces and produces not in req.headers.get("Accept", "").lower():
            raise ApiError(406, "Not acceptable: send 'Accept: %s'" % produces)
        consumes = route.options.get("consumes", JSON_V1)
        accepted = consumes if isinstance(consumes, tuple) else (consumes,)  # uploads take several file types
        if req.body and _media(req.headers.get("Content-Type")) not in accepted:
            raise ApiError(415, "Unsupported media type: send 'Content-Type: %s'" % " or ".join(accepted))
        return None

    def _control(self, emu, req):
        route, params = CONTROL.match(req.method, req.path)
        try:
            if route is None:
                raise KeyError("control endpoint %s %s" % (req.method, req.path))
            return route.handler(emu, req, **params)
        except KeyError as error:
            return Reply(404, {"error": "not found: %s" % error}, "application/json")
        except (ValueError, TypeError, ApiError) as error:
            return Reply(400, {"error": str(error)}, "application/json")

    # -- response ------------------------------------------------------------
    def _record(self, emu, req, route, reply, payload, answer_lost=False):
        """Appended before the response is sent, so a client that got its answer sees the record."""
        body_json = None
        if req.body and "json" in req.headers.get("Content-Type", ""):
            try:
                body_json = json.loads(req.body)
            except ValueError:
                pass
        record = Record({
            "method": req.method, "path": req.path, "route": route.template if route else None,
            "query": {k: v[0] if len(v) == 1 else v for k, v in req.query.items()},
            "headers": Headers(req.headers.items()), "json": body_json, "body": req.body,
            "status": reply.status, "response_headers": self._response_headers(reply, payload),
            "response_body": payload, "time": iso(utcnow()), "answer_lost": answer_lost,
        })
        with emu.lock:
            emu.requests.append(record)

    @staticmethod
    def _response_headers(reply, payload):
        headers = dict(reply.headers)
        if payload:
            headers["Content-Type"] = reply.media
        if reply.status != 204:
            headers["Content-Length"] = str(len(payload))
        return headers

    def _send(self, reply, payload):
        try:
            self.send_response(reply.status)
            for name, value in self._response_headers(reply, payload).items():
                self.send_header(name, value)
            self.end_headers()
            if payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout during a delay)
