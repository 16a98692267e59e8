"""A lease holder's term: passes that start driving each saga that admission lets go."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import dataclass, field
from uuid import UUID

from laino.orchestrator.admission import Admission
from laino.orchestrator.domain.jobs import IllegalTransition
from laino.orchestrator.hub import SAGAS, job_topic, wait
from laino.orchestrator.open_sagas import OpenSagas
from laino.orchestrator.pools import Pools
from laino.orchestrator.runner import SagaRunner
from laino.orchestrator.store.pools import PoolTable
from laino.orchestrator.teardown import TICK

LISTED_EVERY = 1.0


@dataclass(kw_only=True, eq=False)
class Term:
    runner: SagaRunner
    # A task per saga being driven.
    tasks: dict[UUID, asyncio.Task[None]] = field(default_factory=dict)

    @functools.cached_property
    def pools(self) -> Pools:
        pools = Pools(runner=self.runner, table=PoolTable(self.runner.views.engine))
        self.runner.warm = pools.take
        return pools

    @functools.cached_property
    def admission(self) -> Admission:
        """Which sagas may go: capacity, priorities, concurrency groups."""
        return Admission(self.runner.settings.capacities, self.runner.jobs, self.pools)

    @functools.cached_property
    def open_sagas(self) -> OpenSagas:
        return OpenSagas(self.runner.views, self.runner.sagas)

    async def run(self) -> None:
        try:
            with self.runner.hub.watch(SAGAS) as wake:
                listed = 0.0
                while True:
                    # A database that fails here ends the term (see cluster/lease.py): each
                    # further pass would block the event loop on the driver's timeouts.
                    listed = self._pass(listed)
                    await wait(wake, TICK * 2)
        finally:
            # Stopped (shut down, or the lease lost): whoever runs next resumes every saga.
            for task in list(self.tasks.values()):
                task.cancel()

    def _pass(self, listed: float) -> float:
        """Starts driving every saga that may go; returns when the listing views last caught up."""
        runner = self.runner
        runner.availability.check()
        runner.sagas.pull_and_process("Jobs")
        pooled = time.monotonic() - listed >= LISTED_EVERY
        if pooled:
            # The listing views follow close behind, so that a list after a busy hour has
            # little to catch up; the warm pools are kept as often.
            runner.views.catch_up()
            listed = time.monotonic()
        opened = self.open_sagas.news()
        admitted = self.admission.admit(opened, self.open_sagas, self.tasks)
        for job_id, newer in admitted.cancel.items():
            self._replace(job_id, newer)
        for job_id in admitted.go:
            self.tasks[job_id] = asyncio.create_task(self._drive(job_id))
        if pooled:
            self.pools.keep(self.admission.used(), self.admission.blocked)
        return listed

    def _replace(self, job_id: UUID, newer: UUID) -> None:
        """Cancels a job for a newer one of its concurrency group (--cancel-in-progress)."""
        jobs = self.runner.jobs
        job = jobs.get_job(job_id)
        if not job.state.terminal and not job.cancel_requested:
            self.runner.system_lines(job, [f"cancelled: job {newer} replaces it in its group"])
            with contextlib.suppress(IllegalTransition):  # it ended meanwhile
                jobs.cancel(job_id)
            self.runner.hub.changed(job_topic(job_id))
        self.admission.cancelled(job_id)

    async def _drive(self, job_id: UUID) -> None:
        try:
            await self.runner.drive(job_id)
        finally:
            self.tasks.pop(job_id, None)
            self.admission.forget(job_id)
            self.runner.hub.changed(SAGAS)
