"""Warm pools: workers provisioned and registered ahead of demand, each still for one job.

The lease holder keeps each pool at its size, within its provider's capacity: a pool worker
holds a place like a job's worker does, and a job waiting for room comes first (the pool
gives its idle workers back for it). Admission reserves an idle WARM worker for a queued job
whose provider and image match and which asks for no resources of its own; the job's saga
claims it at provisioning, and from then on it is that job's worker like any other. Idle
workers past the pool's time to live are replaced, so that none waits with stale credentials
or an old image; one that is lost is replaced too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from uuid import UUID

from laino.orchestrator import commands
from laino.orchestrator.apps import WorkerView
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.workers import WorkerState
from laino.orchestrator.runner import GONE, SagaRunner
from laino.orchestrator.store.pools import Pool, PoolTable, pool_key
from laino.providers.base import Handle, ProviderError, Status, WorkerSpec

log = logging.getLogger("laino.pools")

# An unclaimed pool worker that may yet serve a job.
FRESH = (WorkerState.PROVISIONING, WorkerState.WARM)
# After a pool worker fails to start or to register, its pool waits before the next start:
# twice as long after each failure in a row, up to a minute. A pool of an image that cannot
# run costs a few attempts a minute, not one a second.
MOST_BACKOFF = 60.0


def key_of(spec: JobSpec) -> str:
    """The pool a job may take its worker from; "" when it asks for resources of its own,
    which a pool worker was not started with."""
    if spec.cpu or spec.memory_bytes or spec.gpus:
        return ""
    return pool_key(spec.provider, spec.image)


@dataclass(kw_only=True, eq=False)
class Pools:
    runner: SagaRunner
    table: PoolTable
    # The unclaimed pool workers: id → pool key.
    members: dict[UUID, str] = field(default_factory=dict)
    # A queued job → the WARM worker admission kept for it.
    reserved: dict[UUID, UUID] = field(default_factory=dict)
    # Provider calls under way (a start, a destroy), by worker.
    busy: dict[UUID, asyncio.Task[None]] = field(default_factory=dict)
    # Pools whose last workers failed: key → (failures in a row, no start before).
    failing: dict[str, tuple[int, float]] = field(default_factory=dict)
    loaded: bool = False

    def held(self) -> Counter[str]:
        """The places pool workers hold, by provider: every unclaimed one not promised to a job."""
        promised = set(self.reserved.values())
        return Counter(
            key.partition(":")[0]
            for worker_id, key in self.members.items()
            if worker_id not in promised
        )

    def reserve(self, job_id: UUID, key: str) -> bool:
        """Keeps an idle WARM worker of that pool for the job; False when none is."""
        if not key:
            return False
        promised = set(self.reserved.values())
        for worker_id, pool in self.members.items():
            if pool == key and worker_id not in promised and worker_id not in self.busy:
                worker = self.runner.workers.get_worker(worker_id)
                warm = worker is not None and worker.state == WorkerState.WARM
                if warm and self.runner.sessions.connected(worker_id):
                    self.reserved[job_id] = worker_id
                    return True
        return False

    def release(self, job_id: UUID) -> None:
        """The job's saga is finished: the worker kept for it, if it was not claimed, is the
        pool's again."""
        self.reserved.pop(job_id, None)

    def keep(self, used: Counter[str], blocked: set[str]) -> None:
        """One pass: retire what is no longer wanted or fit, then refill within the room left.

        `used`: the places the jobs driven now take, by provider. `blocked`: the providers a
        queued job waits on for room.
        """
        if not self.loaded:
            self._load()
        wanted = {pool.key: pool for pool in self.table.pools()}
        promised = set(self.reserved.values())
        counts: Counter[str] = Counter()
        for worker_id, key in list(self.members.items()):
            worker = self.runner.workers.get_worker(worker_id)
            if (
                worker is None
                or worker.job_id is not None
                or worker.state == WorkerState.TERMINATED
            ):
                self.members.pop(worker_id)  # a job's now, never saved, or destroyed
                continue
            if worker_id in promised:
                continue
            if worker.state == WorkerState.WARM:
                self.failing.pop(key, None)
            if worker_id not in self.busy:
                reason = self._unfit(worker, wanted.get(key), counts[key])
                if reason:
                    self._retire(worker, reason)
                    continue
                if worker.state == WorkerState.WARM and not self.runner.sessions.connected(
                    worker_id
                ):
                    self._call(worker_id, self._check_gone(worker))
            if worker.state in FRESH:
                counts[key] += 1
        for provider in blocked:
            # A job waits for a place that idle pool workers hold: one gives it back a pass.
            idle = self._idle(provider)
            if idle is not None:
                self._retire(idle, "its place is wanted by a queued job")
        held = self.held()
        capacity = self.runner.settings.capacities
        for key, pool in wanted.items():
            if pool.provider not in self.runner.providers or pool.provider in blocked:
                continue
            if time.monotonic() < self.failing.get(key, (0, 0.0))[1]:
                continue
            room = capacity.get(pool.provider, 0) - used[pool.provider] - held[pool.provider]
            for _ in range(min(pool.size - counts[key], room)):
                worker = self.runner.workers.provision_for_pool(pool.provider, key)
                self.members[worker.id] = key
                held[pool.provider] += 1
                self._call(worker.id, self._start(worker, pool.image))

    def _unfit(self, worker: WorkerView, pool: Pool | None, kept: int) -> str:
        """Why an unclaimed pool worker goes, or ""; `kept`: how many of its pool stay."""
        settings = self.runner.settings
        if worker.state not in FRESH:
            return worker.message or f"it is {worker.state}"
        if pool is None:
            return "its pool was deleted"
        if kept >= pool.size:
            return "its pool is smaller now"
        age = time.time() - worker.created_at
        if worker.state == WorkerState.PROVISIONING and age > settings.register_timeout:
            self._failed(worker.pool)
            return f"it did not register in {settings.register_timeout:.0f}s"
        if worker.state == WorkerState.WARM:
            if age > settings.warm_ttl:
                return f"idle for the pools' time to live ({settings.warm_ttl:.0f}s): replaced"
            silent = self.runner.sessions.silent_for(worker.id, self.runner.started)
            if silent > settings.heartbeat_timeout:
                return f"lost: no heartbeat for {silent:.1f}s"
        return ""

    def _idle(self, provider: str) -> WorkerView | None:
        """An unclaimed pool worker of the provider that no job waits for."""
        spoken = set(self.reserved.values()) | self.busy.keys()
        for worker_id, key in self.members.items():
            if key.partition(":")[0] == provider and worker_id not in spoken:
                worker = self.runner.workers.get_worker(worker_id)
                if worker is not None and worker.state in FRESH:
                    return worker
        return None

    def _retire(self, worker: WorkerView, reason: str) -> None:
        """Destroys an unclaimed pool worker, recorded as retired first when it was fit."""
        if worker.state in FRESH:
            log.info("pool worker %s retired: %s", worker.name, reason)
            self.runner.workers.retire(worker.id, reason)
        self._call(worker.id, self._destroy(worker))

    def _call(self, worker_id: UUID, work: Coroutine[None, None, None]) -> None:
        """A provider call for a worker, in the background: one at a time each."""
        self.busy[worker_id] = task = asyncio.create_task(work)
        task.add_done_callback(lambda _: self.busy.pop(worker_id, None))

    async def _start(self, worker: WorkerView, image: str) -> None:
        runner = self.runner
        spec = WorkerSpec(
            name=worker.name,
            worker_id=str(worker.id),
            job_id="",
            attempt=0,
            server=runner.agent_address,
            bootstrap_token=runner.workers.bootstrap_token(worker.id),
            installation=runner.installation,
            image=image,
            # Nothing of any job: its env and secrets come with it, at dispatch.
            env=runner.worker_env(""),
        )
        log.info("starting pool worker %s (%s)", worker.name, worker.pool)
        try:
            await asyncio.to_thread(runner.providers[worker.provider].start, spec)
        except ProviderError as err:
            log.warning("pool worker %s cannot start: %s", worker.name, err)
            self._failed(worker.pool)
            runner.workers.retire(worker.id, f"cannot start: {err}")

    def _failed(self, key: str) -> None:
        failures = self.failing.get(key, (0, 0.0))[0] + 1
        wait = min(MOST_BACKOFF, 2.0**failures)
        self.failing[key] = (failures, time.monotonic() + wait)

    async def _check_gone(self, worker: WorkerView) -> None:
        """A WARM worker whose stream closed is asked of its provider: a killed process or
        container is lost now, not after the heartbeat timeout (as for a job's worker)."""
        provider = self.runner.providers.get(worker.provider)
        if provider is None:
            return
        try:
            seen = await asyncio.to_thread(provider.status, Handle(provider.name, worker.name))
        except ProviderError:
            return  # the heartbeat will tell
        if seen.status != Status.RUNNING:
            why = f": {seen.reason}" if seen.reason else ""
            self.runner.workers.mark_lost(worker.id, f"lost: it {GONE[seen.status]}{why}")

    async def _destroy(self, worker: WorkerView) -> None:
        runner = self.runner
        runner.sessions.send(worker.id, commands.shutdown())
        provider = runner.providers.get(worker.provider)
        try:
            if provider is not None:
                await asyncio.to_thread(provider.destroy, Handle(provider.name, worker.name))
        except ProviderError as err:
            log.warning("cannot destroy pool worker %s: %s", worker.name, err)
            return  # the next pass tries again
        runner.sessions.forget(worker.id)
        runner.workers.mark_terminated(worker.id)
        self.members.pop(worker.id, None)

    def _load(self) -> None:
        """The unclaimed pool workers, as the listing view has them after catching up."""
        self.runner.views.catch_up()
        states = (*FRESH, WorkerState.TERMINATING, WorkerState.LOST, WorkerState.FAILED)
        for worker in self.runner.views.list_workers(states, 100_000):
            if worker.pool and worker.job_id is None:
                self.members.setdefault(worker.id, worker.pool)
        self.loaded = True
