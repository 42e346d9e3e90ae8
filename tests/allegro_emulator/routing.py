"""Request/reply types, the REST error type and a tiny path-template router."""

import json
import re

from .common import JSON_V1


class Request:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query  # name -> list of values, as urllib.parse.parse_qs gives
        self.headers = headers  # case-insensitive (http.client.HTTPMessage)
        self.body = body
        self._json = None

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name):
        return self.query.get(name, [])

    def int_arg(self, name, default, lo, hi, status=422):
        """An integer query parameter within [lo, hi]; out of range -> ``status``."""
        raw = self.arg(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(status, "Parameter %s must be an integer" % name, path=name) from None
        if not lo <= value <= (hi if hi is not None else value):
            bounds = "%s..%s" % (lo, hi if hi is not None else "")
            raise ApiError(status, "Parameter %s=%s is outside the allowed range %s" % (name, raw, bounds), path=name)
        return value

    @property
    def form(self):
        """Form fields (urlencoded body) with query parameters as fallback; OAuth accepts both."""
        from urllib.parse import parse_qs

        fields = dict(self.query)
        if self.body and "json" not in self.headers.get("Content-Type", ""):
            fields.update(parse_qs(self.body.decode("utf-8", "replace")))
        return {k: v[0] for k, v in fields.items() if v}

    def json(self):
        """The JSON body (any +json media type); malformed JSON -> 400 ErrorsHolder."""
        if self._json is None:
            try:
                self._json = json.loads(self.body or b"null")
            except ValueError:
                raise ApiError(400, "Malformed JSON request body", code="MalformedRequest") from None
        return self._json

    def json_object(self):
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(422, "Request body must be a JSON object")
        return body


class Reply:
    def __init__(self, status, body=None, media=JSON_V1, headers=None):
        self.status = status
        self.body = body  # dict/list -> JSON; bytes/str -> as is; None -> empty
        self.media = media
        self.headers = dict(headers or {})

    def encode(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


# Default Error.code per HTTP status, in Allegro's naming style.
ERROR_CODES = {
    400: "BadRequest", 403: "AccessDenied", 404: "NotFoundException", 405: "MethodNotAllowed",
    406: "NotAcceptableException", 409: "ConflictException", 411: "LengthRequired", 413: "PayloadTooLarge",
    415: "UnsupportedMediaType", 422: "VALIDATION_ERROR", 429: "TooManyRequests",
    500: "InternalServerError", 503: "ServiceUnavailable",
}


class ApiError(Exception):
    """A REST API error answered with an ErrorsHolder body.

    ``polish``: the ``userMessage`` for a request asking ``Accept-Language:
    pl-PL``, as Allegro answers it; ``message`` (for developers) stays English."""

    def __init__(self, status, message, code=None, path=None, headers=None, polish=None, details=None):
        super().__init__(message)
        self.details = details  # shipment management's errors declare a string here, never null
        self.status = status
        self.message = message
        self.code = code or ERROR_CODES.get(status, "Error")
        self.path = path
        self.headers = headers or {}
        self.polish = polish

    def reply(self, language=None):
        polish = self.polish and (language or "").lower().startswith("pl")
        error = {"code": self.code, "message": self.message, "details": self.details, "path": self.path,
                 "userMessage": self.polish if polish else self.message, "metadata": {}}
        return Reply(self.status, {"errors": [error]}, headers=self.headers)


class Route:
    def __init__(self, method, template, handler, options):
        self.method = method
        self.template = template  # the spec's path template, recorded with each request
        self.handler = handler
        self.options = options
        # Templates hold only letters, '-', '/' and {params}, so no escaping is needed.
        self.pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


class Router:
    def __init__(self):
        self.routes = []

    def route(self, method, template, **options):
        def register(handler):
            self.routes.append(Route(method, template, handler, options))
            return handler
        return register

    def match(self, method, path):
        """(route, path params) for the request; (None, {}) if the path is unknown;
        (None, None) if the path exists but not for this method."""
        path_known = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, found.groupdict()
                path_known = True
        return None, (None if path_known else {})


# The REST API's routes; api_orders, api_sale, api_shipping and api_messaging register on it.
API = Router()
