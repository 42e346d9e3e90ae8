"""Query parameters: Python-friendly filter names -> Allegro's dotted names."""

import datetime

CHECKOUT_FORM_FILTERS = {
    "status": "status",
    "fulfillment_status": "fulfillment.status",
    "fulfillment_provider": "fulfillment.provider.id",
    "line_items_sent": "fulfillment.shipmentSummary.lineItemsSent",
    "bought_at_gte": "lineItems.boughtAt.gte",
    "bought_at_lte": "lineItems.boughtAt.lte",
    "updated_at_gte": "updatedAt.gte",
    "updated_at_lte": "updatedAt.lte",
    "payment_id": "payment.id",
    "surcharges_id": "surcharges.id",
    "delivery_method_id": "delivery.method.id",
    "buyer_login": "buyer.login",
    "marketplace_id": "marketplace.id",
    "sort": "sort",
}

OFFER_FILTERS = {
    "offer_id": "offer.id",
    "name": "name",
    "price_gte": "sellingMode.price.amount.gte",
    "price_lte": "sellingMode.price.amount.lte",
    "publication_status": "publication.status",
    "marketplace_id": "publication.marketplace",
    "selling_mode_format": "sellingMode.format",
    "external_id": "external.id",
    "category_id": "category.id",
    "product_id_empty": "product.id.empty",
    "shipping_rates_id": "delivery.shippingRates.id",
    "return_policy_id": "afterSalesServices.returnPolicy.id",
    "is_fulfillment": "isFulfillment",
    "productization_required": "productizationRequired",
    "buyable_only_by_business": "b2b.buyableOnlyByBusiness",
    "sort": "sort",
}

CUSTOMER_RETURN_FILTERS = {
    "customer_return_id": "customerReturnId",
    "order_id": "orderId",
    "buyer_email": "buyer.email",
    "buyer_login": "buyer.login",
    "offer_id": "items.offerId",
    "item_name": "items.name",
    "waybill": "parcels.waybill",
    "transporting_waybill": "parcels.transportingWaybill",
    "carrier_id": "parcels.carrierId",
    "transporting_carrier_id": "parcels.transportingCarrierId",
    "sender_phone_number": "parcels.sender.phoneNumber",
    "reference_number": "referenceNumber",
    "created_at_gte": "createdAt.gte",
    "created_at_lte": "createdAt.lte",
    "marketplace_id": "marketplaceId",
    "status": "status",
}

REFUND_FILTERS = {
    "refund_id": "id",
    "payment_id": "payment.id",
    "order_id": "order.id",
    "occurred_at_gte": "occurredAt.gte",
    "occurred_at_lte": "occurredAt.lte",
    "status": "status",
}

REFUND_CLAIM_FILTERS = {
    "offer_id": "lineItem.offer.id",
    "buyer_id": "buyer.id",
    "status": "status",
}

# Allegro parameter names accepted as given (besides the aliases' targets).
OFFER_EXTRA_PARAMS = frozenset((
    "sellingMode.priceAutomation.rule.id",
    "sellingMode.priceAutomation.rule.id.empty",
    "delivery.shippingRates.id.empty",
    "fundraisingCampaign.id",
    "fundraisingCampaign.id.empty",
))


def parse_timestamp(text):
    """An Allegro timestamp (ISO 8601, ``Z`` or an offset) as a naive UTC
    datetime, as Odoo stores them; None when empty or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def format_value(value):
    """Render one query value the way Allegro expects it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            # Naive datetimes are UTC (Odoo stores UTC).
            value = value.replace(tzinfo=datetime.timezone.utc)
        value = value.astimezone(datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (value.microsecond // 1000)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def build_filters(filters, aliases, extra_names=frozenset(), what="filter"):
    """Translate filters into query parameters.

    Keys may be aliases (``fulfillment_status``) or Allegro names
    (``fulfillment.status``).  ``None`` values are dropped, lists/tuples/sets
    become repeated parameters, datetimes become ISO 8601 UTC.

    :raises ValueError: unknown filter name (typos fail before any call).
    """
    allowed = set(aliases.values()) | set(extra_names)
    params = {}
    for key, value in (filters or {}).items():
        name = aliases.get(key, key)
        if name not in allowed:
            raise ValueError("Unknown %s %r; use one of %s" % (what, key, ", ".join(sorted(aliases))))
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            values = [format_value(v) for v in value if v is not None]
            if values:
                params[name] = values
        else:
            params[name] = format_value(value)
    return params

BILLING_ENTRY_FILTERS = {
    "marketplace_id": "marketplaceId",
    "type_id": "type.id",
    "offer_id": "offer.id",
    "order_id": "order.id",
}

PAYMENT_OPERATION_FILTERS = {
    "wallet_type": "wallet.type",
    "payment_operator": "wallet.paymentOperator",
    "payment_id": "payment.id",
    "participant_login": "participant.login",
    "group": "group",
    "marketplace_id": "marketplaceId",
    "currency": "currency",
}
