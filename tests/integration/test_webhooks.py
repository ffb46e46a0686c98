"""Webhook subscriptions and signed deliveries, against a real receiver on loopback.

The receiver is a small asyncio HTTP/1.1 server on a free 127.0.0.1 port that checks every
delivery's Standard Webhooks signature with the subscription's secret; it can be told to answer
5xx for a while, to show retries with backoff and the delivery log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from process_apis.webhooks.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    new_secret,
    sign,
    signed_headers,
    verify,
)
from shared.events import CONTAINMENT_OPENED, INSPECTION_COMPLETED, decode_event, new_event
from tests.integration._gateway import PROCESS, Gateway, assert_problem, settings

SUBSCRIPTIONS = f"{PROCESS}/ops/webhook-subscriptions"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records what it is sent and checks signatures."""

    secret: str | None = None
    failures: int = 0
    """Answer 503 to this many requests first."""
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/qgate"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await reader.readline()
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            valid = False
            if self.secret is not None:
                try:
                    verify(self.secret, headers, body)
                    valid = True
                except InvalidSignature:
                    valid = False
            status = b"200 OK"
            if request_line.startswith(b"POST") and self.failures > 0:
                self.failures -= 1
                status = b"503 Service Unavailable"
            else:
                self.received.append(Received(headers, body, valid))
                self.arrived.set()
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Receiver]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()

    async def wait_for(self, count: int, within: float = 15.0) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + within
        while len(self.received) < count:
            assert asyncio.get_running_loop().time() < deadline, self.received
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.1)
        return self.received


def test_signatures_follow_standard_webhooks() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    # The Standard Webhooks reference vector (msg id, timestamp and payload of its README).
    body = b'{"test": 2432232314}'
    assert (
        sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    headers = signed_headers(secret, "evt-1", body, now=1_700_000_000)
    verify(secret, headers, body, now=1_700_000_100)
    with pytest.raises(InvalidSignature):
        verify(secret, headers, body + b" ", now=1_700_000_100)
    with pytest.raises(InvalidSignature):
        verify(new_secret(), headers, body, now=1_700_000_100)
    with pytest.raises(InvalidSignature):
        verify(secret, headers, body, now=1_700_001_000)  # replayed too late
    with pytest.raises(InvalidSignature):
        verify(secret, {ID_HEADER: "x"}, body)


async def _subscribe(ops: Any, url: str, types: list[str]) -> dict[str, Any]:
    response = await ops.post(SUBSCRIPTIONS, {"url": url, "eventTypes": types})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_delivery_is_signed_sent_once_and_logged() -> None:
    receiver = Receiver()
    async with receiver.running(), Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            created = await _subscribe(ops, receiver.url, [CONTAINMENT_OPENED])
            receiver.secret = created["secret"]
            assert created["secret"].startswith("whsec_")
            listed = await ops.ok(SUBSCRIPTIONS)
            assert [s["subscriptionId"] for s in listed["items"]] == [created["subscriptionId"]]
            assert "secret" not in listed["items"][0]  # shown once, at creation only

            webhooks = gw.replicas[0].state["webhooks"]
            event = new_event(CONTAINMENT_OPENED, "/test", {"containmentId": "CNT-1"})
            other = new_event(INSPECTION_COMPLETED, "/test", {"inspectionId": "INSP-1"})
            for delivered in (event, event, other):  # a redelivered event and one not wanted
                await webhooks.on_event(delivered)
            (got,) = await receiver.wait_for(1)
            assert got.valid
            assert got.headers[ID_HEADER] == event.id
            assert got.headers["content-type"] == "application/cloudevents+json"
            assert decode_event(got.body) == event
            assert int(got.headers[TIMESTAMP_HEADER]) <= int(datetime.now(UTC).timestamp())
            assert got.headers[SIGNATURE_HEADER].startswith("v1,")

            log = await ops.ok(f"{SUBSCRIPTIONS}/{created['subscriptionId']}/deliveries")
            (entry,) = log["items"]
            assert entry["status"] == "DELIVERED"
            assert entry["attempts"] == 1
            assert entry["eventId"] == event.id
            assert entry["lastStatusCode"] == 200
            assert len(receiver.received) == 1


async def test_a_failing_receiver_is_retried_with_backoff_until_it_answers() -> None:
    receiver = Receiver(failures=2)
    async with receiver.running(), Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            created = await _subscribe(ops, receiver.url, [])
            receiver.secret = created["secret"]
            event = new_event(CONTAINMENT_OPENED, "/test", {"containmentId": "CNT-2"})
            await gw.replicas[0].state["webhooks"].on_event(event)
            log_url = f"{SUBSCRIPTIONS}/{created['subscriptionId']}/deliveries"
            first = (await ops.ok(log_url))["items"][0]
            assert first["status"] == "RETRYING"
            assert first["lastStatusCode"] == 503
            assert first["nextAttemptAt"] is not None
            (got,) = await receiver.wait_for(1)
            assert got.valid
            assert got.headers[ID_HEADER] == event.id
            entry = (await ops.ok(log_url))["items"][0]
            while entry["status"] != "DELIVERED":
                await asyncio.sleep(0.05)
                entry = (await ops.ok(log_url))["items"][0]
            assert entry["attempts"] == 3


async def test_subscriptions_are_managed_by_operations_only() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops, gw.caller("quality-engineer") as engineer:
            refused = await engineer.post(SUBSCRIPTIONS, {"url": "https://hooks.example.com/q"})
            assert_problem(refused, 403, "insufficient-scope")
            bad = await ops.post(SUBSCRIPTIONS, {"url": "ftp://x", "eventTypes": ["nope"]})
            problem = assert_problem(bad, 422, "validation-failed")
            assert {e["location"] for e in problem["errors"]} >= {"body.url"}
            created = await _subscribe(ops, "https://hooks.example.com/q", [])
            sub_id = created["subscriptionId"]
            response = await ops.http.delete(
                f"{SUBSCRIPTIONS}/{sub_id}", headers=ops.headers("delete-1")
            )
            assert response.status_code == 204, response.text
            again = await ops.http.delete(
                f"{SUBSCRIPTIONS}/{sub_id}", headers=ops.headers("delete-2")
            )
            assert_problem(again, 404, "not-found")
            assert (await ops.ok(SUBSCRIPTIONS))["items"] == []
            # The log of a deleted subscription stays readable.
            assert (await ops.ok(f"{SUBSCRIPTIONS}/{sub_id}/deliveries"))["items"] == []
            audit = await ops.ok(
                f"{PROCESS}/audit", entityType="WebhookSubscription", entityId=sub_id
            )
            assert [r["action"] for r in audit["items"]] == [
                "webhook-subscription.created",
                "webhook-subscription.deleted",
            ]
            assert msgspec.json.encode(audit).find(created["secret"].encode()) == -1
