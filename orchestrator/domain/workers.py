"""The Worker aggregate: one ephemeral worker, provisioned for one attempt of one job."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from laino.orchestrator.domain.jobs import NAMESPACE


class WorkerState(StrEnum):
    PROVISIONING = "PROVISIONING"
    REGISTERED = "REGISTERED"
    BUSY = "BUSY"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    LOST = "LOST"
    FAILED = "FAILED"


GONE = frozenset({WorkerState.TERMINATED})
# A worker whose session token still works: it registered and has not ended.
LIVE = frozenset({WorkerState.REGISTERED, WorkerState.BUSY})
# A worker in one of these states may rightly still exist at its provider.
ACCOUNTED = frozenset(
    {WorkerState.PROVISIONING, WorkerState.REGISTERED, WorkerState.BUSY, WorkerState.TERMINATING}
)
LIVE = frozenset({WorkerState.REGISTERED, WorkerState.BUSY})


def worker_name(job_id: UUID, attempt: int) -> str:
    """The provider-level name of a worker: stable across retries of the same start."""
    return f"laino-{job_id.hex[:12]}-{attempt}"


class Worker(Aggregate):
    """A worker's life, from provisioning to termination."""

    @staticmethod
    def create_id(job_id: UUID, attempt: int) -> UUID:
        return uuid5(NAMESPACE, f"worker:{job_id}:{attempt}")

    @event("Provisioning")
    def __init__(
        self, job_id: UUID, attempt: int, provider: str, name: str, token_expires_at: float
    ):
        self.job_id = job_id
        self.attempt = attempt
        self.provider = provider
        self.name = name
        self.token_expires_at = token_expires_at
        self.state = WorkerState.PROVISIONING
        self.session_hash = ""
        self.message = ""

    def register(self, session_hash: str, now: float) -> None:
        """Consumes the one-time bootstrap token (checked by the caller) for a session."""
        if self.state != WorkerState.PROVISIONING:
            raise TokenUsed("the bootstrap token was already used")
        if now > self.token_expires_at:
            raise TokenExpired("the bootstrap token has expired")
        self._registered(session_hash)

    @event("Registered")
    def _registered(self, session_hash: str) -> None:
        self.state = WorkerState.REGISTERED
        self.session_hash = session_hash

    def mark_busy(self) -> None:
        if self.state == WorkerState.REGISTERED:
            self._busy()

    @event("Busy")
    def _busy(self) -> None:
        self.state = WorkerState.BUSY

    def mark_lost(self, message: str) -> None:
        if self.state in LIVE:
            self._lost(message)

    @event("Lost")
    def _lost(self, message: str) -> None:
        self.state = WorkerState.LOST
        self.message = message

    def mark_failed(self, message: str) -> None:
        if self.state == WorkerState.PROVISIONING:
            self._failed(message)

    @event("Failed")
    def _failed(self, message: str) -> None:
        self.state = WorkerState.FAILED
        self.message = message

    def mark_terminated(self) -> None:
        if self.state not in GONE:
            self._terminated()

    @event("Terminated")
    def _terminated(self) -> None:
        self.state = WorkerState.TERMINATED

    @event("OrphanRemoved")
    def orphan_removed(self, provider_name: str, reason: str) -> None:
        """The reconciler removed what the provider still ran for this worker."""
        self.state = WorkerState.TERMINATED
        self.message = reason


class WorkerError(Exception):
    """Base class of the Worker aggregate's errors."""


class TokenUsed(WorkerError):
    """A bootstrap token can be exchanged once only."""


class TokenExpired(WorkerError):
    """A bootstrap token is good for a short time only."""
