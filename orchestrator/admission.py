"""Admission: which open sagas the runner drives now, so no provider runs past its capacity."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from uuid import UUID

from laino.orchestrator.apps import JobsApp
from laino.orchestrator.domain.jobs import State

# How often a job waiting for room is read again (a cancel while it waits shows then).
RECHECK = 2.0


@dataclass(frozen=True)
class Queued:
    """A job waiting for its provider to have room: what ordering and counting it needs."""

    created_at: float
    provider: str
    # When its state was last read (monotonic).
    seen: float


class Admission:
    """Every saga under way goes on; queued jobs go oldest first, while their provider drives
    fewer sagas than its capacity.

    A saga being driven holds its provider's room until it is finished, its worker destroyed.
    Only the lease holder drives sagas, so the capacity holds however many servers there are;
    after a restart, what was under way resumes first.
    """

    def __init__(self, capacity: dict[str, int], jobs: JobsApp):
        self.capacity = capacity
        self.jobs = jobs
        # Each driven job's provider, for counting what runs where.
        self.providers: dict[UUID, str] = {}
        # The jobs waiting for room, as last read.
        self.queue: dict[UUID, Queued] = {}

    def admit(self, open_sagas: list[UUID], driven: Collection[UUID]) -> list[UUID]:
        """Of the open sagas not driven yet, those to drive now."""
        busy = Counter(self.providers[job_id] for job_id in driven)
        now = time.monotonic()
        go, waiting = [], []
        for job_id in open_sagas:
            if job_id in driven:
                continue
            queued = self.queue.get(job_id)
            # A queued job is read again now and then only: a cancel while it waits is seen
            # within RECHECK, and a long queue costs a pass little.
            if queued is None or now - queued.seen > RECHECK:
                job = self.jobs.get_job(job_id)
                if job.state != State.QUEUED or job.cancel_requested:
                    # Under way, or ending before it began: no room to wait for.
                    self.providers[job_id] = job.spec.provider
                    go.append(job_id)
                    continue
                queued = self.queue[job_id] = Queued(job.created_at, job.spec.provider, now)
            waiting.append((queued.created_at, job_id))
        for _, job_id in sorted(waiting):
            provider = self.queue[job_id].provider
            if busy[provider] < self.capacity.get(provider, 1):
                busy[provider] += 1
                self.providers[job_id] = self.queue.pop(job_id).provider
                go.append(job_id)
        return go

    def forget(self, job_id: UUID) -> None:
        """Its saga is no longer driven here: its room is free."""
        self.providers.pop(job_id, None)
