"""The Token aggregate: a client's credential, with a role, and its issue and revocation."""

from __future__ import annotations

import re
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from laino.orchestrator.domain.jobs import NAMESPACE

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,62}")


class Role(StrEnum):
    """What a token may do; each role may do what the ones before it may."""

    READ = "read"
    SUBMIT = "submit"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


class Token(Aggregate):
    """Only a hash of the secret is kept; issuing again replaces the secret."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE, f"token:{name}")

    @event("Issued")
    def __init__(
        self,
        name: str,
        role: str,
        providers: list[str],
        expires_at: float,
        secret_hash: str,
        issued_by: str,
    ):
        check_name(name)
        self.name = name
        self._set(role, providers, expires_at, secret_hash, issued_by)

    def reissue(
        self, role: str, providers: list[str], expires_at: float, secret_hash: str, by: str
    ) -> None:
        """A new secret (and terms) under the same name; the old secret stops working."""
        self._reissued(role, providers, expires_at, secret_hash, by)

    @event("Reissued")
    def _reissued(
        self, role: str, providers: list[str], expires_at: float, secret_hash: str, by: str
    ) -> None:
        self._set(role, providers, expires_at, secret_hash, by)

    def _set(
        self, role: str, providers: list[str], expires_at: float, secret_hash: str, by: str
    ) -> None:
        self.role = Role(role)
        self.providers = list(providers)
        self.expires_at = expires_at
        self.secret_hash = secret_hash
        self.issued_by = by
        self.revoked_at = 0.0

    def revoke(self, now: float, by: str) -> None:
        if not self.revoked_at:
            self._revoked(now, by)

    @event("Revoked")
    def _revoked(self, now: float, by: str) -> None:
        self.revoked_at = now
        self.revoked_by = by

    def in_force(self, now: float) -> bool:
        return not self.revoked_at and not (self.expires_at and now >= self.expires_at)


def check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise InvalidTokenName(
            f"token name {name!r}: 1 to 63 letters, digits, '.', '_', '@' or '-',"
            " starting with a letter or digit"
        )


class InvalidTokenName(ValueError):
    """A token name laino cannot keep."""
