"""How a relaying layer reads the answer of the layer below, and derives downstream keys."""

from __future__ import annotations

import time

import httpx
import pytest

from shared.auth import Principal
from shared.delegation import derive_key
from shared.diagnostics import WhoAmI, decode_downstream
from shared.errors import DownstreamRejected, DownstreamUnavailable


def _principal(client_id: str) -> Principal:
    return Principal(
        client_id=client_id,
        subject=client_id,
        scopes=frozenset(),
        expires_at=int(time.time()) + 60,
    )


def test_a_downstream_429_is_a_retryable_503_with_its_retry_after() -> None:
    answer = httpx.Response(429, headers={"Retry-After": "17"})
    with pytest.raises(DownstreamUnavailable) as info:
        decode_downstream(answer, WhoAmI, layer="process")
    assert info.value.status == 503
    assert info.value.headers["Retry-After"] == "17"


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_other_non_2xx_answers_are_a_bad_gateway(status: int) -> None:
    with pytest.raises(DownstreamRejected) as info:
        decode_downstream(httpx.Response(status, json={}), WhoAmI, layer="system")
    assert info.value.status == 502


def test_a_body_off_contract_is_a_bad_gateway() -> None:
    with pytest.raises(DownstreamRejected):
        decode_downstream(httpx.Response(200, json={"caller": 1}), WhoAmI, layer="system")


def test_downstream_keys_are_deterministic_per_caller_key_and_target() -> None:
    plant = _principal("plant-app")
    other = _principal("plant-app-2000")
    key = derive_key(plant, "k-1", "/system/erp/v1/connectivity-checks")
    assert key == derive_key(plant, "k-1", "/system/erp/v1/connectivity-checks")
    assert key != derive_key(plant, "k-2", "/system/erp/v1/connectivity-checks")
    assert key != derive_key(plant, "k-1", "/system/qms/v1/connectivity-checks")
    assert key != derive_key(other, "k-1", "/system/erp/v1/connectivity-checks")
    assert len(key) <= 255
