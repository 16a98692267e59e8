"""Relaying a client's input to a job's stdin, as fast as the job reads it and no faster.

The client sends input with its offset; this relay sends it on to the job's agent (through
the cluster, if the agent is connected elsewhere) and passes back how much the job took.
Input not yet taken is held, at most WINDOW bytes: past that the relay stops reading the
client's call, and gRPC's flow control holds the client back. What the agent did not
acknowledge in time is sent again; the agent skips what it already wrote. A call that
breaks can be resumed by another from the last `written` it heard, on any server.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from laino.orchestrator import commands
from laino.orchestrator.apps import JobsApp
from laino.orchestrator.domain.jobs import DISPATCHED
from laino.orchestrator.hub import Hub, job_topic, wait
from laino.orchestrator.sessions import Sessions, Taken

WINDOW = 1024 * 1024
# Input sent and not taken for this long is sent again (the agent may have reconnected).
RESEND_SECONDS = 2.0
# Fallback poll of the job's state while waiting for it to run.
POLL = 1.0


@dataclass(frozen=True)
class Piece:
    offset: int
    data: bytes
    eof: bool = False
    # A terminal's (rows, columns) when it changed; (0, 0) otherwise.
    size: tuple[int, int] = (0, 0)

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(frozen=True)
class Progress:
    written: int
    closed: bool


class StdinRelay:
    """One client at a time per job and server; any number of jobs."""

    def __init__(self, jobs: JobsApp, sessions: Sessions, hub: Hub):
        self.jobs = jobs
        self.sessions = sessions
        self.hub = hub
        self.attached: set[UUID] = set()

    async def relay(
        self, job_id: UUID, first: Piece, rest: AsyncIterator[Piece]
    ) -> AsyncIterator[Progress]:
        job = self.jobs.get_job(job_id)
        if not job.spec.stdin:
            raise NotAttachable(f"job {job_id} reads no input: submit it with -i")
        if job_id in self.attached:
            raise NotAttachable(f"another client is sending job {job_id} its input")
        self.attached.add(job_id)
        taken = self.sessions.watch_stdin(job_id)
        taken.written = first.offset
        held: deque[Piece] = deque([first])
        more = asyncio.Event()
        reader = asyncio.create_task(self._read(rest, held, taken, more))
        try:
            worker = await self._dispatched(job_id, reader)
            if worker is None:
                yield Progress(taken.written, True)
                return
            async for progress in self._send(job_id, worker, held, taken, more, reader):
                yield progress
        finally:
            reader.cancel()
            self.attached.discard(job_id)
            self.sessions.unwatch_stdin(job_id)

    async def _read(
        self, rest: AsyncIterator[Piece], held: deque[Piece], taken: Taken, more: asyncio.Event
    ) -> None:
        try:
            async for piece in rest:
                held.append(piece)
                more.set()
                # Hold back the client while the job has not taken what came before.
                while sum(len(p.data) for p in held) > WINDOW:
                    await asyncio.sleep(0.01)
                if piece.eof:
                    return
        finally:
            more.set()  # an end, or an error the relay raises

    async def _dispatched(self, job_id: UUID, reader: asyncio.Task[None]) -> UUID | None:
        """The job's worker once the job was sent to it; None if the job ended first."""
        with self.hub.watch(job_topic(job_id)) as wake:
            while True:
                _check(reader)
                job = self.jobs.get_job(job_id)
                if job.state in DISPATCHED and job.worker_id is not None:
                    return job.worker_id
                if job.state.terminal:
                    return None
                await wait(wake, POLL)

    async def _send(
        self,
        job_id: UUID,
        worker: UUID,
        held: deque[Piece],
        taken: Taken,
        more: asyncio.Event,
        reader: asyncio.Task[None],
    ) -> AsyncIterator[Progress]:
        sent = 0  # how many of the held pieces went to the agent
        shown = -1
        with self.hub.watch(job_topic(job_id)) as ended:
            while True:
                _check(reader)
                while sent and held[0].end <= taken.written and not held[0].eof:
                    held.popleft()  # sent, and taken
                    sent -= 1
                for piece in list(held)[sent:]:
                    message = commands.stdin(
                        job_id, piece.offset, piece.data, eof=piece.eof, size=piece.size
                    )
                    self.sessions.send(worker, message)
                sent = len(held)
                if taken.written != shown or taken.closed:
                    shown = taken.written
                    yield Progress(taken.written, taken.closed)
                if taken.closed or self.jobs.get_job(job_id).state.terminal:
                    if not taken.closed:
                        yield Progress(taken.written, True)
                    return
                if not await _first(taken.changed, more, ended):
                    sent = 0  # nothing taken for a while: send what is held again


def _check(reader: asyncio.Task[None]) -> None:
    """Raises what ended the reading of the client's call (bad input), if anything did."""
    if reader.done() and not reader.cancelled() and reader.exception() is not None:
        raise reader.exception()  # type: ignore[misc]


async def _first(*events: asyncio.Event) -> bool:
    """Until one of the events is set (True), or RESEND_SECONDS pass (False); clears them."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(
            waits, timeout=RESEND_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in waits:
            task.cancel()
    for event in events:
        event.clear()
    return bool(done)


class NotAttachable(Exception):
    """The job takes no input, or takes it from another client."""
