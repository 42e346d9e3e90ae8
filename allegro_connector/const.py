"""The connector's vocabulary, each word defined once: Allegro's statuses and
the names sellers know them by, marketplaces and their currencies, the
"other" carrier, job channels and identity keys. Plain Python, no ORM.

Allegro's own codes (the enums of its API) are the client's; this module
gives them their labels and the rules the connector applies to them.
"""

from .allegro_api.client import CARRIER_OTHER, FULFILLMENT_STATUSES as FULFILLMENT_CODES
from .allegro_api.client import RETURN_REJECTION_CODES
from .allegro_api.client import SELLER_FULFILLMENT_STATUSES as SELLER_SETTABLE_CODES

# Checkout form statuses (a status Allegro adds later is kept in the raw data and flagged).
ORDER_STATUSES = [
    ("BOUGHT", "Bought"),
    ("FILLED_IN", "Checkout filled in"),
    ("READY_FOR_PROCESSING", "Ready for processing"),
    ("CANCELLED", "Cancelled"),
]
# The payment statuses sellers know from their Allegro tools.
PAYMENT_STATUSES = [
    ("paid", "Paid"),
    ("cod", "Cash on delivery"),
    ("unpaid", "Unpaid"),
    ("to_verify", "To verify"),
]

_FULFILLMENT_LABELS = {
    "NEW": "New",
    "PROCESSING": "Processing",
    "READY_FOR_SHIPMENT": "Ready for shipment",
    "READY_FOR_PICKUP": "Ready for pickup",
    "SENT": "Sent",
    "PICKED_UP": "Picked up",
    "CANCELLED": "Cancelled",
    "SUSPENDED": "Suspended",
    "RETURNED": "Returned",
}
# Allegro's fulfillment statuses, as a selection.
FULFILLMENT_STATUSES = [(code, _FULFILLMENT_LABELS[code]) for code in FULFILLMENT_CODES]
# Those a seller may set (Allegro alone sets RETURNED).
SELLER_SETTABLE_STATUSES = [(code, _FULFILLMENT_LABELS[code]) for code in SELLER_SETTABLE_CODES]
# Progress of an order through fulfillment: an automatic update never moves an
# order back (e.g. PROCESSING after the seller already marked it SENT).
STATUS_RANK = {
    "NEW": 0, "PROCESSING": 1, "READY_FOR_SHIPMENT": 2, "READY_FOR_PICKUP": 3, "SENT": 3, "PICKED_UP": 4,
    "SUSPENDED": 1, "CANCELLED": 5, "RETURNED": 5,
}
# The simple statuses sellers know from their Allegro tools, and which
# fulfillment status shows as which.
SELLER_STATUSES = [
    ("new", "New"),
    ("in_progress", "In progress"),
    ("to_ship", "To be shipped"),
    ("shipped", "Shipped"),
    ("cancelled", "Cancelled"),
    ("closed", "Closed"),
]
SELLER_STATUS_OF = {
    "NEW": "new", "PROCESSING": "in_progress", "SUSPENDED": "in_progress",
    "READY_FOR_SHIPMENT": "to_ship", "READY_FOR_PICKUP": "shipped", "SENT": "shipped", "PICKED_UP": "shipped",
    "CANCELLED": "cancelled", "RETURNED": "cancelled",
}

MARKETPLACES = [
    ("allegro-pl", "allegro.pl"),
    ("allegro-cz", "allegro.cz"),
    ("allegro-sk", "allegro.sk"),
    ("allegro-hu", "allegro.hu"),
]
MARKETPLACE_CURRENCIES = {
    "allegro-pl": "PLN",
    "allegro-cz": "CZK",
    "allegro-sk": "EUR",
    "allegro-hu": "HUF",
}

# The carrier code of a shipment whose carrier Allegro does not list (its name goes along).
OTHER_CARRIER = CARRIER_OTHER

# queue_job channels: one kind of work cannot starve the others.
CHANNEL_UPDATES = "root.allegro.update"
CHANNEL_INVOICES = "root.allegro.invoice"
CHANNEL_IMPORT = "root.allegro.import"
CHANNEL_OFFERS = "root.allegro.offers"
# Identity keys: the same work is never queued twice.
KEY_UPDATE = "allegro.update:%d"
KEY_IMPORT = "allegro.import:%s:%d"
KEY_OFFERS_RECONCILE = "allegro-offers-reconcile-%d"
KEY_OFFER_EVENTS = "allegro-offer-events-%d"
KEY_STOCK_SEND = "allegro-stock-send-%d"
KEY_PARCEL = "allegro-parcel-%d"
# Buyers' messages and issues: read per shop, replies sent one job each.
CHANNEL_MESSAGES = "root.allegro.messages"
KEY_MESSAGE = "allegro-message-%d"
KEY_MESSAGES_READ = "allegro-messages-read-%d"

