"""Webhook subscriptions and their deliveries."""

from __future__ import annotations

import enum
from typing import Annotated, Final

import msgspec

from shared.audit import AuditCaller
from shared.events import EVENT_TYPES
from shared.ids import time_ordered_id
from shared.models import QgateStruct, RequestStruct, Timestamp

__all__ = [
    "DELIVERY_ID_PATTERN",
    "SUBSCRIPTION_ID_PATTERN",
    "DeliveryPage",
    "DeliveryStatus",
    "StoredSubscription",
    "SubscriptionPage",
    "WebhookDelivery",
    "WebhookSubscription",
    "WebhookSubscriptionCreate",
    "WebhookSubscriptionCreated",
    "new_delivery_id",
    "new_subscription_id",
]

SUBSCRIPTION_ID_PATTERN: Final = r"^WHS-[0-9A-F]{20}$"
DELIVERY_ID_PATTERN: Final = r"^WHD-[0-9A-F]{20}$"


def new_subscription_id() -> str:
    return time_ordered_id("WHS")


def new_delivery_id() -> str:
    return time_ordered_id("WHD")


EventType = Annotated[
    str,
    msgspec.Meta(
        pattern="^(" + "|".join(t.replace(".", r"\.") for t in EVENT_TYPES) + ")$",
        description="A qgate event type.",
        examples=["com.qgate.containment.opened.v1"],
    ),
]
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=2000,
        # ASCII only, spelled out: JSON Schema's and Python's regex engines disagree on what
        # \s matches, and a host must be ASCII (IDNA) anyway.
        pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$",
        description="Where deliveries are POSTed (https in production mode).",
        examples=["https://hooks.example.com/qgate"],
    ),
]
SubscriptionId = Annotated[
    str, msgspec.Meta(pattern=SUBSCRIPTION_ID_PATTERN, examples=["WHS-019A6B2C3D4E5F607182"])
]
DeliveryId = Annotated[
    str, msgspec.Meta(pattern=DELIVERY_ID_PATTERN, examples=["WHD-019A6B2C3D4E5F607182"])
]


class WebhookSubscriptionCreate(RequestStruct, frozen=True, kw_only=True):
    """Subscribe a URL to qgate events."""

    url: Url
    event_types: Annotated[list[EventType], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    """Only these event types; none means every type."""
    description: Annotated[str, msgspec.Meta(max_length=200, examples=["QA alerts"])] = ""


class WebhookSubscription(QgateStruct, frozen=True, kw_only=True):
    subscription_id: SubscriptionId
    url: Url
    event_types: list[str] = msgspec.field(default_factory=list)
    description: str = ""
    created_at: Timestamp
    created_by: AuditCaller


class WebhookSubscriptionCreated(WebhookSubscription, frozen=True, kw_only=True):
    """The new subscription with its signing secret: shown this once, never again."""

    secret: Annotated[
        str,
        msgspec.Meta(
            description="`whsec_` + base64 key for the HMAC-SHA256 signatures; keep it safe.",
            examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        ),
    ]


class StoredSubscription(WebhookSubscriptionCreated, frozen=True, kw_only=True):
    """What the store keeps (the secret signs every delivery)."""

    active: bool = True

    def view(self) -> WebhookSubscription:
        return WebhookSubscription(
            subscription_id=self.subscription_id,
            url=self.url,
            event_types=self.event_types,
            description=self.description,
            created_at=self.created_at,
            created_by=self.created_by,
        )

    def wants(self, event_type: str) -> bool:
        return self.active and (not self.event_types or event_type in self.event_types)


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    RETRYING = "RETRYING"
    """The receiver did not answer 2xx (or not at all); tried again at ``nextAttemptAt``."""
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    """Out of attempts, or the subscription was deleted."""


class WebhookDelivery(QgateStruct, frozen=True, kw_only=True):
    delivery_id: DeliveryId
    version: Annotated[int, msgspec.Meta(ge=1)] = 1
    subscription_id: SubscriptionId
    event_id: str
    """Sent as ``webhook-id``: the same on every attempt."""
    event_type: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: Annotated[int, msgspec.Meta(ge=0)] = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: Timestamp | None = None
    created_at: Timestamp
    delivered_at: Timestamp | None = None


class SubscriptionPage(QgateStruct, frozen=True, kw_only=True):
    items: list[WebhookSubscription]
    next_cursor: str | None = None


class DeliveryPage(QgateStruct, frozen=True, kw_only=True):
    """A subscription's deliveries, oldest first."""

    items: list[WebhookDelivery]
    next_cursor: str | None = None
