"""The sagas this server drives: those of the partitions it holds (cluster/partitions.py).

Admission, on the lease holder, lets jobs go by recording them (store/admitted.py). The server
holding a job's partition drives its saga from then until it is finished: at once when that is
the lease holder's own server, which tells its drivers directly, otherwise at its next look,
which the hub's wake-up for the job's partition (carried between servers by NATS) brings
forward; a server looks only for the partitions it holds. A partition taken
over brings the sagas let go in it, each driven again from its recorded state, as after a
restart; one given up or lost stops them here first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from uuid import UUID

from laino.orchestrator.cluster.partitions import Partitions, partition_of
from laino.orchestrator.hub import SAGAS, wait
from laino.orchestrator.runner import SagaRunner
from laino.orchestrator.store.admitted import AdmittedTable
from laino.orchestrator.store.database import FAILURES, first_line

log = logging.getLogger("laino.drivers")

# How often the partitions are balanced, and a look taken without a wake-up.
CHECK = 0.5
# How often every job let go in the partitions held is read again, not only the newer ones.
RESYNC = 10.0
# How long stopped drivers may take to end before their partition is given up anyway.
STOP_WAIT = 5.0


@dataclass(kw_only=True, eq=False)
class Drivers:
    runner: SagaRunner
    # None on the embedded database: its one server admits and drives, with nothing to hand
    # over (a restart admits again what had not begun).
    table: AdmittedTable | None
    partitions: Partitions
    held: set[int] = field(default_factory=set)
    # A task per saga driven here.
    tasks: dict[UUID, asyncio.Task[None]] = field(default_factory=dict)
    # The warm pool worker admission kept for a job, until its saga claims it.
    kept: dict[UUID, UUID] = field(default_factory=dict)
    # The last job let go that was read, and the partitions to read from the start.
    seen: int = 0
    fresh: set[int] = field(default_factory=set)
    # Stopped by a failure with their saga unfinished: driven again at the next look.
    again: set[UUID] = field(default_factory=set)
    # Handed over directly by this server's lease holder: their rows, when read, are not news.
    direct: set[UUID] = field(default_factory=set)

    def warm(self, job_id: UUID) -> UUID | None:
        return self.kept.pop(job_id, None)

    def admitted(self, job_id: UUID, worker_id: UUID | None) -> None:
        """The lease holder let the job go (recorded already)."""
        if partition_of(job_id) in self.held:
            self._start(job_id, worker_id)
            if self.table is not None:
                self.direct.add(job_id)
        else:
            self.runner.hub.changed(admitted_topic(partition_of(job_id)))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="partitions") as thread:
            try:
                balanced = resynced = 0.0
                while True:
                    if time.monotonic() - balanced >= CHECK:
                        await self._balance(loop, thread)
                        balanced = time.monotonic()
                    if time.monotonic() - resynced >= RESYNC:
                        self.fresh |= self.held
                        resynced = time.monotonic()
                    # Woken for the partitions held only; watched before the look, so that no
                    # wake-up falls between the look and the wait.
                    topics = [admitted_topic(part) for part in self.held]
                    with self.runner.hub.watch(*topics) as wake:
                        try:
                            if self.runner.availability.database:  # away: said once, by health
                                self._look()
                        except FAILURES as err:
                            log.warning("cannot read the jobs let go: %s", first_line(err))
                        await wait(wake, CHECK)
            finally:
                await self._stop(self.tasks)
                await loop.run_in_executor(thread, self.partitions.release)

    async def _balance(self, loop: asyncio.AbstractEventLoop, thread: ThreadPoolExecutor) -> None:
        try:
            held, surplus = await loop.run_in_executor(thread, self.partitions.rebalance)
        except Exception as err:
            if self.held:  # once an outage, not at every try
                log.warning("gave up every partition: the database failed: %s", first_line(err))
            held, surplus = set(), set()
        before, self.held = self.held, held - surplus  # no task starts in one that goes
        self.direct = {job_id for job_id in self.direct if partition_of(job_id) in self.held}
        leaving = (before - held) | surplus
        if leaving:
            # Stopped here before another server may take them.
            await self._stop({j: t for j, t in self.tasks.items() if partition_of(j) in leaving})
        if surplus:
            await loop.run_in_executor(thread, self.partitions.give_up, surplus)
        if self.held != before:
            log.info("driving %d partition(s): %s", len(self.held), _parts(self.held))
        self.fresh |= self.held - before

    def _look(self) -> None:
        """Starts driving each job let go in the partitions held that is not driven yet."""
        runner = self.runner
        runner.availability.check()
        fresh, self.fresh = self.fresh & self.held, set()
        if self.table is not None:
            found = self.table.since(0, fresh) if fresh else []
            newer = self.table.since(self.seen, self.held - fresh)
            for row in (*found, *newer):
                self.seen = max(self.seen, row.n)
                if row.job_id in self.direct:
                    # A fast job may have ended already: driving it again would only read it.
                    self.direct.discard(row.job_id)
                else:
                    self._start(row.job_id, row.worker_id)
        again, self.again = self.again, set()
        for job_id in again:
            if partition_of(job_id) in self.held:
                self._start(job_id, None)

    def _start(self, job_id: UUID, worker_id: UUID | None) -> None:
        if job_id in self.tasks:
            return
        if worker_id is not None:
            self.kept[job_id] = worker_id
        self.tasks[job_id] = asyncio.create_task(self._drive(job_id))

    async def _drive(self, job_id: UUID) -> None:
        finished = False
        try:
            finished = await self.runner.drive(job_id)
        finally:
            self.tasks.pop(job_id, None)
            self.kept.pop(job_id, None)
            if not finished:
                self.again.add(job_id)
            self.runner.hub.changed(SAGAS)

    async def _stop(self, tasks: dict[UUID, asyncio.Task[None]]) -> None:
        for task in tasks.values():
            task.cancel()
        if tasks:
            _, stuck = await asyncio.wait(tasks.values(), timeout=STOP_WAIT)
            for task in stuck:
                log.error("%s did not stop within %.0fs", task, STOP_WAIT)
        self.again -= tasks.keys()


def admitted_topic(part: int) -> str:
    """A job was let go in that partition: its holder looks."""
    return f"admitted:{part}"


def _parts(parts: Collection[int]) -> str:
    return ",".join(str(part) for part in sorted(parts))
