"""The Worker aggregate: one ephemeral worker, for one attempt of one job.

A pool worker is provisioned before its job exists: it registers and waits WARM until a job
claims it, then lives like any other, and is destroyed after that one job.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from laino.orchestrator.domain.jobs import NAMESPACE


class WorkerState(StrEnum):
    PROVISIONING = "PROVISIONING"
    REGISTERED = "REGISTERED"
    # A pool worker, registered, waiting for a job to claim it.
    WARM = "WARM"
    BUSY = "BUSY"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    LOST = "LOST"
    FAILED = "FAILED"


GONE = frozenset({WorkerState.TERMINATED})
# A worker whose session token still works: it registered and has not ended.
LIVE = frozenset({WorkerState.WARM, WorkerState.REGISTERED, WorkerState.BUSY})
# A worker in one of these states may rightly still exist at its provider.
ACCOUNTED = LIVE | {WorkerState.PROVISIONING, WorkerState.TERMINATING}


def worker_name(job_id: UUID, attempt: int) -> str:
    """The provider-level name of a worker: stable across retries of the same start."""
    return f"laino-{job_id.hex[:12]}-{attempt}"


def pool_worker_name() -> str:
    """A pool worker's name: made before any job is known, so never the same twice."""
    return f"laino-warm-{uuid4().hex[:12]}"


class Worker(Aggregate):
    """A worker's life, from provisioning to termination."""

    @staticmethod
    def create_id(job_id: UUID | None, attempt: int, name: str = "") -> UUID:
        if job_id is None:
            return uuid5(NAMESPACE, f"pool-worker:{name}")
        return uuid5(NAMESPACE, f"worker:{job_id}:{attempt}")

    @event("Provisioning")
    def __init__(
        self,
        job_id: UUID | None,
        attempt: int,
        provider: str,
        name: str,
        token_expires_at: float,
        pool: str = "",
    ):
        # None for a pool worker until a job claims it.
        self.job_id = job_id
        self.attempt = attempt
        self.provider = provider
        self.name = name
        self.token_expires_at = token_expires_at
        # The pool it was provisioned for ("PROVIDER:IMAGE"), or "".
        self.pool = pool
        self.state = WorkerState.PROVISIONING
        self.session_hash = ""
        self.message = ""

    def register(self, session_hash: str, now: float, *, renewed_until: float = 0.0) -> None:
        """Consumes the one-time bootstrap token (checked by the caller) for a session; a
        token renewed past its expiry (see WorkersApp.register) is good until then."""
        if self.state != WorkerState.PROVISIONING:
            raise TokenUsed("the bootstrap token was already used")
        if now > max(self.token_expires_at, renewed_until):
            raise TokenExpired("the bootstrap token has expired")
        self._registered(session_hash)

    @event("Registered")
    def _registered(self, session_hash: str) -> None:
        self.state = (
            WorkerState.WARM if self.pool and self.job_id is None else WorkerState.REGISTERED
        )
        self.session_hash = session_hash

    def claim(self, job_id: UUID, attempt: int) -> None:
        """A job takes this pool worker; claiming it again for the same attempt does nothing."""
        if self.job_id == job_id and self.attempt == attempt:
            return
        if self.state != WorkerState.WARM:
            raise NotWarm(f"worker {self.name} is {self.state}, not WARM")
        self._claimed(job_id, attempt, self.pool)

    @event("Claimed")
    def _claimed(self, job_id: UUID, attempt: int, pool: str) -> None:
        """`pool` is for its readers: a job's history says where its worker came from."""
        self.job_id = job_id
        self.attempt = attempt
        self.state = WorkerState.REGISTERED

    def retire(self, reason: str) -> None:
        """A pool worker no job took (too old, not wanted, or lost) is to be destroyed."""
        if self.job_id is None and self.state in (WorkerState.PROVISIONING, WorkerState.WARM):
            self._retired(reason)

    @event("Retired")
    def _retired(self, reason: str) -> None:
        self.state = WorkerState.TERMINATING
        self.message = reason

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


class NotWarm(WorkerError):
    """Only a WARM pool worker can be claimed."""


class TokenExpired(WorkerError):
    """A bootstrap token is good for a short time only."""
