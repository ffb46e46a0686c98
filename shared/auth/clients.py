"""OAuth clients known to the development issuer, and the demo set of the embedded default."""

from __future__ import annotations

import msgspec

from shared.auth.scopes import DELEGATION_SCOPE, SCOPES

__all__ = ["ClientConfig", "demo_clients"]


class ClientConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One client-credentials client: its secret, the scopes it may be granted and its tenancy."""

    client_id: str
    client_secret: str
    scopes: list[str]
    description: str = ""
    supplier_id: str | None = None  # partner clients: the supplier whose data it may see
    plants: list[str] | None = None  # plant clients: the plants whose data it may see
    tier: str = "standard"  # rate limit tier
    users: list[str] | None = None
    """Dev issuer only: people this app may ask a token for (``subject``), standing in for
    the identity provider's user login; the token's ``sub`` is then the person, not the app."""


def _demo(
    client_id: str,
    scopes: list[str],
    description: str,
    *,
    supplier_id: str | None = None,
    plants: list[str] | None = None,
    tier: str = "standard",
    users: list[str] | None = None,
) -> ClientConfig:
    # DEMO ONLY: the secret is derived from the client id and is public knowledge. These clients
    # exist for the embedded default and tests; production mode refuses the dev issuer.
    return ClientConfig(
        client_id=client_id,
        client_secret=f"{client_id}-secret",
        scopes=scopes,
        description=description,
        supplier_id=supplier_id,
        plants=plants,
        tier=tier,
        users=users,
    )


def demo_clients() -> list[ClientConfig]:
    """The demo clients (secrets are ``"<client_id>-secret"``: demo only, never in production)."""
    plant_scopes = ["plant.read", "plant.write"]
    partner_scopes = ["partner.read", "partner.respond"]
    clients = [
        _demo(
            "plant-app",
            plant_scopes,
            "Plant app for plant 1000",
            plants=["1000"],
            users=["a.becker", "m.novak"],
        ),
        _demo(
            "plant-app-2000",
            plant_scopes,
            "Plant app for plant 2000",
            plants=["2000"],
            users=["j.lee"],
        ),
    ]
    for n in range(1, 5):
        supplier = f"SUP-{n:04d}"
        clients.append(
            _demo(
                f"supplier-portal-{supplier.lower()}",
                partner_scopes,
                f"Supplier portal of {supplier}",
                supplier_id=supplier,
                users=[f"quality@{supplier.lower()}.example"],
            )
        )
    clients += [
        _demo(
            "experience-service",
            ["quality.read", "quality.write", "quality.audit.read", DELEGATION_SCOPE],
            "Experience layer calling the process layer",
            tier="service",
        ),
        _demo(
            "process-service",
            ["erp.read", "erp.write", "qms.read", "qms.write", DELEGATION_SCOPE],
            "Process layer calling the system layer",
            tier="service",
        ),
        _demo(
            "operations",
            [scope for scope in SCOPES if scope != DELEGATION_SCOPE],
            "Operations staff and tooling",
            tier="operations",
        ),
        _demo(
            "quality-engineer",
            ["quality.read", "quality.write"],
            "Quality engineer: records results, requests dispositions",
        ),
        _demo(
            "quality-approver",
            ["quality.read", "quality.disposition.approve", "quality.audit.read"],
            "Quality manager: the second person who approves a release of a blocked lot",
        ),
        _demo(
            "readonly-auditor",
            ["quality.read", "quality.audit.read", "erp.read", "qms.read"],
            "Read-only auditor",
        ),
    ]
    return clients
