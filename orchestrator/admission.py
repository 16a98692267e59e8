"""Admission: which open sagas the runner drives now, and which jobs a newer one replaces.

Every saga under way goes on. Queued jobs go while their provider has room for them (its
capacity counts slots: a job with `--cpu 2` takes two) and their concurrency group runs fewer
jobs than its limit: highest priority first; within a priority, submitters (tokens) take
turns, so that one submitter's batch of 10,000 does not starve another's single job; and each
submitter's jobs go oldest first. A job whose group is full lets the ones behind it past; one
its provider has no room for yet holds that room for itself, so that small jobs cannot keep a
big one waiting for ever.

An idle warm pool worker holds a place too (orchestrator/pools.py). A queued job that can take
one goes at once: the place passes from the pool worker to the job.

A job let go holds its room until its saga is finished, its worker destroyed, whichever server
drives it (drivers.py). Only the lease holder admits, so all this holds however many servers
there are; after a restart, what was under way, or let go, resumes first.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

from laino.orchestrator.apps import JobsApp, JobView
from laino.orchestrator.domain.jobs import State
from laino.orchestrator.notifying import notifications_after
from laino.orchestrator.pools import Pools, key_of

# A queued job is read again when it has new events (a cancel, say). As a safety net, the ones
# read longest ago are read again too, this many a pass: a queue of 10,000 in 2,000 passes.
REREAD = 5


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
    # The warm pool whose workers it may take, or "".
    pool: str = ""

    @classmethod
    def of(cls, job: JobView) -> Claim:
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
            pool=key_of(spec),
        )


@dataclass
class Admitted:
    """What a pass decided: the sagas to drive now, and the jobs to cancel first, each with the
    newer job of its group that replaces it."""

    go: list[UUID] = field(default_factory=list)
    cancel: dict[UUID, UUID] = field(default_factory=dict)


class Admission:
    def __init__(self, capacity: dict[str, int], jobs: JobsApp, pools: Pools | None = None):
        self.capacity = capacity
        self.jobs = jobs
        self.pools = pools
        # The providers a queued job waits on for room, as the last pass found.
        self.blocked: set[str] = set()
        # The jobs let go, until their saga is finished, and those waiting for room, as last read.
        self.driven: dict[UUID, Claim] = {}
        self.queue: dict[UUID, Claim] = {}
        # Cancelled in favour of a newer job of their group: asked once.
        self.replaced: set[UUID] = set()
        self.line = Line()
        # The jobs' notification log, read up to here (the first pass reads every job anyway).
        self.seen = jobs.recorder.max_notification_id() or 0

    def admit(self, opened: Iterable[UUID], let_go: Container[UUID] = ()) -> Admitted:
        """Of the sagas opened since the last pass, and of the queued jobs with news, the ones
        to let go now. `let_go`: jobs an earlier lease holder let go, which go on.

        A long queue costs a pass little: only those are read, with a few of the queued jobs
        read longest ago (the queue is in the order its jobs were last read).
        """
        decided = Admitted()
        news = (self._changed() | set(itertools.islice(self.queue, REREAD))) & self.queue.keys()
        for job_id in {*opened, *news}:
            if job_id not in self.driven:
                job = self.jobs.get_job(job_id)
                if job.state != State.QUEUED or job.cancel_requested or job_id in let_go:
                    # Under way, or ending before it began: no room to wait for.
                    self.queue.pop(job_id, None)
                    self.driven[job_id] = Claim.of(job)
                    decided.go.append(job_id)
                    continue
                joins = self.queue.pop(job_id, None) is None
                self.queue[job_id] = claim = Claim.of(job)  # at the end: read now
                if joins:
                    self.line.add(job_id, claim)
        decided.cancel = self._replaced()
        for job_id in decided.cancel:
            if job_id in self.queue:  # it ends without waiting for room
                self.driven[job_id] = self.queue.pop(job_id)
                decided.go.append(job_id)
        decided.go += self._next()
        return decided

    def _changed(self) -> set[UUID]:
        """The jobs with events since the last pass."""
        changed: set[UUID] = set()
        for note in notifications_after(self.jobs.notification_log, self.seen):
            changed.add(UUID(str(note.originator_id)))
            self.seen = note.id
        return changed

    def _replaced(self) -> dict[UUID, UUID]:
        """The jobs of a group with a newer cancel-in-progress job, not cancelled yet."""
        newest: dict[str, tuple[float, UUID]] = {}
        self.line.cancelling &= self.queue.keys()
        for job_id in self.line.cancelling:
            claim = self.queue[job_id]
            newest[claim.group] = max(
                newest.get(claim.group, (0.0, job_id)), (claim.created_at, job_id)
            )
        if not newest:
            return {}
        return {
            job_id: newest[claim.group][1]
            for job_id, claim in (*self.driven.items(), *self.queue.items())
            if claim.group in newest
            and claim.created_at < newest[claim.group][0]
            and job_id not in self.replaced
        }

    def _next(self) -> list[UUID]:
        """The queued jobs that fit now, in turn."""
        busy = self.used()
        if self.pools is not None:
            busy += self.pools.held()
        groups = Counter(running.group for running in self.driven.values() if running.group)
        turns = Counter(running.submitter for running in self.driven.values())
        go = []
        full: set[str] = set()
        for job_id in self.line.walk(self.queue, turns):
            claim = self.queue.get(job_id)
            if claim is None:  # in line twice (it joined again after its driving stopped)
                continue
            if claim.group and groups[claim.group] >= claim.group_limit:
                continue
            if self.pools is not None and self.pools.reserve(job_id, claim.pool):
                # A warm worker's place becomes the job's: none is taken from the room.
                groups[claim.group] += 1
                self.driven[job_id] = self.queue.pop(job_id)
                go.append(job_id)
                continue
            room = self.capacity.get(claim.provider, 1)
            # A job bigger than the whole capacity runs alone, rather than never.
            if claim.provider in full or (
                busy[claim.provider] and busy[claim.provider] + min(claim.weight, room) > room
            ):
                full.add(claim.provider)
                if full >= self.line.providers:
                    break  # no room for any of them: the rest of the queue waits
                continue
            busy[claim.provider] += claim.weight
            groups[claim.group] += 1
            self.driven[job_id] = self.queue.pop(job_id)
            go.append(job_id)
        self.blocked = full
        return go

    def used(self) -> Counter[str]:
        """The places the driven jobs take, by provider."""
        busy: Counter[str] = Counter()
        for running in self.driven.values():
            busy[running.provider] += running.weight
        return busy

    def cancelled(self, job_id: UUID) -> None:
        """A job `admit` replaced was asked to cancel."""
        self.replaced.add(job_id)

    def forget(self, job_id: UUID) -> None:
        """Its saga is finished: its room is free."""
        self.driven.pop(job_id, None)
        self.queue.pop(job_id, None)
        self.replaced.discard(job_id)
        if self.pools is not None:
            self.pools.release(job_id)


class Line:
    """The waiting jobs in the order they go: by priority; within a priority, by turn between
    submitters; each submitter's oldest first. Kept between passes, a job put in its place as
    it joins, so that a pass costs about what it admits, not the length of the queue."""

    def __init__(self) -> None:
        # By priority: each submitter's waiting jobs, (created_at, id), oldest first.
        self.levels: dict[int, dict[str, list[tuple[float, UUID]]]] = {}
        # The providers and the cancel-in-progress jobs among them.
        self.providers: set[str] = set()
        self.cancelling: set[UUID] = set()

    def add(self, job_id: UUID, claim: Claim) -> None:
        jobs = self.levels.setdefault(claim.priority, {}).setdefault(claim.submitter, [])
        bisect.insort(jobs, (claim.created_at, job_id))  # at the end, nearly always
        self.providers.add(claim.provider)
        if claim.cancel_in_progress:
            self.cancelling.add(job_id)

    def walk(self, queue: dict[UUID, Claim], turns: Counter[str]) -> Iterator[UUID]:
        """The jobs still in `queue`, in the order they go, one at a time: a submitter's k-th
        waiting job of a priority goes after k jobs of each other submitter, counting the jobs
        each runs already. Jobs that left the queue are dropped on the way."""
        for priority in sorted(self.levels, reverse=True):
            level = self.levels[priority]
            heads = []
            for who, jobs in list(level.items()):
                gone = next((i for i, (_, job_id) in enumerate(jobs) if job_id in queue), None)
                if gone is None:
                    del level[who]
                    continue
                del jobs[:gone]
                heads.append((turns[who], jobs[0][0], who, 0))
            if not level:
                del self.levels[priority]
                continue
            heapq.heapify(heads)
            while heads:
                rank, _, who, at = heapq.heappop(heads)
                jobs = level[who]
                after = next((i for i in range(at + 1, len(jobs)) if jobs[i][1] in queue), None)
                if after is not None:
                    heapq.heappush(heads, (rank + 1, jobs[after][0], who, after))
                yield jobs[at][1]
