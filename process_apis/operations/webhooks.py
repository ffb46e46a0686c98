"""``/process/v1/ops/webhook-subscriptions``: manage webhook subscriptions and read their
delivery logs (scope ``qgate.ops``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from litestar import Request, Response, delete, get, post
from litestar.params import JSONBody, ParameterKwarg

from process_apis._api import Webhooks
from process_apis.webhooks.models import (
    DELIVERY_ID_PATTERN,
    SUBSCRIPTION_ID_PATTERN,
    DeliveryPage,
    SubscriptionPage,
    WebhookSubscription,
    WebhookSubscriptionCreate,
    WebhookSubscriptionCreated,
)
from shared.errors import InvalidCursor
from shared.params import DEFAULT_PAGE_SIZE, Cursor, Limit
from shared.platform import verified_principal
from shared.routes import IDEMPOTENT, PAGED, READ, WRITE, IdempotencyKey, problems, requires

__all__ = ["TAG", "handlers"]

TAG: Final = "Webhooks"
SubscriptionPath = Annotated[
    str,
    ParameterKwarg(
        description="The subscription's id.",
        pattern=SUBSCRIPTION_ID_PATTERN,
        min_length=24,
        max_length=24,
    ),
]


def _check_cursor(cursor: str | None, pattern: str) -> None:
    if cursor is not None and re.match(pattern, cursor) is None:
        raise InvalidCursor("The cursor is not one this list issued.")


@get(
    "/webhook-subscriptions",
    operation_id="listWebhookSubscriptions",
    summary="List active webhook subscriptions, oldest first",
    tags=[TAG],
    security=requires("qgate.ops"),
    responses=problems(READ, PAGED),
)
async def list_webhook_subscriptions(
    webhooks: Webhooks, cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE
) -> SubscriptionPage:
    _check_cursor(cursor, SUBSCRIPTION_ID_PATTERN)
    found = await webhooks.store.subscriptions(after=cursor, limit=limit + 1)
    page = found[:limit]
    return SubscriptionPage(
        items=[s.view() for s in page],
        next_cursor=page[-1].subscription_id if len(found) > limit else None,
    )


@post(
    "/webhook-subscriptions",
    operation_id="createWebhookSubscription",
    summary="Subscribe a URL to qgate events; the signing secret is shown this once",
    description=(
        "Deliveries are POSTed as CloudEvents JSON with Standard Webhooks headers: "
        "`webhook-id` (the event id, the same on every retry), `webhook-timestamp` and "
        "`webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the "
        "secret's key). A receiver that does not answer 2xx is retried with backoff; every "
        "attempt is in the delivery log. `eventTypes` empty: every event type."
    ),
    tags=[TAG],
    security=requires("qgate.ops"),
    responses=problems(WRITE),
    status_code=201,
    opt=IDEMPOTENT,
)
async def create_webhook_subscription(
    request: Request[Any, Any, Any],
    webhooks: Webhooks,
    data: JSONBody[WebhookSubscriptionCreate],
    idempotency_key: IdempotencyKey,
) -> Response[WebhookSubscriptionCreated]:
    created = await webhooks.subscribe(data, verified_principal(request))
    return Response(created, status_code=201)


@delete(
    "/webhook-subscriptions/{subscription_id:str}",
    operation_id="deleteWebhookSubscription",
    summary="Stop delivering to a subscription (its delivery log stays readable)",
    tags=[TAG],
    security=requires("qgate.ops"),
    responses=problems(WRITE, 404),
    status_code=204,
    opt=IDEMPOTENT,
)
async def delete_webhook_subscription(
    request: Request[Any, Any, Any],
    webhooks: Webhooks,
    subscription_id: SubscriptionPath,
    idempotency_key: IdempotencyKey,
) -> None:
    await webhooks.unsubscribe(subscription_id, verified_principal(request))


@get(
    "/webhook-subscriptions/{subscription_id:str}",
    operation_id="getWebhookSubscription",
    summary="Get a webhook subscription (without its secret)",
    tags=[TAG],
    security=requires("qgate.ops"),
    responses=problems(READ, 404),
)
async def get_webhook_subscription(
    webhooks: Webhooks, subscription_id: SubscriptionPath
) -> WebhookSubscription:
    return (await webhooks.get(subscription_id)).view()


@get(
    "/webhook-subscriptions/{subscription_id:str}/deliveries",
    operation_id="listWebhookDeliveries",
    summary="A subscription's delivery log: every delivery, its attempts and last answer",
    tags=[TAG],
    security=requires("qgate.ops"),
    responses=problems(READ, PAGED, 404),
)
async def list_webhook_deliveries(
    webhooks: Webhooks,
    subscription_id: SubscriptionPath,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> DeliveryPage:
    _check_cursor(cursor, DELIVERY_ID_PATTERN)
    await webhooks.get(subscription_id)
    found = await webhooks.store.deliveries(subscription_id, after=cursor, limit=limit + 1)
    page = found[:limit]
    return DeliveryPage(
        items=page, next_cursor=page[-1].delivery_id if len(found) > limit else None
    )


handlers: Final = [
    list_webhook_subscriptions,
    create_webhook_subscription,
    get_webhook_subscription,
    delete_webhook_subscription,
    list_webhook_deliveries,
]
