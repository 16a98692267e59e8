"""The ExecutionSaga aggregate: the side effects made for a job, and their compensations."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from laino.orchestrator.domain.jobs import NAMESPACE

BEGUN = "begun"
SUCCEEDED = "succeeded"
FAILED = "failed"
COMPENSATING = "compensating"
COMPENSATED = "compensated"
COMPENSATION_FAILED = "compensation_failed"


class ExecutionSaga(Aggregate):
    """Records each step *before* its side effect, so a restart knows what may need undoing."""

    @staticmethod
    def create_id(job_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"saga:{job_id}")

    @event("Started")
    def __init__(self, job_id: UUID):
        self.job_id = job_id
        self.steps: dict[str, str] = {}
        self.order: list[str] = []
        self.handles: dict[str, dict[str, Any]] = {}
        self.finished = False
        self.outcome = ""

    @staticmethod
    def key(step: str, attempt: int) -> str:
        return f"{step}#{attempt}"

    def status(self, step: str, attempt: int) -> str:
        return self.steps.get(self.key(step, attempt), "")

    def begin(self, step: str, attempt: int) -> None:
        if not self.status(step, attempt):
            self._step_begun(self.key(step, attempt))

    @event("StepBegun")
    def _step_begun(self, step: str) -> None:
        self.steps[step] = BEGUN
        self.order.append(step)

    def succeed(self, step: str, attempt: int, handle: dict[str, Any]) -> None:
        if self.status(step, attempt) == BEGUN:
            self._step_succeeded(self.key(step, attempt), handle)

    @event("StepSucceeded")
    def _step_succeeded(self, step: str, handle: dict[str, Any]) -> None:
        self.steps[step] = SUCCEEDED
        self.handles[step] = handle

    def fail(self, step: str, attempt: int, reason: str, *, retryable: bool) -> None:
        if self.status(step, attempt) == BEGUN:
            self._step_failed(self.key(step, attempt), reason, retryable)

    @event("StepFailed")
    def _step_failed(self, step: str, reason: str, retryable: bool) -> None:
        self.steps[step] = FAILED

    def to_compensate(self, attempt: int) -> list[str]:
        """Steps of the attempt that began and are not yet undone, latest first."""
        suffix = f"#{attempt}"
        return [
            key.removesuffix(suffix)
            for key in reversed(self.order)
            if key.endswith(suffix) and self.steps[key] not in (COMPENSATED,)
        ]

    # Recorded before each compensation by earlier versions; kept so that their histories
    # replay. A step in it is still to be undone (see to_compensate).
    @event("CompensationBegun")
    def _compensation_begun(self, step: str) -> None:
        self.steps[step] = COMPENSATING

    def compensated(self, step: str, attempt: int) -> None:
        if self.status(step, attempt) != COMPENSATED:
            self._compensated(self.key(step, attempt))

    @event("CompensationSucceeded")
    def _compensated(self, step: str) -> None:
        self.steps[step] = COMPENSATED

    def compensation_failed(self, step: str, attempt: int, reason: str) -> None:
        self._compensation_failed(self.key(step, attempt), reason)

    @event("CompensationFailed")
    def _compensation_failed(self, step: str, reason: str) -> None:
        self.steps[step] = COMPENSATION_FAILED

    def finish(self, outcome: str) -> None:
        if not self.finished:
            self._finished(outcome)

    @event("Finished")
    def _finished(self, outcome: str) -> None:
        self.finished = True
        self.outcome = outcome
