"""Injected failures: error statuses, slow responses and lost answers for the next N matching requests."""

import math
import threading
import time
from collections import deque

from .routing import ApiError, Reply

MESSAGES = {
    429: "Too many requests. Slow down and retry after the time given in Retry-After.",
    500: "Internal server error. Try again later.",
    502: "Bad gateway. Try again later.",
    503: "Service temporarily unavailable. Try again later.",
    504: "Gateway timeout. Try again later.",
}
# Their userMessage when the request asks for Polish.
MESSAGES_PL = {
    429: "Zbyt wiele zapytań. Zwolnij i spróbuj ponownie po czasie podanym w Retry-After.",
    500: "Wewnętrzny błąd serwera. Spróbuj ponownie później.",
    502: "Błędna brama. Spróbuj ponownie później.",
    503: "Usługa chwilowo niedostępna. Spróbuj ponownie później.",
    504: "Przekroczony czas bramy. Spróbuj ponownie później.",
}


class Faults:
    """Rules match by path prefix (and method if given); ``count=None`` means until clear()."""

    def __init__(self):
        self._lock = threading.Lock()
        self._errors = []
        self._delays = []
        self._lost = []
        self._rate = None  # (requests, seconds) of the REST API's limit, None: no limit
        self._recent = deque()
        self.rate_limited = 0

    def add(self, status=429, count=1, path_prefix="/order", retry_after=1, method=None):
        with self._lock:
            self._errors.append({"status": int(status), "count": count, "path_prefix": path_prefix or "",
                                 "retry_after": retry_after, "method": method and method.upper()})

    def delay(self, seconds, count=1, path_prefix="", method=None):
        with self._lock:
            self._delays.append({"seconds": float(seconds), "count": count, "path_prefix": path_prefix or "",
                                 "method": method and method.upper()})

    def lose_answer(self, count=1, path_prefix="/order", method=None, status=None, after=0):
        """Process the request, then lose its answer: the connection is dropped
        (``status`` None, what a client sees as a timeout) or ``status`` (e.g.
        500 or 504) is answered instead. The change is made all the same, as
        when Allegro's gateway gives up on a request its backend completes.
        ``after``: the first so many matching requests are answered as usual."""
        with self._lock:
            self._lost.append({"status": status, "count": count, "path_prefix": path_prefix or "",
                               "method": method and method.upper(), "after": after})

    def limit_rate(self, requests, seconds=60.0):
        """Allegro's limit per client id: past ``requests`` REST API requests
        in any ``seconds``, a 429 whose Retry-After says when there is room
        again (``requests`` None lifts the limit)."""
        with self._lock:
            self._rate = (int(requests), float(seconds)) if requests else None
            self._recent.clear()
            self.rate_limited = 0

    def clear(self):
        with self._lock:
            self._errors.clear()
            self._delays.clear()
            self._lost.clear()
            self._rate = None
            self._recent.clear()

    def pending(self):
        with self._lock:
            return {"errors": [dict(r) for r in self._errors], "delays": [dict(r) for r in self._delays],
                    "lost": [dict(r) for r in self._lost]}

    def _take(self, rules, method, path):
        """Consume one use of the first matching rule."""
        with self._lock:
            for rule in rules:
                if path.startswith(rule["path_prefix"]) and rule["method"] in (None, method):
                    if rule.get("after"):
                        rule["after"] -= 1
                        continue
                    if rule["count"] is not None:
                        rule["count"] -= 1
                        if rule["count"] <= 0:
                            rules.remove(rule)
                    return rule
        return None

    def take_delay(self, method, path):
        """Seconds to stall this request (0 if no delay rule matches)."""
        rule = self._take(self._delays, method, path)
        return rule["seconds"] if rule else 0

    def take_lost_answer(self, method, path):
        """The rule losing this request's answer (processed first), or None."""
        return self._take(self._lost, method, path)

    def take_rate_limit(self):
        """The 429 Reply of a REST API request over the rate limit, or None (the request counts)."""
        with self._lock:
            if not self._rate:
                return None
            requests, seconds = self._rate
            now = time.monotonic()
            while self._recent and self._recent[0] <= now - seconds:
                self._recent.popleft()
            if len(self._recent) >= requests:
                self.rate_limited += 1
                return error_reply(429, max(1, math.ceil(self._recent[0] + seconds - now)))
            self._recent.append(now)
            return None

    def take_error(self, method, path, language=None):
        """The Reply that replaces this request's real answer, or None."""
        rule = self._take(self._errors, method, path)
        if rule is None:
            return None
        status = rule["status"]
        if status == 401:  # 401 always carries AuthError, never ErrorsHolder
            return Reply(401, {"error": "invalid_token", "error_description": "Access token expired: injected fault"})
        return error_reply(status, rule["retry_after"], language)


def error_reply(status, retry_after=None, language=None):
    headers = {}
    if retry_after is not None and status in (429, 503):
        headers["Retry-After"] = str(retry_after)
    return ApiError(status, MESSAGES.get(status, "Injected failure"), headers=headers,
                    polish=MESSAGES_PL.get(status, "Wstrzyknięty błąd")).reply(language)
