"""The scheduler: the lease holder fires every schedule that is due.

A fire time that came due before this server took the lease was missed (no server ran, or
the lease moved): the schedule's catchup decides whether none, the last, or all of those fire.
Those that come due while it holds the lease all fire, however late the event loop is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from laino.orchestrator.apps import JobsApp, KeyConflict
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.domain.jobs import IllegalTransition
from laino.orchestrator.domain.schedules import Catchup, Schedule
from laino.orchestrator.domain.spec import InvalidSpec
from laino.orchestrator.schedules import SchedulesApp, fire
from laino.orchestrator.store.database import FAILURES, first_line

log = logging.getLogger("laino.scheduler")

TICK = 0.5
# The most missed fires that `--catchup all` makes up for.
MOST = 1000


@dataclass(kw_only=True, eq=False)
class Scheduler:
    schedules: SchedulesApp
    jobs: JobsApp
    availability: Availability
    known: set[UUID] = field(default_factory=set)
    # The schedules' notification log, read up to here.
    position: int = 1

    async def run(self) -> None:
        started = time.time()
        while True:
            if self.availability.database:
                try:
                    self.tick(started, time.time())
                except FAILURES as err:
                    log.warning("schedules paused, the database failed: %s", first_line(err))
            await asyncio.sleep(TICK)

    def tick(self, started: float, now: float) -> None:
        new, self.position = self.schedules.ids(self.position)
        self.known |= new
        for schedule_id in sorted(self.known):
            schedule: Schedule = self.schedules.repository.get(schedule_id)
            if schedule.deleted or schedule.paused:
                continue
            try:
                self._due(schedule, started, now)
            except IntegrityError:
                continue  # changed meanwhile (paused, say): read again on the next tick

    def _due(self, schedule: Schedule, started: float, now: float) -> None:
        times = schedule.timing.between(schedule.done_until, now, MOST)
        missed = [at for at in times if at <= started]
        if missed:
            kept = {Catchup.NONE: 0, Catchup.LAST: 1, Catchup.ALL: len(missed)}[schedule.catchup]
            if len(missed) > kept:
                left = len(missed) - kept
                why = f"missed {left} fire(s) while no server ran (--catchup {schedule.catchup})"
                schedule.skipped(missed[-kept - 1], why)
                self.schedules.save(schedule)
            for at in missed[len(missed) - kept :]:
                self._fire(schedule, at)
        for at in times:
            if at > started:
                self._fire(schedule, at)

    def _fire(self, schedule: Schedule, at: float) -> None:
        try:
            job = fire(self.schedules, self.jobs, schedule, at)
        except (InvalidSpec, KeyConflict, IllegalTransition) as err:
            # Its spec no longer passes (checks that a newer laino added, say): the fire is
            # recorded as skipped with the reason, and the schedule goes on; a failure here
            # must not end the term, nor repeat twice a second.
            log.warning("schedule %s could not fire: %s", schedule.name, err)
            schedule.skipped(at, f"could not submit its job: {err}")
            self.schedules.save(schedule)
            return
        if job is not None:
            log.info("schedule %s fired job %s", schedule.name, job.id)
