"""The agents connected to this orchestrator: where to send them commands, when they last spoke."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from uuid import UUID

from laino.v1 import laino_pb2 as pb

log = logging.getLogger("laino.sessions")

# A gap this long between two turns of the event loop is a stall (a database call hung in its
# driver's retries, say): no agent is heard while it lasts, so it is not their silence.
STALL = 1.0


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
        self._turn = time.monotonic()
        self._deaf_until = 0.0
        self._stalled = 0.0  # the last stall's length, until it is logged

    async def keep_time(self) -> None:
        """Turns with the event loop, so that a stall is noticed even when no one asks."""
        while True:
            await asyncio.sleep(STALL / 4)
            self._hearing()
            if self._stalled:
                log.warning("the event loop stalled for %.1fs: no agent was heard", self._stalled)
                self._stalled = 0.0

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
        """Seconds since the worker last spoke, counting from `since` if it never did, and
        only while this server could hear it."""
        return time.monotonic() - max(self.last_seen(worker_id), since, self._hearing())

    def last_seen(self, worker_id: UUID) -> float:
        return self._seen.get(worker_id, 0.0)

    def _hearing(self) -> float:
        """Since when the event loop has turned without a stall."""
        now = time.monotonic()
        if now - self._turn > STALL:
            self._deaf_until, self._stalled = now, now - self._turn
        self._turn = now
        return self._deaf_until

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
