"""REST endpoints of the message center (/messaging) and of post-purchase issues (/sale/issues, beta).

Handlers run with the emulator's lock held and return a Reply or raise
ApiError. The state lives in ``messaging.MessageCenter`` and
``messaging.IssueDesk`` (``emu.store.messaging``, ``emu.store.issues``).
"""

import re

from .common import JSON_V1, parse_iso
from .messaging import (ATTACHMENT_TYPES, CLAIM_DECISIONS, ISSUE_MESSAGE_TYPES, MAX_ATTACHMENT_SIZE, MAX_ISSUE_TEXT,
                        MAX_TEXT)
from .routing import API, ApiError, Reply

JSON_BETA = "application/vnd.allegro.beta.v1+json"
ISSUES = "/sale/issues"
# Links to other sites are refused: Allegro keeps buyers and sellers talking on Allegro.
_FOREIGN_LINK = re.compile(r"(https?://|www\.)(?![\w.-]*allegro\.pl)", re.IGNORECASE)


def invalid(message, path, polish=None):
    return ApiError(422, message, code="VALIDATION_ERROR", path=path, polish=polish or message)


def not_found(what, path):
    return ApiError(404, "%s not found" % what, code="NOT_FOUND", path=path, polish="Nie znaleziono: %s" % what)


def _center(emu):
    center = emu.store.messaging
    center.base_url = emu.url
    return center


def _thread(emu, thread_id):
    try:
        return _center(emu).threads[thread_id]
    except KeyError:
        raise not_found("Thread %s" % thread_id, "threadId") from None


def _date_arg(req, name):
    raw = req.arg(name)
    if raw is None:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise invalid("Parameter %s must be a date-time" % name, name) from None


def _check_text(text, maximum):
    if not isinstance(text, str) or not text.strip():
        raise invalid("text is required", "text", "Treść wiadomości jest wymagana")
    if len(text) > maximum:
        raise invalid("The message is too long (%d characters, at most %d)" % (len(text), maximum), "text",
                      "Wiadomość jest za długa (%d znaków, najwyżej %d)" % (len(text), maximum))
    if _FOREIGN_LINK.search(text):
        raise invalid("The message contains a link to a page outside Allegro", "text",
                      "Wiadomość zawiera link do strony spoza Allegro")


def _attachment_ids(body, files, path="attachments"):
    """Ids of uploaded attachments the body names; unknown or not uploaded -> 422."""
    entries = body.get(path) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("id"), str)
                                                for e in entries):
        raise invalid("%s must list {id}" % path, path)
    for entry in entries:
        if (files.get(entry["id"]) or {}).get("data") is None:
            raise invalid("Attachment %s is not uploaded" % entry["id"], path,
                          "Załącznik %s nie został przesłany" % entry["id"])
    return [e["id"] for e in entries]


def _upload(req, files, attachment_id, media=JSON_V1):
    entry = files.get(attachment_id)
    if entry is None:
        raise not_found("Attachment %s" % attachment_id, "attachmentId")
    if len(req.body or b"") > MAX_ATTACHMENT_SIZE:
        raise ApiError(413, "The attachment is larger than 5 MB", path="attachmentId",
                       polish="Załącznik jest większy niż 5 MB")
    entry.update(data=bytes(req.body or b""),
                 mimeType=(req.headers.get("Content-Type") or "").split(";")[0].strip() or entry["mimeType"])
    return Reply(200, {"id": attachment_id}, media=media)


def _download(files, attachment_id):
    entry = files.get(attachment_id)
    if entry is None or entry["data"] is None:
        raise not_found("Attachment %s" % attachment_id, "attachmentId")
    return Reply(200, entry["data"], media=entry["mimeType"],
                 headers={"Content-Disposition": 'attachment; filename="%s"' % entry["fileName"]})


# -- message center -------------------------------------------------------------------
@API.route("GET", "/messaging/threads")
def list_threads(emu, req):
    limit = req.int_arg("limit", 20, 1, 20)
    offset = req.int_arg("offset", 0, 0, 15000000)
    threads = _center(emu).listed_threads()[offset:offset + limit]
    return Reply(200, {"threads": threads, "offset": offset, "limit": limit})


@API.route("GET", "/messaging/threads/{threadId}")
def get_thread(emu, req, threadId):
    return Reply(200, _thread(emu, threadId))


@API.route("PUT", "/messaging/threads/{threadId}/read")
def mark_read(emu, req, threadId):
    thread = _thread(emu, threadId)
    read = req.json_object().get("read")
    if not isinstance(read, bool):
        raise invalid("read must be true or false", "read")
    thread["read"] = read
    return Reply(200, thread)


