"""The verified caller of a request, built from an access token's claims."""

from __future__ import annotations

import msgspec

__all__ = ["Caller", "Principal"]


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """One on-behalf-of context entry: the identity and tenancy of a caller further up."""

    client_id: str
    subject: str
    supplier_id: str | None = None
    plants: tuple[str, ...] = ()


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling, from a verified RFC 9068 access token.

    ``on_behalf_of`` is filled by the auth middleware from the delegation header (only for clients
    holding ``qgate.delegate``), the original caller first.
    """

    client_id: str
    subject: str
    scopes: frozenset[str]
    supplier_id: str | None = None
    plants: tuple[str, ...] = ()
    expires_at: int  # the token's exp, seconds since the epoch
    on_behalf_of: tuple[Caller, ...] = ()

    def as_caller(self) -> Caller:
        """This principal as an on-behalf-of entry for a call to the layer below."""
        return Caller(
            client_id=self.client_id,
            subject=self.subject,
            supplier_id=self.supplier_id,
            plants=self.plants,
        )
