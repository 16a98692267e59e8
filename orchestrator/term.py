"""A lease holder's term: passes that admit jobs, letting each go to its partition's driver,
and keep the warm pools."""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, field
from uuid import UUID

from laino.orchestrator.admission import Admission
from laino.orchestrator.cluster.partitions import partition_of
from laino.orchestrator.domain.jobs import IllegalTransition
from laino.orchestrator.drivers import Drivers
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
    drivers: Drivers
    # The jobs an earlier lease holder let go, read at the first pass.
    let_go: set[UUID] | None = field(default=None)

    @functools.cached_property
    def pools(self) -> Pools:
        return Pools(runner=self.runner, table=PoolTable(self.runner.views.engine))

    @functools.cached_property
    def admission(self) -> Admission:
        """Which sagas may go: capacity, priorities, concurrency groups."""
        return Admission(self.runner.settings.capacities, self.runner.jobs, self.pools)

    @functools.cached_property
    def open_sagas(self) -> OpenSagas:
        return OpenSagas(self.runner.views, self.runner.sagas)

    async def run(self) -> None:
        with self.runner.hub.watch(SAGAS) as wake:
            listed = 0.0
            while True:
                # A database that fails here ends the term (see cluster/lease.py): each
                # further pass would block the event loop on the driver's timeouts.
                listed = self._pass(listed)
                await wait(wake, TICK * 2)

    def _pass(self, listed: float) -> float:
        """Lets go every saga that may go; returns when the listing views last caught up."""
        runner = self.runner
        table = self.drivers.table
        runner.availability.check()
        runner.sagas.pull_and_process("Jobs")
        pooled = time.monotonic() - listed >= LISTED_EVERY
        if pooled:
            # The listing views follow close behind, so that a list after a busy hour has
            # little to catch up; the warm pools are kept as often.
            runner.views.catch_up()
            listed = time.monotonic()
        opened = self.open_sagas.news()
        if self.let_go is None:
            self.let_go = table.jobs() if table is not None else set()
            if table is not None:  # finished while no one held the lease
                table.remove(self.let_go - set(opened))
        closed = self.open_sagas.take_closed()
        for job_id in closed:
            self.admission.forget(job_id)
        admitted = self.admission.admit(opened, self.let_go)
        for job_id, newer in admitted.cancel.items():
            self._replace(job_id, newer)
        kept = {job_id: self.pools.reserved.get(job_id) for job_id in admitted.go}
        if table is not None:
            table.remove(closed)
            table.add({job_id: (partition_of(job_id), worker) for job_id, worker in kept.items()})
        for job_id, worker in kept.items():
            self.drivers.admitted(job_id, worker)
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
