"""The agents connected to this orchestrator: where to send them commands, when they last spoke."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from uuid import UUID

from laino.v1 import laino_pb2 as pb


@dataclass(eq=False)
class Session:
    """One open Connect stream; None in the outbox closes it."""

    worker_id: UUID
    outbox: asyncio.Queue[pb.ServerMessage | None] = field(default_factory=asyncio.Queue)
    # The highest seq the job's log may continue from; 0 until the stream's first batch.
    next_seq: int = 0


@dataclass(eq=False)
class Taken:
    """How much input a job's stdin has taken, as its agent last said, for whoever sends it."""

    written: int = 0
    closed: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class Sessions:
    """At most one stream per worker: a reconnect replaces the stream it left behind."""

    def __init__(self) -> None:
        self._open: dict[UUID, Session] = {}
        self._seen: dict[UUID, float] = {}
        self._stdin: dict[UUID, Taken] = {}

    def open(self, worker_id: UUID) -> Session:
        old = self._open.get(worker_id)
        if old is not None:
            old.outbox.put_nowait(None)
        session = self._open[worker_id] = Session(worker_id)
        self.beat(worker_id)
        return session

    def close(self, session: Session) -> None:
        if self._open.get(session.worker_id) is session:
            del self._open[session.worker_id]

    def send(self, worker_id: UUID, message: pb.ServerMessage) -> bool:
        session = self._open.get(worker_id)
        if session is None:
            return False
        session.outbox.put_nowait(message)
        return True

    def connected(self, worker_id: UUID) -> bool:
        return worker_id in self._open

    def beat(self, worker_id: UUID) -> None:
        self._seen[worker_id] = time.monotonic()

    def silent_for(self, worker_id: UUID, since: float) -> float:
        """Seconds since the worker last spoke, counting from `since` if it never did."""
        return time.monotonic() - max(self._seen.get(worker_id, since), since)

    def watch_stdin(self, job_id: UUID) -> Taken:
        """What the job's stdin takes from now on, until `unwatch_stdin`."""
        return self._stdin.setdefault(job_id, Taken())

    def unwatch_stdin(self, job_id: UUID) -> None:
        self._stdin.pop(job_id, None)

    def stdin_taken(self, job_id: UUID, written: int, *, closed: bool) -> None:
        taken = self._stdin.get(job_id)
        if taken is not None:
            taken.written = max(taken.written, written)
            taken.closed = taken.closed or closed
            taken.changed.set()
            taken.changed = asyncio.Event()

    def excuse(self) -> None:
        """Counts every worker as heard from now: after a stall, silence was ours, not theirs."""
        now = time.monotonic()
        for worker_id in self._seen:
            self._seen[worker_id] = now

    def forget(self, worker_id: UUID) -> None:
        self._seen.pop(worker_id, None)
        session = self._open.pop(worker_id, None)
        if session is not None:
            session.outbox.put_nowait(None)