KEY_RETURNS = "allegro-returns-%d"

# Payment refunds: the reasons Allegro takes (``POST /payments/refunds``), as sellers name them.
REFUND_REASONS = [
    ("REFUND", "Return of goods"),
    ("COMPLAINT", "Complaint"),
    ("PRODUCT_NOT_AVAILABLE", "Product not available"),
    ("PAID_VALUE_TOO_LOW", "Paid less than due"),
    ("OVERPAID", "Overpaid"),
    ("CANCELLED_BY_BUYER", "Cancelled by the buyer"),
    ("NOT_COLLECTED", "Parcel not collected"),
]
# Refunds that give goods back (or never sent them): their items' commission may be claimed back.
CLAIMABLE_REFUND_REASONS = ("REFUND", "COMPLAINT", "PRODUCT_NOT_AVAILABLE", "CANCELLED_BY_BUYER", "NOT_COLLECTED")
# Commission refund claims: Allegro's statuses -> the claim's state in Odoo (one Odoo does not
# know stays filed, shown as Allegro sent it).
CLAIM_STATES_OF = {
    "IN_PROGRESS": "filed", "WAITING_FOR_PAYMENT_REFUND": "filed", "APPEALED": "filed",
    "GRANTED": "accepted", "REJECTED": "refused", "REJECTED_AFTER_APPEAL": "refused", "CANCELLED": "cancelled",
}
# Days after the purchase Allegro takes a commission refund claim (not in the spec: Allegro's forum).
CLAIM_WINDOW_DAYS = 45
KEY_REFUND = "allegro-refund-%d"
KEY_REFUND_CLAIM = "allegro-refund-claim-%d"

# Allegro's statuses after which a return no longer changes for the seller.
SETTLED_RETURN_STATUSES = ("FINISHED", "FINISHED_APT", "REJECTED", "COMMISSION_REFUNDED")
# Customer returns: Allegro's statuses and the buyers' reasons (free strings: one the
# connector does not know is kept as Allegro gives it).
RETURN_STATUSES = [
    ("CREATED", "Declared"),
    ("DISPATCHED", "Sent by the buyer"),
    ("IN_TRANSIT", "In transit"),
    ("DELIVERED", "Delivered"),
    ("FINISHED", "Refunded"),
    ("FINISHED_APT", "Refunded by Allegro Protect"),
    ("REJECTED", "Rejected"),
    ("COMMISSION_REFUND_CLAIMED", "Commission refund claimed"),
    ("COMMISSION_REFUNDED", "Commission refunded"),
    ("WAREHOUSE_DELIVERED", "Delivered to Allegro's warehouse"),
    ("WAREHOUSE_VERIFICATION", "Under verification"),
]
RETURN_REASONS = [
    ("NONE", "No reason given"),
    ("MISTAKE", "Bought by mistake"),
    ("TRANSPORT", "Damaged in transport"),
    ("DAMAGED", "Damaged"),
    ("NOT_AS_DESCRIBED", "Not as described"),
    ("DONT_LIKE_IT", "Does not like it"),
    ("OVERDUE_DELIVERY", "Delivered too late"),
    ("INCOMPLETE", "Incomplete"),
    ("HIDDEN_FLAW", "Hidden flaw"),
    ("OTHER_FLAW", "Other flaw"),
    ("DIFFERENT", "Different item"),
    ("COUNTERFEIT", "Counterfeit"),
    ("NOT_NEW", "Not new"),
    ("TOO_LARGE", "Too large"),
    ("TOO_SMALL", "Too small"),
    ("NOT_AS_EXPECTED", "Not as expected"),
    ("ORDERED_FOR_COMPARISON", "Ordered to compare"),
]
_REJECTION_LABELS = {
    "REFUND_REJECTED": "Refund rejected",
    "NEW_ITEM_SENT": "A new item was sent",
    "ITEM_FIXED": "The item was repaired",
    "MISSING_PART_SENT": "The missing part was sent",
    "ITEM_MISMATCH": "Not the item sold",
    "BUSINESS_PURCHASE": "A business purchase",
    "NO_RETURN_RIGHT": "No right of return",
}
# Why a seller refuses the refund of a return (POST /order/customer-returns/{id}/rejection).
REJECTION_CODES = [(code, _REJECTION_LABELS[code]) for code in RETURN_REJECTION_CODES]
