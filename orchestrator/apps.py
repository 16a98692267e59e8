"""The applications: one per aggregate kind, each with its own events table."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError
from eventsourcing.system import ProcessApplication
from eventsourcing.utils import get_topic

from laino.orchestrator.domain.jobs import Job, State
from laino.orchestrator.domain.saga import ExecutionSaga
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.workers import (
    LIVE,
    NotWarm,
    Worker,
    WorkerState,
    pool_worker_name,
)
from laino.orchestrator.notifying import NotifyingApplication

# READ_ONLY: a read that only makes a frozen view of an aggregate takes the cached one itself,
# not the deep copy eventsourcing makes by default so that a command's changes cannot spoil its
# cache. Nothing changes what such a read takes; the copies were a tenth of the server's time.


@dataclass(frozen=True)
class JobView:
    """A job as plain data."""

    id: UUID
    state: State
    spec: JobSpec
    attempt: int
    exit_code: int | None
    failure_reason: str
    message: str
    worker_id: UUID | None
    cancel_requested: bool
    retry_at: float
    created_at: float
    updated_at: float
    trace: str = ""
    submitter: str = ""
    logs_expired_at: float = 0.0
    has_secrets: bool = True

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(
            id=job.id,
            state=job.state,
            spec=job.spec,
            attempt=job.attempt,
            exit_code=job.exit_code,
            failure_reason=job.failure_reason,
            message=job.message,
            worker_id=job.worker_id,
            cancel_requested=job.cancel_requested,
            retry_at=job.retry_at,
            created_at=job.created_on.timestamp(),
            updated_at=job.modified_on.timestamp(),
            trace=job.trace,
            submitter=job.submitter,
            logs_expired_at=job.logs_expired_at,
            has_secrets=job.has_secrets,
        )


class JobsApp(NotifyingApplication):
    """Use cases of jobs: submit, cancel, and the reports that move a job on."""

    name = "Jobs"

    def submit(
        self,
        spec: JobSpec,
        key: str = "",
        trace: str = "",
        submitter: str = "",
        *,
        has_secrets: bool = False,
    ) -> tuple[JobView, bool]:
        """Returns the job and whether it is new; the same key gives the same job."""
        spec.validate()
        key = key or str(uuid4())
        existing = self._find(Job.create_id(key), copy=False)
        if existing is None:
            job = Job(
                key=key,
                spec=spec.as_dict(),
                trace=trace,
                submitter=submitter,
                has_secrets=has_secrets,
            )
            try:
                self.save(job)
                return JobView.of(job), True
            except IntegrityError:
                existing = self.repository.get(job.id)  # a concurrent submit won the race
        if existing.spec != spec:
            raise KeyConflict(f"idempotency key {key!r} was used for a different job")
        return JobView.of(existing), False

    def get_job(self, job_id: UUID) -> JobView:
        return JobView.of(self._get(job_id, copy=False))

    def exists(self, job_id: UUID) -> bool:
        return self._find(job_id, copy=False) is not None

    def expire_logs(self, job_id: UUID, at: float) -> JobView:
        return self._command(job_id, Job.expire_logs, at)

    def cancel(self, job_id: UUID) -> JobView:
        return self._command(job_id, Job.request_cancel)

    def start_provisioning(self, job_id: UUID, attempt: int, worker_id: UUID) -> JobView:
        return self._command(job_id, Job.start_provisioning, attempt, worker_id)

    def assign(self, job_id: UUID, attempt: int) -> JobView:
        return self._command(job_id, Job.assign, attempt)

    def start_running(self, job_id: UUID, attempt: int) -> JobView:
        return self._command(job_id, Job.start_running, attempt)

    def record_exit(self, job_id: UUID, attempt: int, exit_code: int, **how: Any) -> JobView:
        return self._command(job_id, Job.record_exit, attempt, exit_code, **how)

    def fail_attempt(
        self, job_id: UUID, attempt: int, message: str, *, retry_at: float, retryable: bool
    ) -> JobView:
        return self._command(
            job_id, Job.fail_attempt, attempt, message, retry_at=retry_at, retryable=retryable
        )

    def end_cancelled(self, job_id: UUID) -> JobView:
        return self._command(job_id, Job.end_cancelled)

    def _command(self, job_id: UUID, method: Callable[..., None], *args: Any, **kw: Any) -> JobView:
        def change() -> Job:
            job = self._get(job_id)
            method(job, *args, **kw)
            return job

        job = self.save_changed(change)
        assert job is not None
        return JobView.of(job)

    def _find(self, job_id: UUID, *, copy: bool = True) -> Job | None:
        """The job; `copy=False` only to read it (see READ_ONLY)."""
        try:
            job: Job = self.repository.get(job_id, deepcopy_from_cache=copy)
        except AggregateNotFoundError:
            return None
        return job

    def _get(self, job_id: UUID, *, copy: bool = True) -> Job:
        job = self._find(job_id, copy=copy)
        if job is None:
            raise JobNotFound(f"no job {job_id}")
        return job


@dataclass(frozen=True)
class WorkerView:
    """A worker as plain data."""

    id: UUID
    # None for a pool worker no job has claimed yet.
    job_id: UUID | None
    attempt: int
    state: WorkerState
    provider: str
    name: str
    message: str
    created_at: float
    pool: str = ""


class WorkersApp(NotifyingApplication):
    """Use cases of workers: provision, register with a one-time token, and the end of life."""

    name = "Workers"

    def __init__(self, env: dict[str, str], *, secret: bytes, token_ttl: float):
        super().__init__(env)
        self.secret = secret
        self.token_ttl = token_ttl

    def bootstrap_token(self, worker_id: UUID) -> str:
        """Derived, not stored: a resumed saga can hand the same token to an adopted worker."""
        return hmac.new(self.secret, worker_id.bytes, hashlib.sha256).hexdigest()

    def provision(self, job_id: UUID, attempt: int, provider: str, name: str) -> WorkerView:
        worker_id = Worker.create_id(job_id, attempt)
        worker = self._find(worker_id)
        if worker is None:
            worker = Worker(job_id, attempt, provider, name, time.time() + self.token_ttl)
            self.save(worker)
        return self._view(worker)

    def provision_for_pool(self, provider: str, pool: str) -> WorkerView:
        worker = Worker(
            None, 0, provider, pool_worker_name(), time.time() + self.token_ttl, pool=pool
        )
        self.save(worker)
        return self._view(worker)

    def claim(self, worker_id: UUID, job_id: UUID, attempt: int) -> WorkerView:
        """A job takes a WARM pool worker; NotWarm when it is not (any more)."""
        worker = self._find(worker_id)
        if worker is None:
            raise NotWarm(f"no worker {worker_id}")
        worker.claim(job_id, attempt)
        self.save(worker)  # a race lost to another claim fails here: nothing was claimed
        return self._view(worker)

    def retire(self, worker_id: UUID, reason: str) -> None:
        self._command(worker_id, Worker.retire, reason)

    def register(
        self, worker_id: UUID, token: str, outage: tuple[float, float] = (0.0, 0.0)
    ) -> str:
        """Exchanges the bootstrap token for a session token.

        `outage`: when the database last went away and came back. No agent could use its token
        meanwhile, so a token still good when it went is good for a full life after it came back.
        """
        worker = self._find(worker_id)
        if worker is None or not hmac.compare_digest(token, self.bootstrap_token(worker_id)):
            raise InvalidToken("unknown worker or wrong bootstrap token")
        went_away, came_back = outage
        lived_through = came_back > 0 and worker.token_expires_at >= went_away
        renewed = came_back + self.token_ttl if lived_through else 0.0
        session = uuid4().hex + uuid4().hex
        worker.register(hash_token(session), time.time(), renewed_until=renewed)
        self.save(worker)
        return session

    def authenticate(self, worker_id: UUID, session: str) -> WorkerView:
        worker = self._find(worker_id, copy=False)
        if worker is None or not hmac.compare_digest(worker.session_hash, hash_token(session)):
            raise InvalidToken("unknown worker or wrong session token")
        if worker.state not in LIVE:
            raise InvalidToken(f"worker {worker.name} is {worker.state}: its session has ended")
        return self._view(worker)

    def get_worker(self, worker_id: UUID) -> WorkerView | None:
        worker = self._find(worker_id, copy=False)
        return None if worker is None else self._view(worker)

    def mark_busy(self, worker_id: UUID) -> None:
        self._command(worker_id, Worker.mark_busy)

    def mark_lost(self, worker_id: UUID, message: str) -> None:
        self._command(worker_id, Worker.mark_lost, message)

    def mark_failed(self, worker_id: UUID, message: str) -> None:
        self._command(worker_id, Worker.mark_failed, message)

    def mark_terminated(self, worker_id: UUID) -> None:
        self._command(worker_id, Worker.mark_terminated)

    def record_orphan_removed(self, worker_id: UUID, provider_name: str, reason: str) -> None:
        self._command(worker_id, Worker.orphan_removed, provider_name, reason)

    def _command(self, worker_id: UUID, method: Callable[..., None], *args: Any) -> None:
        def change() -> Worker | None:
            worker = self._find(worker_id)
            if worker is not None:
                method(worker, *args)
            return worker

        self.save_changed(change)

    def _find(self, worker_id: UUID, *, copy: bool = True) -> Worker | None:
        """The worker; `copy=False` only to read it (see READ_ONLY)."""
        try:
            worker: Worker = self.repository.get(worker_id, deepcopy_from_cache=copy)
        except AggregateNotFoundError:
            return None
        return worker

    @staticmethod
    def _view(worker: Worker) -> WorkerView:
        return WorkerView(
            id=worker.id,
            job_id=worker.job_id,
            attempt=worker.attempt,
            state=worker.state,
            provider=worker.provider,
            name=worker.name,
            message=worker.message,
            created_at=worker.created_on.timestamp(),
            pool=worker.pool,
        )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SagasApp(ProcessApplication[UUID], NotifyingApplication):
    """Starts one saga per submitted job; tracking makes that exactly once per job."""

    name = "Sagas"
    pull_section_size = 500
    topics = (get_topic(Job.Submitted),)  # type: ignore[attr-defined]

    def policy(self, domain_event: DomainEventProtocol[UUID], processing_event: Any) -> None:
        assert isinstance(processing_event, ProcessingEvent)
        processing_event.collect_events(ExecutionSaga(domain_event.originator_id))

    def get_saga(self, job_id: UUID) -> ExecutionSaga:
        saga: ExecutionSaga = self.repository.get(ExecutionSaga.create_id(job_id))
        return saga


class AppError(Exception):
    """Base class of the applications' errors."""


class JobNotFound(AppError):
    """No job has that id."""


class KeyConflict(AppError):
    """An idempotency key names a job with another spec."""


class InvalidToken(AppError):
    """A worker presented a token that is not its own."""