@API.route("GET", "/messaging/threads/{threadId}/messages")
def list_messages(emu, req, threadId):
    _thread(emu, threadId)
    limit = req.int_arg("limit", 20, 1, 20)
    if req.arg("before") is not None and req.arg("offset") is not None:
        raise invalid("before cannot be used with offset", "before")
    offset = req.int_arg("offset", 0, 0, 15000)
    center = _center(emu)
    found = center.thread_messages(threadId, _date_arg(req, "after"), _date_arg(req, "before"))
    page = [center.served(m) for m in found[offset:offset + limit]]
    return Reply(200, {"messages": page, "offset": offset, "limit": limit})


def _post(emu, thread, body, order_id=None):
    center = _center(emu)
    _check_text(body.get("text"), MAX_TEXT)
    attachments = _attachment_ids(body, center.attachments.files)
    return Reply(201, center.served(center.post(thread, body["text"], False, order_id, attachment_ids=attachments)))


@API.route("POST", "/messaging/threads/{threadId}/messages")
def post_in_thread(emu, req, threadId):
    return _post(emu, _thread(emu, threadId), req.json_object())


@API.route("POST", "/messaging/messages")
def post_new(emu, req):
    body = req.json_object()
    login = (body.get("recipient") or {}).get("login") if isinstance(body.get("recipient"), dict) else None
    order_id = (body.get("order") or {}).get("id") if isinstance(body.get("order"), dict) else None
    if not isinstance(login, str) or not login:
        raise invalid("recipient.login is required", "recipient.login")
    if not isinstance(order_id, str) or order_id not in emu.store.orders:
        raise invalid("order.id must name one of the seller's orders", "order.id",
                      "order.id musi wskazywać zamówienie sprzedającego")
    if emu.store.orders[order_id]["buyer"]["login"] != login:
        raise invalid("The recipient did not buy this order", "recipient.login",
                      "Odbiorca nie jest kupującym w tym zamówieniu")
    return _post(emu, _center(emu).thread_of(login), body, order_id)


@API.route("GET", "/messaging/messages/{messageId}")
def get_message(emu, req, messageId):
    center = _center(emu)
    try:
        return Reply(200, center.served(center.by_id[messageId]))
    except KeyError:
        raise not_found("Message %s" % messageId, "messageId") from None


@API.route("DELETE", "/messaging/messages/{messageId}")
def delete_message(emu, req, messageId):
    center = _center(emu)
    message = center.by_id.get(messageId)
    if message is None:
        raise not_found("Message %s" % messageId, "messageId")
    if message["author"]["isInterlocutor"]:
        raise ApiError(403, "Only the author can delete a message", path="messageId",
                       polish="Tylko autor może usunąć wiadomość")
    center.delete(messageId)
    return Reply(204)


@API.route("POST", "/messaging/message-attachments")
def declare_attachment(emu, req):
    body = req.json_object()
    filename, size = body.get("filename"), body.get("size")
    if not isinstance(filename, str) or not filename.strip():
        raise invalid("filename is required", "filename")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_ATTACHMENT_SIZE:
        raise invalid("size must be 0..%d bytes" % MAX_ATTACHMENT_SIZE, "size")
    return Reply(201, {"id": _center(emu).attachments.declare(filename, size)})


@API.route("PUT", "/messaging/message-attachments/{attachmentId}", consumes=ATTACHMENT_TYPES)
def upload_attachment(emu, req, attachmentId):
    return _upload(req, _center(emu).attachments.files, attachmentId)


@API.route("GET", "/messaging/message-attachments/{attachmentId}", produces=None)
def download_attachment(emu, req, attachmentId):
    return _download(_center(emu).attachments.files, attachmentId)


# -- post-purchase issues (beta) --------------------------------------------------------
def _desk(emu):
    desk = emu.store.issues
    desk.base_url = emu.url
    return desk


def _issue(emu, issue_id):
    try:
        return _desk(emu).issues[issue_id]
    except KeyError:
        raise not_found("Issue %s" % issue_id, "issueId") from None


@API.route("GET", ISSUES, produces=JSON_BETA)
def list_issues(emu, req):
    limit = req.int_arg("limit", 10, 1, 100)
    offset = req.int_arg("offset", 0, 0, None)
    order_id = req.arg("checkoutForm.id")
    issues = _desk(emu).listed(order_id, req.args("status"))
    return Reply(200, {"issues": issues[offset:offset + limit]}, media=JSON_BETA)


