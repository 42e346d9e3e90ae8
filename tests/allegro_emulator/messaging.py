"""The seller's message center and post-purchase issues (disputes and claims) as Allegro holds them.

Message center: one thread per buyer (interlocutor); the order a message is
about sits on the message (``relatesTo``), not on the thread. Threads are
listed by their last message, newest first: Allegro offers no date filter on
threads, so a reader keeps the newest ``lastMessageDateTime`` it saw and stops
paging at it. Every new message gets a later ``createdAt`` than the one before
(a millisecond at least), so ``after``/``before`` filters never split a tie.

Issues: no event journal either; the list shows each issue's
``chat.lastMessage`` and ``currentState``.
"""

from datetime import timedelta

from .common import iso, new_uuid, parse_iso, utcnow

MAX_TEXT = 2000
MAX_ISSUE_TEXT = 20000
MAX_ATTACHMENT_SIZE = 5 * 1024 * 1024
ATTACHMENT_TYPES = ("image/png", "image/gif", "image/bmp", "image/tiff", "image/jpeg", "application/pdf")
ISSUE_MESSAGE_TYPES = ("REGULAR", "END_REQUEST", "RETURN_REQUIRED_SELLER_LABEL", "RETURN_REQUIRED_CUSTOM",
                       "RETURN_NOT_REQUIRED")
CLAIM_DECISIONS = ("ACCEPTED_REPAIR", "ACCEPTED_REFUND", "ACCEPTED_EXCHANGE", "ACCEPTED_PARTIAL_REFUND",
                   "REJECTED_ADDITIONAL_REQUIREMENTS_NOT_COMPLETED", "REJECTED_PRODUCT_NOT_RETURNED",
                   "REJECTED_PRODUCT_DAMAGED_BY_USER", "REJECTED_PRODUCT_CONFORMS_TO_CONTRACT",
                   "REJECTED_MINOR_DEFECT", "REJECTED_OTHER", "REJECTED_CLAIM_WITHDRAWN_BY_BUYER")
OPEN_STATUSES = ("DISPUTE_ONGOING", "DISPUTE_UNRESOLVED", "CLAIM_SUBMITTED")
# Days the seller has to answer: a claim's decision (statutory 14 days), a dispute's first reply.
CLAIM_DECISION_DAYS = 14
DISPUTE_ANSWER_DAYS = 3


def mime_type(filename):
    lower = filename.lower()
    for ending, media in ((".png", "image/png"), (".gif", "image/gif"), (".bmp", "image/bmp"),
                          ((".tif", ".tiff"), "image/tiff"), ((".jpg", ".jpeg"), "image/jpeg"),
                          (".pdf", "application/pdf")):
        if lower.endswith(ending):
            return media
    return "application/octet-stream"


class Attachments:
    """Declared files (id -> {fileName, size, data, mimeType}); the data arrives with the upload."""

    def __init__(self, rng):
        self.rng = rng
        self.files = {}

    def declare(self, filename, size):
        attachment_id = new_uuid(self.rng)
        self.files[attachment_id] = {"fileName": filename, "size": size, "data": None,
                                     "mimeType": mime_type(filename)}
        return attachment_id

    def add(self, filename, data):
        """A file already uploaded (a buyer's)."""
        attachment_id = self.declare(filename, len(data))
        self.files[attachment_id].update(data=bytes(data))
        return attachment_id


class MessageCenter:
    def __init__(self, store):
        self.store = store
        self.rng = store.rng
        self.threads = {}  # id -> Thread
        self.messages = {}  # thread id -> [Message], oldest first
        self.by_id = {}  # message id -> Message
        self.attachments = Attachments(store.rng)
        self.links = {}  # message id -> [attachment id], for the download URLs
        self.base_url = ""  # the emulator's URL, for attachment URLs
        self.seller_login = "demo-seller"
        self._last = None

    def _now(self):
        now = utcnow()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # createdAt shows milliseconds
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(milliseconds=1)
        self._last = now
        return now

    def thread_of(self, login):
        for thread in self.threads.values():
            if thread["interlocutor"]["login"] == login:
                return thread
        thread = {"id": new_uuid(self.rng).replace("-", ""), "read": True, "lastMessageDateTime": None,
                  "interlocutor": {"login": login, "avatarUrl": "https://a.allegroimg.com/avatar/%s.png" % login}}
        self.threads[thread["id"]] = thread
        self.messages[thread["id"]] = []
        return thread

    def post(self, thread, text, from_buyer, order_id=None, offer_id=None, attachment_ids=(), subject=None):
        now = self._now()
        message = {
            "id": new_uuid(self.rng), "status": "DELIVERED", "type": "MESSAGE_CENTER", "createdAt": iso(now),
            "thread": {"id": thread["id"]},
            "author": {"login": thread["interlocutor"]["login"] if from_buyer else self.seller_login,
                       "isInterlocutor": from_buyer},
            "text": text, "subject": subject,
            "relatesTo": {"offer": {"id": offer_id} if offer_id else None},
            "hasAdditionalAttachments": False, "attachments": [],
        }
        if order_id:  # "order" is not nullable: left out when the message names none
            message["relatesTo"]["order"] = {"id": order_id}
        self.links[message["id"]] = list(attachment_ids)
        self.messages[thread["id"]].append(message)
        self.by_id[message["id"]] = message
        thread["lastMessageDateTime"] = message["createdAt"]
        if from_buyer:
            thread["read"] = False
        return message

    def served(self, message):
        """The message with its attachments' download URLs."""
        files = self.attachments.files
        attachments = [{"fileName": files[a]["fileName"], "mimeType": files[a]["mimeType"], "status": "SAFE",
                        "url": "%s/messaging/message-attachments/%s" % (self.base_url, a)}
                       for a in self.links.get(message["id"], ())]
        return dict(message, attachments=attachments)

    def listed_threads(self):
        return sorted(self.threads.values(), key=lambda t: t["lastMessageDateTime"] or "", reverse=True)

    def thread_messages(self, thread_id, after=None, before=None):
        """Newest first, as Allegro lists them; ``after``/``before`` exclusive."""
        found = self.messages[thread_id]
        if after is not None:
            found = [m for m in found if parse_iso(m["createdAt"]) > after]
        if before is not None:
            found = [m for m in found if parse_iso(m["createdAt"]) < before]
        return list(reversed(found))

    def delete(self, message_id):
        message = self.by_id.pop(message_id)
        self.messages[message["thread"]["id"]].remove(message)


