"""The Schedule aggregate: a job spec submitted at set times, and what became of each fire."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from laino.orchestrator.domain.jobs import NAMESPACE
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.timing import InvalidSchedule, Timing
from laino.orchestrator.domain.tokens import NAME

# The runs a schedule remembers, newest last; its jobs keep their own history.
RUNS = 20


class Catchup(StrEnum):
    """What happens to fires that came due while no server ran."""

    NONE = "none"
    LAST = "last"
    ALL = "all"


class Overlap(StrEnum):
    """What a fire does while the schedule's last job is still going."""

    SKIP = "skip"
    ALLOW = "allow"
    CANCEL_PREVIOUS = "cancel-previous"


class Schedule(Aggregate):
    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE, f"schedule:{name}")

    @event("Created")
    def __init__(
        self,
        name: str,
        timing: dict[str, Any],
        catchup: str,
        overlap: str,
        spec: dict[str, Any],
        created_by: str,
        at: float,
    ):
        self.name = name
        self._define(timing, catchup, overlap, spec, created_by, at)

    def redefine(self, **definition: Any) -> None:
        """A deleted schedule's name, used again."""
        if not self.deleted:
            raise ScheduleExists(f"schedule {self.name!r} exists: delete it first")
        self._redefined(**definition)

    @event("Redefined")
    def _redefined(
        self,
        timing: dict[str, Any],
        catchup: str,
        overlap: str,
        spec: dict[str, Any],
        created_by: str,
        at: float,
    ) -> None:
        self._define(timing, catchup, overlap, spec, created_by, at)

    def _define(
        self,
        timing: dict[str, Any],
        catchup: str,
        overlap: str,
        spec: dict[str, Any],
        created_by: str,
        at: float,
    ) -> None:
        self.timing_data = timing
        self.catchup = Catchup(catchup)
        self.overlap = Overlap(overlap)
        self.spec_data = spec
        self.created_by = created_by
        self.defined_at = at
        # Every fire time up to this one was dealt with: fired, skipped, or missed.
        self.done_until = at
        self.paused = False
        self.deleted = False
        # (fire time, job id or "", what happened), newest last.
        self.runs: list[list[Any]] = []

    @property
    def timing(self) -> Timing:
        return Timing(**self.timing_data)

    @property
    def spec(self) -> JobSpec:
        return JobSpec(**self.spec_data)

    @property
    def last_job(self) -> str:
        return next((job for _, job, _ in reversed(self.runs) if job), "")

    def fired(self, at: float, job_id: UUID, *, manual: bool = False) -> None:
        self._fired(at, str(job_id), "triggered" if manual else "fired", manual)

    @event("Fired")
    def _fired(self, at: float, job_id: str, what: str, manual: bool) -> None:
        if not manual:
            self.done_until = max(self.done_until, at)
        self._remember(at, job_id, what)

    def skipped(self, at: float, why: str) -> None:
        self._skipped(at, why)

    @event("Skipped")
    def _skipped(self, at: float, why: str) -> None:
        self.done_until = max(self.done_until, at)
        self._remember(at, "", why)

    def _remember(self, at: float, job_id: str, what: str) -> None:
        self.runs = [*self.runs, [at, job_id, what]][-RUNS:]

    def pause(self) -> None:
        if not self.paused:
            self._paused()

    @event("Paused")
    def _paused(self) -> None:
        self.paused = True

    def resume(self, at: float) -> None:
        """Fires missed while it was paused are not made up."""
        if self.paused:
            self._resumed(at)

    @event("Resumed")
    def _resumed(self, at: float) -> None:
        self.paused = False
        self.done_until = max(self.done_until, at)

    def delete(self) -> None:
        if not self.deleted:
            self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True


def check_schedule_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise InvalidSchedule(
            "name",
            f"{name[:80]!r}: 1 to 63 letters, digits, '.', '_', '@' or '-',"
            " starting with a letter or digit",
        )


class ScheduleExists(ValueError):
    """A schedule of that name is in force."""