@API.route("GET", ISSUES + "/{issueId}", produces=JSON_BETA)
def get_issue(emu, req, issueId):
    return Reply(200, _issue(emu, issueId), media=JSON_BETA)


@API.route("GET", ISSUES + "/{issueId}/chat", produces=JSON_BETA)
def get_chat(emu, req, issueId):
    _issue(emu, issueId)
    limit = req.int_arg("limit", 10, 1, 100)
    offset = req.int_arg("offset", 0, 0, None)
    return Reply(200, {"chat": _desk(emu).chats[issueId][offset:offset + limit]}, media=JSON_BETA)


@API.route("POST", ISSUES + "/{issueId}/message", produces=JSON_BETA, consumes=JSON_BETA)
def post_issue_message(emu, req, issueId):
    issue = _issue(emu, issueId)
    body = req.json_object()
    kind = body.get("type")
    if kind not in ISSUE_MESSAGE_TYPES:
        raise invalid("type must be one of %s" % "|".join(ISSUE_MESSAGE_TYPES), "type")
    if (kind == "END_REQUEST") != (issue["type"] == "DISPUTE") and kind != "REGULAR":
        raise ApiError(400, "Message type %s is not allowed for a %s" % (kind, issue["type"].lower()),
                       path="type", polish="Typ wiadomości %s jest niedozwolony w tym zgłoszeniu" % kind)
    desk = _desk(emu)
    if issueId in desk.closed_chats or not issue["currentState"]["chatActive"]:
        raise ApiError(409, "The issue's chat is closed", path="issueId", polish="Czat zgłoszenia jest zamknięty")
    _check_text(body.get("text"), MAX_ISSUE_TEXT)
    attachments = _attachment_ids(body, desk.attachments.files)
    message = desk.say(issueId, "SELLER", emu.seller_login, body["text"], attachments)
    return Reply(201, message, media=JSON_BETA)


@API.route("POST", ISSUES + "/{issueId}/status", produces=None, consumes=JSON_BETA)
def change_status(emu, req, issueId):
    issue = _issue(emu, issueId)
    body = req.json_object()
    if issue["type"] != "CLAIM":
        raise ApiError(400, "Only a claim's status can be changed", path="issueId",
                       polish="Zmienić można tylko status reklamacji")
    if body.get("status") not in CLAIM_DECISIONS:
        raise ApiError(400, "status must be one of %s" % "|".join(CLAIM_DECISIONS), path="status")
    if not isinstance(body.get("message"), str) or not body["message"].strip():
        raise ApiError(400, "message is required", path="message", polish="Uzasadnienie jest wymagane")
    if issue["currentState"]["status"] != "CLAIM_SUBMITTED":
        raise ApiError(403, "The claim is already decided", path="status", polish="Reklamacja jest już rozpatrzona")
    accepted = body["status"].startswith("ACCEPTED")
    issue["currentState"].update(status="CLAIM_ACCEPTED" if accepted else "CLAIM_REJECTED", statusDueDate=None)
    issue["decisionDueDate"] = None
    _desk(emu).say(issueId, "SELLER", emu.seller_login, body["message"])
    return Reply(200)


@API.route("POST", ISSUES + "/attachments", produces=JSON_BETA, consumes=JSON_BETA)
def declare_issue_attachment(emu, req):
    body = req.json_object()
    filename, size = body.get("fileName"), body.get("size")
    if not isinstance(filename, str) or not filename.strip():
        raise invalid("fileName is required", "fileName")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_ATTACHMENT_SIZE:
        raise invalid("size must be 1..%d bytes" % MAX_ATTACHMENT_SIZE, "size")
    attachment_id = _desk(emu).attachments.declare(filename, size)
    # A one-time upload URL: callers use it as given.
    return Reply(201, {"id": attachment_id}, media=JSON_BETA,
                 headers={"Location": "%s%s/attachments/%s" % (emu.url, ISSUES, attachment_id)})


@API.route("PUT", ISSUES + "/attachments/{attachmentId}", produces=JSON_BETA, consumes=ATTACHMENT_TYPES)
def upload_issue_attachment(emu, req, attachmentId):
    return _upload(req, _desk(emu).attachments.files, attachmentId, JSON_BETA)


@API.route("GET", ISSUES + "/attachments/{attachmentId}", produces=None)
def download_issue_attachment(emu, req, attachmentId):
    return _download(_desk(emu).attachments.files, attachmentId)
