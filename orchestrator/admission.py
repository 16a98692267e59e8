"""Admission: which open sagas the runner drives now, and which jobs a newer one replaces.

Every saga under way goes on. Queued jobs go while their provider has room for them (its
capacity counts slots: a job with `--cpu 2` takes two) and their concurrency group runs fewer
jobs than its limit: highest priority first; within a priority, submitters (tokens) take
turns, so that one submitter's batch of 10,000 does not starve another's single job; and each
submitter's jobs go oldest first. A job whose group is full lets the ones behind it past; one
its provider has no room for yet holds that room for itself, so that small jobs cannot keep a
big one waiting for ever.

A saga being driven holds its room until it is finished, its worker destroyed. Only the lease
holder drives sagas, so all this holds however many servers there are; after a restart, what
was under way resumes first.
"""

from __future__ import annotations

import math
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
    # The room it takes: a job asking for more than one CPU takes one slot per CPU.
    weight: int
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
            weight=max(1, math.ceil(spec.cpu)),
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
        busy: Counter[str] = Counter()
        for claim in self.driven.values():
            busy[claim.provider] += claim.weight
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
        full: set[str] = set()
        for _, _, _, job_id in sorted(ranked):
            claim = self.queue[job_id]
            if claim.group and groups[claim.group] >= claim.group_limit:
                continue
            room = self.capacity.get(claim.provider, 1)
            # A job bigger than the whole capacity runs alone, rather than never.
            if claim.provider in full or (
                busy[claim.provider] and busy[claim.provider] + min(claim.weight, room) > room
            ):
                full.add(claim.provider)
                if len(full) == len(self.capacity):
                    break  # no room anywhere: the rest of the queue waits
                continue
            busy[claim.provider] += claim.weight
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
