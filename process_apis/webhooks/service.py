"""Webhook subscriptions and signed deliveries of qgate's events.

The bus delivers every event of the ``quality`` and ``containment`` streams to the consumer
group ``webhooks`` (:meth:`WebhookService.on_event`). For each active subscription that wants
the event's type a delivery is stored once (per subscription and event id: a redelivered event
adds nothing) and sent at once; a receiver that does not answer 2xx is tried again with
exponential backoff and jitter (``QGATE_CONTAINMENT_WEBHOOK_*``) by the worker, every attempt
recorded in the subscription's delivery log, until DELIVERED or, out of attempts, FAILED. One
subscriber being down never holds back the others.

The body is the CloudEvent (``application/cloudevents+json``); the headers follow Standard
Webhooks (:mod:`process_apis.webhooks.signing`): ``webhook-id`` is the event id, the same on
every attempt, so a receiver that got an attempt whose answer was lost drops the repeat.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx
import msgspec

from process_apis.webhooks.models import (
    DeliveryStatus,
    StoredSubscription,
    WebhookDelivery,
    WebhookSubscriptionCreate,
    WebhookSubscriptionCreated,
    new_delivery_id,
    new_subscription_id,
)
from process_apis.webhooks.signing import new_secret, signed_headers
from process_apis.webhooks.store import StaleDelivery, WebhookStore
from shared.audit import AuditCaller, AuditEntry, AuditTrail
from shared.auth import Principal
from shared.delegation import chain_for
from shared.errors import NotFound, ValidationFailed
from shared.errors._tree import FieldError
from shared.events import CloudEvent, encode_event
from shared.http import build_http_client
from shared.settings import ContainmentSettings, Mode

__all__ = ["WebhookService"]

_log = logging.getLogger("qgate.process.webhooks")
_CONTENT_TYPE: Final = "application/cloudevents+json"
_BATCH: Final = 50


class WebhookService:
    def __init__(
        self,
        *,
        store: WebhookStore,
        audit: AuditTrail,
        policy: ContainmentSettings,
        mode: Mode = Mode.DEV,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.audit = audit
        self.policy = policy
        self._mode = mode
        self._clock = clock
        self._http = build_http_client(
            base_url="", transport=transport, timeout=policy.webhook_timeout_seconds
        )
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    async def aclose(self) -> None:
        await self._http.aclose()

    # Subscriptions

    async def subscribe(
        self, body: WebhookSubscriptionCreate, principal: Principal
    ) -> WebhookSubscriptionCreated:
        """A new subscription and its secret (the only time the secret is shown)."""
        if self._mode is Mode.PROD and not body.url.startswith("https://"):
            raise ValidationFailed(
                "Webhook URLs must use https in production mode.",
                errors=[FieldError(location="body.url", message="must start with https://")],
            )
        callers = [AuditCaller.of(c) for c in chain_for(principal)]
        stored = StoredSubscription(
            subscription_id=new_subscription_id(),
            url=body.url,
            event_types=sorted(set(body.event_types)),
            description=body.description,
            created_at=self._clock(),
            created_by=callers[0],
            secret=new_secret(),
        )
        await self.store.add_subscription(stored)
        await self._audit(
            stored.subscription_id,
            "webhook-subscription.created",
            callers,
            after={"url": stored.url, "eventTypes": stored.event_types},
        )
        return WebhookSubscriptionCreated(
            subscription_id=stored.subscription_id,
            url=stored.url,
            event_types=stored.event_types,
            description=stored.description,
            created_at=stored.created_at,
            created_by=stored.created_by,
            secret=stored.secret,
        )

    async def unsubscribe(self, subscription_id: str, principal: Principal) -> None:
        if not await self.store.deactivate(subscription_id):
            raise NotFound(f"No webhook subscription {subscription_id}.")
        callers = [AuditCaller.of(c) for c in chain_for(principal)]
        await self._audit(subscription_id, "webhook-subscription.deleted", callers)

    async def get(self, subscription_id: str) -> StoredSubscription:
        found = await self.store.subscription(subscription_id)
        if found is None:
            raise NotFound(f"No webhook subscription {subscription_id}.")
        return found

    # Deliveries

    async def on_event(self, event: CloudEvent) -> None:
        """The bus handler (group ``webhooks``): store one delivery per interested subscription,
        then try each once. Store failures raise, so the bus delivers the event again."""
        payload = encode_event(event)
        now = self._clock()
        queued: list[WebhookDelivery] = []
        after: str | None = None
        while True:
            page = await self.store.subscriptions(after=after, limit=200)
            for subscription in page:
                if subscription.wants(event.type):
                    queued.append(
                        await self.store.enqueue(
                            WebhookDelivery(
                                delivery_id=new_delivery_id(),
                                subscription_id=subscription.subscription_id,
                                event_id=event.id,
                                event_type=event.type,
                                created_at=now,
                                next_attempt_at=now + timedelta(seconds=self.policy.lease_seconds),
                            ),
                            payload,
                        )
                    )
            if len(page) < 200:
                break
            after = page[-1].subscription_id
        for delivery in queued:
            if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING):
                await self.deliver(delivery.delivery_id)

    async def run_due(self) -> int:
        """One worker round: send every delivery that is due; how many were due."""
        due = await self.store.due(self._clock(), limit=_BATCH)
        for delivery_id in due:
            try:
                await self.deliver(delivery_id)
            except Exception:
                _log.exception("webhook delivery %s failed unexpectedly", delivery_id)
        return len(due)

    async def deliver(self, delivery_id: str) -> WebhookDelivery | None:
        """Send one delivery if this replica can lease it and it is still to be sent."""
        if not await self.store.lease(delivery_id, self.replica, self.policy.lease_seconds):
            return None
        try:
            found = await self.store.delivery(delivery_id)
            if found is None:
                return None
            delivery, payload = found
            if delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
                return delivery
            subscription = await self.store.subscription(delivery.subscription_id)
            if subscription is None or not subscription.active:
                return await self._save(
                    delivery,
                    status=DeliveryStatus.FAILED,
                    last_error="The subscription was deleted.",
                    next_attempt_at=None,
                )
            return await self._attempt(subscription, delivery, payload)
        except StaleDelivery:
            return None
        finally:
            await self.store.unlease(delivery_id, self.replica)

    async def _attempt(
        self, subscription: StoredSubscription, delivery: WebhookDelivery, payload: bytes
    ) -> WebhookDelivery:
        attempts = delivery.attempts + 1
        headers = {
            "content-type": _CONTENT_TYPE,
            "user-agent": "qgate-webhooks/1",
            **signed_headers(subscription.secret, delivery.event_id, payload),
        }
        status_code: int | None = None
        try:
            response = await self._http.post(subscription.url, content=payload, headers=headers)
            status_code = response.status_code
            error = None if 200 <= status_code < 300 else f"the receiver answered {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: the receiver could not be reached"
        if error is None:
            return await self._save(
                delivery,
                attempts=attempts,
                status=DeliveryStatus.DELIVERED,
                last_status_code=status_code,
                last_error=None,
                next_attempt_at=None,
                delivered_at=self._clock(),
            )
        if attempts >= self.policy.webhook_max_attempts:
            _log.error("webhook delivery %s failed for good: %s", delivery.delivery_id, error)
            return await self._save(
                delivery,
                attempts=attempts,
                status=DeliveryStatus.FAILED,
                last_status_code=status_code,
                last_error=f"Gave up after {attempts} attempts; last: {error}",
                next_attempt_at=None,
            )
        delay = self._delay(attempts)
        _log.warning(
            "webhook delivery %s attempt %d: %s; next in %.1f s",
            delivery.delivery_id,
            attempts,
            error,
            delay,
        )
        return await self._save(
            delivery,
            attempts=attempts,
            status=DeliveryStatus.RETRYING,
            last_status_code=status_code,
            last_error=error,
            next_attempt_at=self._clock() + timedelta(seconds=delay),
        )

    def _delay(self, attempts: int) -> float:
        ceiling = min(
            self.policy.webhook_retry_max_seconds,
            self.policy.webhook_retry_base_seconds * math.pow(2, max(attempts - 1, 0)),
        )
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    async def _save(self, delivery: WebhookDelivery, **changes: object) -> WebhookDelivery:
        updated = msgspec.structs.replace(delivery, version=delivery.version + 1, **changes)
        await self.store.save(updated)
        return updated

    async def _audit(
        self,
        subscription_id: str,
        action: str,
        callers: list[AuditCaller],
        *,
        after: dict[str, object] | None = None,
    ) -> None:
        await self.audit.append(
            AuditEntry(
                action=action,
                entity_type="WebhookSubscription",
                entity_id=subscription_id,
                actor=callers[-1],
                on_behalf_of=callers[:-1],
                after=dict(after or {}),
            )
        )
