"""Who may call the client API: tokens issued, revoked and checked, each change an event."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from laino.orchestrator.domain.tokens import Role, Token, check_name
from laino.orchestrator.notifying import NotifyingApplication, notifications_after

PREFIX = "laino_"
MAX_TTL = 100 * 365 * 86400.0


@dataclass(frozen=True)
class Caller:
    """The token a call came with."""

    name: str
    role: Role
    # Empty: any provider.
    providers: tuple[str, ...] = ()

    def require(self, role: Role) -> None:
        if not self.role.allows(role):
            raise PermissionDenied(f"token {self.name!r} is {self.role}: this needs {role}")

    def host_folders(self, allowed: tuple[str, ...], *, local: bool) -> tuple[str, ...]:
        """The folders of the server's machine a process job of this caller may run in: any,
        for an admin on that machine (its owner); else those the server allows."""
        return ("/",) if local and self.role == Role.ADMIN else allowed

    def require_provider(self, provider: str) -> None:
        if self.providers and provider not in self.providers:
            allowed = ", ".join(self.providers)
            raise PermissionDenied(f"token {self.name!r} may use only {allowed}, not {provider}")


@dataclass(frozen=True)
class TokenView:
    """A token as plain data: never its secret."""

    name: str
    role: str
    providers: tuple[str, ...]
    expires_at: float
    issued_by: str
    created_at: float
    revoked_at: float


class TokensApp(NotifyingApplication):
    """Issue, revoke, list and check client tokens."""

    name = "Tokens"

    def issue(
        self, name: str, role: str, *, providers: list[str], ttl: float, by: str
    ) -> tuple[TokenView, str]:
        """Returns the token and the bearer string, which exists only in this answer."""
        check_name(name)
        if role not in Role.__members__.values():
            raise InvalidTokenRequest(f"role {role!r}: one of read, submit, admin")
        if not 0 <= ttl <= MAX_TTL:  # also refuses NaN
            raise InvalidTokenRequest(f"an expiry of {ttl} seconds is not a lifetime")
        secret = secrets.token_urlsafe(32)
        expires_at = time.time() + ttl if ttl else 0.0

        def change() -> Token:
            token = self._find(Token.create_id(name))
            if token is None:
                return Token(name, role, providers, expires_at, _hash(secret), by)
            if token.in_force(time.time()):
                raise TokenExists(f"token {name!r} exists: revoke it first, or choose another name")
            token.reissue(role, providers, expires_at, _hash(secret), by)
            return token

        issued = self.save_changed(change)
        assert issued is not None
        return _view(issued), f"{PREFIX}{issued.id.hex}_{secret}"

    def reissue(self, name: str, role: str, *, by: str) -> str:
        """A new secret for `name`, in force or not (the server's own admin token)."""
        secret = secrets.token_urlsafe(32)

        def change() -> Token:
            token = self._find(Token.create_id(name))
            if token is None:
                return Token(name, role, [], 0.0, _hash(secret), by)
            token.reissue(role, [], 0.0, _hash(secret), by)
            return token

        self.save_changed(change)
        return f"{PREFIX}{Token.create_id(name).hex}_{secret}"

    def revoke(self, name: str, *, by: str) -> TokenView:
        def change() -> Token:
            token = self._find(Token.create_id(name))
            if token is None:
                raise TokenNotFound(f"no token {name!r}")
            token.revoke(time.time(), by)
            return token

        revoked = self.save_changed(change)
        assert revoked is not None
        return _view(revoked)

    def tokens(self) -> list[TokenView]:
        # Few, and read rarely: every token that ever had an event, from the notification log.
        ids = {UUID(str(n.originator_id)) for n in notifications_after(self.notification_log, 0)}
        found: list[Token] = [self.repository.get(token_id) for token_id in ids]
        return sorted((_view(token) for token in found), key=lambda t: t.name)

    def authenticate(self, bearer: str) -> Caller:
        """A revocation anywhere counts from the next call: on a shared store, the cache looks
        for other servers' saves first (store/tailing.py)."""
        if not bearer:
            raise Unauthenticated("a token is needed: give --token or LAINO_TOKEN")
        prefix, _, rest = bearer.partition(PREFIX)
        ident, _, secret = rest.partition("_")
        try:
            token_id = UUID(hex=ident) if not prefix and len(ident) == 32 else None
        except ValueError:
            token_id = None
        token = self._find(token_id) if token_id else None
        if token is None or not hmac.compare_digest(token.secret_hash, _hash(secret)):
            raise Unauthenticated("the token is not valid")
        if token.revoked_at:
            raise Unauthenticated(f"token {token.name!r} was revoked")
        if not token.in_force(time.time()):
            raise Unauthenticated(f"token {token.name!r} expired")
        return Caller(token.name, token.role, tuple(token.providers))

    def _find(self, token_id: UUID) -> Token | None:
        try:
            token: Token = self.repository.get(token_id)
        except AggregateNotFoundError:
            return None
        return token


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _view(token: Token) -> TokenView:
    return TokenView(
        name=token.name,
        role=str(token.role),
        providers=tuple(token.providers),
        expires_at=token.expires_at,
        issued_by=token.issued_by,
        created_at=token.created_on.timestamp(),
        revoked_at=token.revoked_at,
    )


class InvalidTokenRequest(ValueError):
    """A role or lifetime laino does not know."""


class Unauthenticated(Exception):
    """No token, or one that is not valid, not in force any more, or revoked."""


class PermissionDenied(Exception):
    """The token's role or providers do not allow the call."""


class TokenExists(Exception):
    """A token in force already has that name."""


class TokenNotFound(Exception):
    """No token has that name."""
