"""The job's input as the orchestrator sends it: in order, each byte once, however often sent.

Input carries its offset in the job's stdin. A piece sent again (after a reconnect, or by a
client resuming a broken call) is skipped as far as it was written; a piece past a gap waits
to be sent again. Each write is reported, so the sender can hold back until the job reads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from laino.v1 import laino_pb2 as pb

Report = Callable[[int, bool], None]
Write = Callable[[bytes], Awaitable[None]]


class Input:
    """What is sent for the job's stdin, taken in as soon as the job runs."""

    def __init__(self, report: Report):
        self.report = report
        self.pieces: asyncio.Queue[pb.StdinData] = asyncio.Queue()
        self.written = 0
        self.closed = False
        # Set while a terminal runs the job: applies a new window size (rows, columns).
        self.resize: Callable[[int, int], None] | None = None

    def put(self, piece: pb.StdinData) -> None:
        if self.closed:  # nothing more is read: say so again, so the sender stops
            self.report(max(self.written, piece.offset + len(piece.data)), True)
            return
        self.pieces.put_nowait(piece)

    async def feed(self, write: Write, close: Callable[[], None]) -> None:
        """Writes what comes into the job's stdin until its end, or until the job stops
        reading (then what comes is dropped, and said to be)."""
        while not self.closed:
            piece = await self.pieces.get()
            if piece.rows and piece.cols and self.resize is not None:
                self.resize(piece.rows, piece.cols)
            skip = self.written - piece.offset
            if skip < 0:
                continue  # past a gap: the piece before it comes again
            data = piece.data[skip:]
            try:
                if data:
                    await write(data)
                    self.written += len(data)
                if piece.eof:
                    self._close(close)
            except OSError:
                self._close(close)  # the job closed its stdin, or ended
                self.written = max(self.written, piece.offset + len(piece.data))
            self.report(self.written, self.closed)

    def _close(self, close: Callable[[], None]) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            close()
