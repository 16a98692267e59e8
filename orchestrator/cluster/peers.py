"""Several orchestrators on one NATS: what crosses between them.

Four things, all on core NATS subjects scoped to the installation, none of them state:
- wake-ups: a change seen by one server wakes the waiters of every server (followers, the
  saga runner), who then read the shared stores as they always do;
- presence: each server tells the others which workers are connected to it, and when they
  last spoke, so that the saga runner, wherever it runs, sees every worker's heartbeat;
- commands: a message for a worker connected elsewhere goes to the server that holds its stream;
- input taken: how much of a job's stdin its agent has written, for the server relaying it.

A message lost in an outage is harmless: wake-ups have a poll behind them, and the runner
re-sends what a worker has not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from uuid import UUID

from laino.orchestrator.cluster.bus import Bus
from laino.orchestrator.hub import Hub
from laino.orchestrator.sessions import Session, Sessions
from laino.v1 import laino_pb2 as pb

log = logging.getLogger("laino.cluster")

# Wake-ups are gathered for this long and sent as one message.
COALESCE = 0.005
# A worker's presence is told again at most this often.
PRESENCE_EVERY = 0.5
CLOSE = b""


class ClusterSessions(Sessions):
    """The workers connected here, and, through NATS, those connected to the other servers."""

    def __init__(self, bus: Bus, installation: str, *, presence_ttl: float):
        super().__init__()
        self.bus = bus
        self.prefix = f"laino.{installation}"
        self.presence_ttl = presence_ttl
        self._remote: dict[UUID, float] = {}
        self._told: dict[UUID, float] = {}

    async def start(self) -> None:
        nc = self.bus.nc
        await nc.subscribe(f"{self.prefix}.seen.*", cb=self._on_seen)
        await nc.subscribe(f"{self.prefix}.gone.*", cb=self._on_gone)
        await nc.subscribe(f"{self.prefix}.command.*", cb=self._on_command)
        await nc.subscribe(f"{self.prefix}.stdin.*", cb=self._on_stdin)

    def open(self, worker_id: UUID) -> Session:
        session = super().open(worker_id)
        self._tell("seen", worker_id)
        return session

    def close(self, session: Session) -> None:
        super().close(session)
        if not super().connected(session.worker_id):
            self._tell("gone", session.worker_id)

    def beat(self, worker_id: UUID) -> None:
        super().beat(worker_id)
        if super().connected(worker_id):
            now = time.monotonic()
            if now - self._told.get(worker_id, 0.0) >= PRESENCE_EVERY:
                self._told[worker_id] = now
                self._tell("seen", worker_id)

    def connected(self, worker_id: UUID) -> bool:
        if super().connected(worker_id):
            return True
        seen = self._remote.get(worker_id)
        return seen is not None and time.monotonic() - seen < self.presence_ttl

    def send(self, worker_id: UUID, message: pb.ServerMessage) -> bool:
        if super().send(worker_id, message):
            return True
        self._publish(f"command.{worker_id}", message.SerializeToString())
        return self.connected(worker_id)

    def last_seen(self, worker_id: UUID) -> float:
        return max(super().last_seen(worker_id), self._remote.get(worker_id, 0.0))

    def forget(self, worker_id: UUID) -> None:
        super().forget(worker_id)
        self._remote.pop(worker_id, None)
        self._told.pop(worker_id, None)
        self._publish(f"command.{worker_id}", CLOSE)

    def stdin_taken(self, job_id: UUID, written: int, *, closed: bool) -> None:
        """Told by the agent connected here; whoever sends the job's input may be elsewhere."""
        super().stdin_taken(job_id, written, closed=closed)
        self._publish(f"stdin.{job_id}", f"{written} {int(closed)}".encode())

    def _tell(self, what: str, worker_id: UUID) -> None:
        self._publish(f"{what}.{worker_id}", b"")

    def _publish(self, subject: str, payload: bytes) -> None:
        if self.bus.connected:
            asyncio.get_running_loop().create_task(
                self.bus.nc.publish(f"{self.prefix}.{subject}", payload)
            )

    async def _on_seen(self, msg: Any) -> None:
        self._remote[_worker(msg)] = time.monotonic()

    async def _on_gone(self, msg: Any) -> None:
        self._remote.pop(_worker(msg), None)

    async def _on_stdin(self, msg: Any) -> None:
        written, _, closed = msg.data.decode().partition(" ")
        with contextlib.suppress(ValueError):
            super().stdin_taken(_worker(msg), int(written), closed=closed == "1")

    async def _on_command(self, msg: Any) -> None:
        worker_id = _worker(msg)
        if not super().connected(worker_id):
            return
        if msg.data == CLOSE:
            super().forget(worker_id)
            return
        message = pb.ServerMessage()
        try:
            message.ParseFromString(msg.data)
        except Exception:
            log.warning("dropped a malformed command for worker %s", worker_id)
            return
        super().send(worker_id, message)


class ClusterHub(Hub):
    """A hub whose wake-ups also reach the other servers' hubs."""

    def __init__(self, bus: Bus, installation: str):
        super().__init__()
        self.bus = bus
        self.subject = f"laino.{installation}.wake"
        self._pending: set[str] = set()
        self._flushing = False

    async def start(self) -> None:
        await self.bus.nc.subscribe(self.subject, cb=self._on_wake)

    def changed(self, topic: str) -> None:
        super().changed(topic)
        self._pending.add(topic)
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_later(COALESCE, self._flush)

    def _flush(self) -> None:
        self._flushing = False
        topics, self._pending = self._pending, set()
        if topics and self.bus.connected:
            payload = "\n".join(sorted(topics)).encode()
            asyncio.get_running_loop().create_task(self.bus.nc.publish(self.subject, payload))

    async def _on_wake(self, msg: Any) -> None:
        for topic in msg.data.decode().split("\n"):
            super().changed(topic)


def _worker(msg: Any) -> UUID:
    return UUID(msg.subject.rsplit(".", 1)[1])
