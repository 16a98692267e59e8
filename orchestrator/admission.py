"""Admission: which open sagas the runner drives now, and which jobs a newer one replaces.

Every saga under way goes on. Queued jobs go while their provider drives fewer sagas than its
capacity and their concurrency group fewer jobs than its limit: highest priority first; within
a priority, submitters (tokens) take turns, so that one submitter's batch of 10,000 does not
starve another's single job; and each submitter's jobs go oldest first. A job that cannot go
(its group is full, say) lets the ones behind it past.

A saga being driven holds its room until it is finished, its worker destroyed. Only the lease
holder drives sagas, so all this holds however many servers there are; after a restart, what
was under way resumes first.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from uuid import UUID

from laino.orchestrator.apps import JobsApp, JobView
from laino.orchestrator.domain.jobs import State

# How often a job waiting for room is read again (a cancel while it waits shows then).
RECHECK = 2.0


@dataclass(frozen=True)
class Claim:
    """What admission knows of a job: what it takes room from, and how it is ordered."""

    provider: str
    group: str
    group_limit: int
    submitter: str
    priority: int
    created_at: float
    cancel_in_progress: bool
    # When the job was last read (monotonic).
    seen: float = 0.0

    @classmethod
    def of(cls, job: JobView, seen: float) -> Claim:
        spec = job.spec
        return cls(
            provider=spec.provider,
            group=spec.concurrency,
            group_limit=max(spec.concurrency_limit, 1),
            submitter=job.submitter,
            priority=spec.priority,
            created_at=job.created_at,
            cancel_in_progress=spec.cancel_in_progress,
            seen=seen,
        )


@dataclass
class Admitted:
    """What a pass decided: the sagas to drive now, and the jobs to cancel first, each with the
    newer job of its group that replaces it."""

    go: list[UUID] = field(default_factory=list)
    cancel: dict[UUID, UUID] = field(default_factory=dict)


class Admission:
    def __init__(self, capacity: dict[str, int], jobs: JobsApp):
        self.capacity = capacity
        self.jobs = jobs
        # The jobs driven here, and those waiting for room, as last read.
        self.driven: dict[UUID, Claim] = {}
        self.queue: dict[UUID, Claim] = {}
        # Cancelled in favour of a newer job of their group: asked once.
        self.replaced: set[UUID] = set()

    def admit(self, open_sagas: list[UUID], driven: Collection[UUID]) -> Admitted:
        """Of the open sagas not driven yet, those to drive now."""
        now = time.monotonic()
        decided = Admitted()
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
                    self.queue.pop(job_id, None)
                    self.driven[job_id] = Claim.of(job, now)
                    decided.go.append(job_id)
                    continue
                self.queue[job_id] = Claim.of(job, now)
        decided.cancel = self._replaced()
        for job_id in decided.cancel:
            if job_id in self.queue:  # it ends without waiting for room
                self.driven[job_id] = self.queue.pop(job_id)
                decided.go.append(job_id)
        decided.go += self._next()
        return decided

    def _replaced(self) -> dict[UUID, UUID]:
        """The jobs of a group with a newer cancel-in-progress job, not cancelled yet."""
        newest: dict[str, tuple[float, UUID]] = {}
        for job_id, claim in self.queue.items():
            if claim.cancel_in_progress:
                newest[claim.group] = max(
                    newest.get(claim.group, (0.0, job_id)), (claim.created_at, job_id)
                )
        return {
            job_id: newest[claim.group][1]
            for job_id, claim in (*self.driven.items(), *self.queue.items())
            if claim.group in newest
            and claim.created_at < newest[claim.group][0]
            and job_id not in self.replaced
        }

    def _next(self) -> list[UUID]:
        """The queued jobs that fit now, in turn."""
        busy = Counter(claim.provider for claim in self.driven.values())
        groups = Counter(claim.group for claim in self.driven.values() if claim.group)
        turns = Counter(claim.submitter for claim in self.driven.values())
        order = sorted(self.queue.items(), key=lambda item: (-item[1].priority, item[1].created_at))
        # A submitter's k-th waiting job of a priority takes its turn after k jobs of each other
        # submitter, counting those it runs already.
        ranked = []
        for job_id, claim in order:
            ranked.append((-claim.priority, turns[claim.submitter], claim.created_at, job_id))
            turns[claim.submitter] += 1
        go = []
        for _, _, _, job_id in sorted(ranked):
            claim = self.queue[job_id]
            if busy[claim.provider] >= self.capacity.get(claim.provider, 1):
                continue
            if claim.group and groups[claim.group] >= claim.group_limit:
                continue
            busy[claim.provider] += 1
            groups[claim.group] += 1
            self.driven[job_id] = self.queue.pop(job_id)
            go.append(job_id)
        return go

    def cancelled(self, job_id: UUID) -> None:
        """A job `admit` replaced was asked to cancel."""
        self.replaced.add(job_id)

    def forget(self, job_id: UUID) -> None:
        """Its saga is no longer driven here: its room is free."""
        self.driven.pop(job_id, None)
        self.replaced.discard(job_id)