class IssueDesk:
    def __init__(self, store):
        self.store = store
        self.rng = store.rng
        self.issues = {}  # id -> PostPurchaseIssue (chat summary kept up to date)
        self.chats = {}  # id -> [PostPurchaseIssueChatMessage], oldest first
        self.attachments = Attachments(store.rng)
        self.closed_chats = set()  # issue ids whose chat takes no message (409)
        self.base_url = ""
        self._numbers = 0

    def open(self, order, kind="DISPUTE", text="The parcel did not arrive.", status=None, **overrides):
        now = utcnow()
        claim = kind == "CLAIM"
        item = order["lineItems"][0]
        issue_id = new_uuid(self.rng)
        self._numbers += 1
        due = iso(now + timedelta(days=CLAIM_DECISION_DAYS if claim else DISPUTE_ANSWER_DAYS))
        first = {"id": new_uuid(self.rng), "text": text, "attachments": [],
                 "author": {"login": order["buyer"]["login"], "role": "BUYER"}, "createdAt": iso(now)}
        issue = {
            "id": issue_id, "type": kind,
            "referenceNumber": "%04d/%d" % (self._numbers, now.year) if claim else None,
            "decisionDueDate": due if claim else None,
            "openedDate": iso(now), "subject": None if claim else "NO_PRODUCT_RECEIVED",
            "buyer": {"id": order["buyer"]["id"], "login": order["buyer"]["login"]},
            "checkoutForm": {"id": order["id"], "createdAt": order["lineItems"][0]["boughtAt"]},
            "currentState": {"status": status or ("CLAIM_SUBMITTED" if claim else "DISPUTE_ONGOING"),
                             "statusDueDate": due, "returnRequired": None, "chatActive": True},
            "chat": {"lastMessage": {"status": "NEW", "createdAt": first["createdAt"]}, "messagesCount": 1,
                     "initialMessage": dict(first, author={"login": first["author"]["login"], "role": "BUYER"})},
            "expectations": [{"name": "REFUND" if claim else None,
                              "refund": dict(order["summary"]["totalToPay"]) if claim else None}],
            "description": text,
            "offer": {"id": (item.get("offer") or {}).get("id"), "quantity": item["quantity"]},
            "product": None,
            "reason": {"type": "DEFECT_FOUND_DURING_USE", "description": text} if claim else None,
            "right": "COMPLAINT" if claim else None,
            "attachments": [],
        }
        for key in ("product", "reason", "right"):  # not nullable: a dispute leaves them out
            if issue[key] is None:
                del issue[key]
        issue.update(overrides)
        self.issues[issue_id] = issue
        self.chats[issue_id] = [first]
        return issue

    def say(self, issue_id, role, login, text, attachment_ids=()):
        files = self.attachments.files
        message = {"id": new_uuid(self.rng), "text": text,
                   "attachments": [{"fileName": files[a]["fileName"],
                                    "url": "%s/sale/issues/attachments/%s" % (self.base_url, a)}
                                   for a in attachment_ids],
                   "author": {"login": login, "role": role}, "createdAt": iso(utcnow())}
        chat = self.chats[issue_id]
        chat.append(message)
        summary = self.issues[issue_id]["chat"]
        sellers = any(m["author"]["role"] == "SELLER" for m in chat)
        status = {"SELLER": "SELLER_REPLIED", "BUYER": "BUYER_REPLIED" if sellers else "NEW"}.get(
            role, "ALLEGRO_ADVISOR_REPLIED")
        summary.update(lastMessage={"status": status, "createdAt": message["createdAt"]},
                       messagesCount=len(chat))
        return message

    def listed(self, order_id=None, statuses=()):
        found = [i for i in self.issues.values()
                 if (not order_id or i["checkoutForm"]["id"] == order_id)
                 and (not statuses or i["currentState"]["status"] in statuses)]
        return list(reversed(sorted(found, key=lambda i: i["openedDate"])))  # the last opened first, ties too
