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


class Sessions:
    """At most one stream per worker: a reconnect replaces the stream it left behind."""

    def __init__(self) -> None:
        self._open: dict[UUID, Session] = {}
        self._seen: dict[UUID, float] = {}

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
