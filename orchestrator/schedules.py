"""Use cases of schedules: define, list, pause, resume, delete, and fire them into jobs.

A fire is an idempotent submission keyed by the schedule and the fire time: however many
servers, or restarts, come at one fire, it is one job.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import MutableOrImmutableAggregate

from laino.orchestrator.apps import JobsApp, JobView
from laino.orchestrator.domain.schedules import Catchup, Overlap, Schedule, check_schedule_name
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.timing import InvalidSchedule, Timing
from laino.orchestrator.notifying import NotifyingApplication, notifications_after

# The label on each job a schedule submits.
LABEL = "laino.schedule"


class SchedulesApp(NotifyingApplication):
    name = "Schedules"
    # A schedule records each fire: a snapshot now and then keeps reading it short.
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[UUID]], int]] = {
        Schedule: 50
    }

    def create(
        self,
        name: str,
        timing: Timing,
        *,
        catchup: str,
        overlap: str,
        spec: JobSpec,
        by: str,
    ) -> Schedule:
        check_schedule_name(name)
        timing.validate()
        if catchup not in Catchup.__members__.values():
            raise InvalidSchedule("catchup", f"{catchup[:40]!r}: one of none, last, all")
        if overlap not in Overlap.__members__.values():
            raise InvalidSchedule(
                "overlap", f"{overlap[:40]!r}: one of skip, allow, cancel-previous"
            )
        spec.validate()
        labelled = JobSpec(**{**spec.as_dict(), "labels": {**spec.labels, LABEL: name}})
        now = time.time()
        definition: dict[str, Any] = {
            "timing": {**timing.__dict__, "anchor": now if timing.every else 0.0},
            "catchup": catchup,
            "overlap": overlap,
            "spec": labelled.as_dict(),
            "created_by": by,
            "at": now,
        }

        def change() -> Schedule:
            found = self.find(name)
            if found is None:
                return Schedule(name, **definition)
            found.redefine(**definition)
            return found

        made = self.save_changed(change)
        assert made is not None
        return made

    def find(self, name: str) -> Schedule | None:
        try:
            found: Schedule = self.repository.get(Schedule.create_id(name))
        except AggregateNotFoundError:
            return None
        return found

    def get(self, name: str) -> Schedule:
        found = self.find(name)
        if found is None or found.deleted:
            raise ScheduleNotFound(f"no schedule {name[:80]!r}")
        return found

    def ids(self, start: int) -> tuple[set[UUID], int]:
        """The schedules with events from notification `start` on, and where to read next."""
        found: set[UUID] = set()
        for note in notifications_after(self.notification_log, start - 1):
            found.add(UUID(str(note.originator_id)))
            start = note.id + 1
        return found, start

    def schedules(self) -> list[Schedule]:
        ids, _ = self.ids(1)
        found: list[Schedule] = [self.repository.get(schedule_id) for schedule_id in ids]
        return sorted((s for s in found if not s.deleted), key=lambda s: s.name)

    def pause(self, name: str) -> Schedule:
        return self._change(name, lambda s: s.pause())

    def resume(self, name: str) -> Schedule:
        return self._change(name, lambda s: s.resume(time.time()))

    def delete(self, name: str) -> Schedule:
        return self._change(name, lambda s: s.delete())

    def _change(self, name: str, how: object) -> Schedule:
        def change() -> Schedule:
            found = self.get(name)
            how(found)  # type: ignore[operator]
            return found

        changed = self.save_changed(change)
        assert changed is not None
        return changed


def fire(
    schedules: SchedulesApp, jobs: JobsApp, schedule: Schedule, at: float, *, manual: bool = False
) -> JobView | None:
    """Submits the job of one fire, as the schedule's overlap policy allows; None if skipped.

    The job first, then the record: a crash between the two submits the same job again.
    """
    previous = jobs.get_job(UUID(schedule.last_job)) if schedule.last_job else None
    if previous is not None and not previous.state.terminal and not manual:
        if schedule.overlap == Overlap.SKIP:
            schedule.skipped(at, f"skipped: job {previous.id} was still {previous.state}")
            schedules.save(schedule)
            return None
        if schedule.overlap == Overlap.CANCEL_PREVIOUS and not previous.cancel_requested:
            jobs.cancel(previous.id)
    key = f"schedule:{schedule.id}:{uuid4() if manual else repr(at)}"
    job, _ = jobs.submit(schedule.spec, key, "", schedule.created_by)
    schedule.fired(at, job.id, manual=manual)
    schedules.save(schedule)
    return job


class ScheduleNotFound(LookupError):
    """No schedule of that name."""
