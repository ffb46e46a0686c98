"""Examples for the operations contract: real instances of the Structs their schemas describe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from process_apis.containment.models import CaseStatus
from process_apis.dispositions.models import DispositionStatus
from process_apis.operations.models import (
    ConsumerGroups,
    ConsumerView,
    DeadLetterPage,
    DeadLetterView,
    EventStream,
    GroupView,
    Replay,
    StreamView,
)
from process_apis.operations.summary import (
    ContainmentFigure,
    DispositionFigure,
    OperationsSummary,
)
from process_apis.webhooks.models import (
    DeliveryPage,
    DeliveryStatus,
    SubscriptionPage,
    WebhookDelivery,
    WebhookSubscription,
    WebhookSubscriptionCreated,
)
from shared.audit import AuditCaller
from shared.events import CONTAINMENT_OPENED, INSPECTION_COMPLETED, QUALITY_STREAM, CloudEvent

__all__ = ["operations_examples"]

_AT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def operations_examples() -> dict[str, Any]:
    """Examples by schema name."""
    event = CloudEvent(
        id="0b7b8a52-6f1e-5d0c-9a57-3f6d2b1c0a9e",
        source="/process/v1/inspections",
        type=INSPECTION_COMPLETED,
        subject="LOT-1000-0022",
        time=_AT,
        data={"inspectionId": "INSP-000022", "lotId": "LOT-1000-0022", "result": "FAIL"},
        correlationid="5f0c6c1e-8f2a-4b7e-9a57-3f6d2b1c0a9e",
    )
    letter = DeadLetterView(
        dead_letter_id="1795800879968-0",
        stream=QUALITY_STREAM,
        group="containment-saga",
        entry_id="1795800871234-0",
        event=event,
        reason="DownstreamUnavailable: A system qgate depends on is unavailable",
        deliveries=5,
        failed_at=_AT,
    )
    group = GroupView(
        stream=QUALITY_STREAM,
        group="containment-saga",
        pending=1,
        lag=0,
        last_delivered_id="1795800879968-0",
        oldest_pending_age_seconds=4.2,
        consumers=[ConsumerView(name="process-1-4711-a1b2c3", pending=1, idle_seconds=0.8)],
    )
    subscription = WebhookSubscription(
        subscription_id="WHS-019A6B2C3D4E5F607182",
        url="https://hooks.example.com/qgate",
        event_types=[CONTAINMENT_OPENED],
        description="QA alerts",
        created_at=_AT,
        created_by=AuditCaller(client_id="operations", subject="operations"),
    )
    delivery = WebhookDelivery(
        delivery_id="WHD-019A6B2C3D4E5F607183",
        version=2,
        subscription_id=subscription.subscription_id,
        event_id="0b7b8a52-6f1e-5d0c-9a57-3f6d2b1c0a9f",
        event_type=CONTAINMENT_OPENED,
        status=DeliveryStatus.DELIVERED,
        attempts=1,
        last_status_code=204,
        created_at=_AT,
        delivered_at=_AT,
    )
    structs: dict[str, msgspec.Struct] = {
        "CloudEvent": event,
        "DeadLetterView": letter,
        "DeadLetterPage": DeadLetterPage(items=[letter]),
        "Replay": Replay(stream=EventStream.QUALITY, replayed=1),
        "GroupView": group,
        "ConsumerGroups": ConsumerGroups(
            groups=[group],
            streams=[StreamView(stream=QUALITY_STREAM, length=1250, dead_letters=1)],
        ),
        "WebhookSubscription": subscription,
        "WebhookSubscriptionCreated": WebhookSubscriptionCreated(
            **msgspec.structs.asdict(subscription),
            secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # noqa: S106 - an example
        ),
        "SubscriptionPage": SubscriptionPage(items=[subscription]),
        "WebhookDelivery": delivery,
        "DeliveryPage": DeliveryPage(items=[delivery]),
        "OperationsSummary": OperationsSummary(
            dispositions=[
                DispositionFigure(
                    status=DispositionStatus.PENDING_APPROVAL, count=0, oldest_age_seconds=0
                ),
                DispositionFigure(
                    status=DispositionStatus.PENDING_ERP, count=2, oldest_age_seconds=312.5
                ),
                DispositionFigure(
                    status=DispositionStatus.PENDING_QMS, count=0, oldest_age_seconds=0
                ),
            ],
            streams=[StreamView(stream=QUALITY_STREAM, length=1250, dead_letters=1)],
            groups=[group],
            containments=[
                ContainmentFigure(status=CaseStatus.CONTAINING, count=1),
                ContainmentFigure(status=CaseStatus.ATTENTION, count=0),
                ContainmentFigure(status=CaseStatus.CONTAINED, count=3),
            ],
            generated_at=_AT,
        ),
    }
    return {name: msgspec.to_builtins(value) for name, value in structs.items()}
