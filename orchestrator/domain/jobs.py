"""The Job aggregate: one submitted command and its way to a terminal state."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from laino.orchestrator.domain.spec import JobSpec

NAMESPACE = uuid5(NAMESPACE_URL, "https://laino.dev/ids")


class State(StrEnum):
    QUEUED = "QUEUED"
    PROVISIONING = "PROVISIONING"
    ASSIGNED = "ASSIGNED"
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED, State.TIMED_OUT})
ENDINGS = frozenset({State.FAILED, State.CANCELLED})
# Sent to a worker: its command may be running, and only then can it report lines or an exit.
DISPATCHED = frozenset({State.ASSIGNED, State.RUNNING})

ALLOWED: dict[State, frozenset[State]] = {
    State.QUEUED: frozenset({State.PROVISIONING}) | ENDINGS,
    State.PROVISIONING: frozenset({State.ASSIGNED, State.RETRYING}) | ENDINGS,
    State.ASSIGNED: frozenset({State.RUNNING, State.RETRYING}) | TERMINAL,
    State.RUNNING: frozenset({State.RETRYING}) | TERMINAL,
    State.RETRYING: frozenset({State.PROVISIONING}) | ENDINGS,
}

USER = "user"
INFRASTRUCTURE = "infrastructure"


def retry_delay(attempt: int) -> float:
    """Seconds before the attempt after `attempt`: 0.5, 1, 2, 4, 8, then 10 each."""
    return min(0.5 * 2 ** (attempt - 1), 10.0)


class Job(Aggregate):
    """A job: its spec, its current attempt, and how it ended."""

    # When its output was deleted for its age (orchestrator/retention.py); 0 while it is kept.
    # A class attribute: jobs recorded before the event existed have it too.
    logs_expired_at = 0.0

    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid5(NAMESPACE, f"job:{key}")

    @event("Submitted")
    def __init__(
        self,
        key: str,
        spec: dict[str, Any],
        trace: str = "",
        submitter: str = "",
        has_secrets: bool = True,  # not in jobs recorded before it: the secret store is asked
    ):
        self.key = key
        # The name of the token that submitted it.
        self.submitter = submitter
        self.spec_data = spec
        # Whether secrets were stored for it (store/secrets.py): a job without any never asks.
        self.has_secrets = has_secrets
        # W3C traceparent of the submission: every later span of the job continues it.
        self.trace = trace
        self.state = State.QUEUED
        self.attempt = 0
        self.worker_id: UUID | None = None
        self.exit_code: int | None = None
        self.failure_reason = ""
        self.message = ""
        self.cancel_requested = False
        self.retry_at = 0.0

    @property
    def spec(self) -> JobSpec:
        # Made once per copy of the aggregate: a job's spec never changes after its submission,
        # and every view of the job reads it (making it took half of a view's time).
        made: JobSpec | None = self.__dict__.get("_spec")
        if made is None:
            made = self._spec = JobSpec(**self.spec_data)
        return made

    @property
    def attempts_left(self) -> bool:
        return self.attempt < self.spec.max_attempts

    def start_provisioning(self, attempt: int, worker_id: UUID) -> None:
        """Again for the same attempt: the same worker does nothing, another replaces it (a
        warm pool worker lost before the job could claim it)."""
        if self.state == State.PROVISIONING and self.attempt == attempt:
            if worker_id != self.worker_id:
                self._provisioning(attempt, worker_id)
            return
        self._check_transition(State.PROVISIONING)
        if attempt != self.attempt + 1:
            raise IllegalTransition(f"attempt {attempt} does not follow {self.attempt}")
        self._provisioning(attempt, worker_id)

    @event("ProvisioningStarted")
    def _provisioning(self, attempt: int, worker_id: UUID) -> None:
        self.state = State.PROVISIONING
        self.attempt = attempt
        self.worker_id = worker_id

    def assign(self, attempt: int) -> None:
        self._check_attempt(attempt)
        if self.state != State.PROVISIONING:
            return
        self._assigned(attempt)

    @event("Assigned")
    def _assigned(self, attempt: int) -> None:
        self.state = State.ASSIGNED

    def start_running(self, attempt: int) -> None:
        self._check_attempt(attempt)
        if self.state == State.RUNNING:
            return
        self._check_transition(State.RUNNING)
        self._started(attempt)

    @event("Started")
    def _started(self, attempt: int) -> None:
        self.state = State.RUNNING
        self.message = ""  # an earlier attempt's failure is history now (see the events)

    def record_exit(
        self,
        attempt: int,
        exit_code: int,
        *,
        timed_out: bool,
        cancelled: bool,
        error: str,
        infrastructure: bool = False,
    ) -> None:
        """The agent's report of how the command ended; an ended job ignores it.

        Only a dispatched job has a command that can have ended: a report before the dispatch
        is refused, and one after the attempt was given up (RETRYING) is ignored.
        """
        self._check_attempt(attempt)
        if self.state.terminal or self.state == State.RETRYING:
            return
        if self.state not in DISPATCHED:
            raise IllegalTransition(f"a {self.state} job was not dispatched: it has no exit")
        if cancelled or self.cancel_requested:
            self._ended(State.CANCELLED, exit_code, "", "cancelled")
        elif timed_out:
            self._ended(State.TIMED_OUT, exit_code, USER, "the job exceeded its timeout")
        elif error and infrastructure:
            self.fail_attempt(attempt, error, retry_at=time.time() + retry_delay(attempt))
        elif error:
            self._ended(State.FAILED, exit_code, USER, error)
        elif exit_code == 0:
            self._ended(State.SUCCEEDED, 0, "", "")
        elif self.spec.retry_on_failure and self.attempts_left:
            self._retry_scheduled(f"exit code {exit_code}", time.time() + retry_delay(attempt))
        else:
            self._ended(State.FAILED, exit_code, USER, f"exit code {exit_code}")

    def fail_attempt(
        self, attempt: int, message: str, *, retry_at: float, retryable: bool = True
    ) -> None:
        """An infrastructure failure of this attempt: retry if it may help and attempts remain."""
        self._check_attempt(attempt)
        if self.state.terminal or self.state == State.RETRYING:
            return
        if retryable and self.attempts_left and not self.cancel_requested:
            self._retry_scheduled(message, retry_at)
        elif self.cancel_requested:
            self._ended(State.CANCELLED, None, "", "cancelled")
        else:
            self._ended(State.FAILED, None, INFRASTRUCTURE, message)

    @event("RetryScheduled")
    def _retry_scheduled(self, message: str, retry_at: float) -> None:
        self.state = State.RETRYING
        self.message = message
        self.retry_at = retry_at

    def request_cancel(self) -> None:
        if self.state.terminal:
            raise IllegalTransition(f"the job already ended {self.state}")
        if self.cancel_requested:
            return
        self._cancel_requested()

    @event("CancelRequested")
    def _cancel_requested(self) -> None:
        self.cancel_requested = True

    def expire_logs(self, at: float) -> None:
        if not self.state.terminal:
            raise IllegalTransition(f"a {self.state} job keeps its output")
        if not self.logs_expired_at:
            self._logs_expired(at)

    @event("LogsExpired")
    def _logs_expired(self, at: float) -> None:
        self.logs_expired_at = at

    def end_cancelled(self) -> None:
        """Cancel took effect without a report from an agent (no worker ran the command)."""
        if not self.state.terminal:
            self._ended(State.CANCELLED, None, "", "cancelled")

    @event("Ended")
    def _ended(
        self, state: State, exit_code: int | None, failure_reason: str, message: str
    ) -> None:
        self.state = State(state)
        self.exit_code = exit_code
        self.failure_reason = failure_reason
        self.message = message

    def _check_transition(self, to: State) -> None:
        if to not in ALLOWED.get(self.state, frozenset()):
            raise IllegalTransition(f"a {self.state} job cannot become {to}")

    def _check_attempt(self, attempt: int) -> None:
        if attempt != self.attempt:
            raise StaleAttempt(f"attempt {attempt} is not the current attempt {self.attempt}")


class JobError(Exception):
    """Base class of the Job aggregate's errors."""


class IllegalTransition(JobError):
    """The job's state does not allow this change."""


class StaleAttempt(JobError):
    """A report about an attempt that is no longer current."""
