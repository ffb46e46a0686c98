"""Choosing the audit trail from the settings."""

from __future__ import annotations

from shared.audit._base import AuditTrail
from shared.audit._memory import MemoryAuditTrail
from shared.audit._redis import RedisAuditTrail
from shared.settings import Settings, StoreKind

__all__ = ["build_audit_trail"]


def build_audit_trail(settings: Settings) -> AuditTrail:
    """The trail on Redis (``settings.redis_url``) when ``settings.store`` is redis, else in
    memory. The memory trail lives and dies with this process and is not shared between
    replicas or layers in separate processes: production needs the Redis store."""
    if settings.store is StoreKind.REDIS:
        return RedisAuditTrail.from_url(settings.redis_url)
    return MemoryAuditTrail()
