"""A job's output on its way out: secrets masked, characters whole, numbered chunks in batches."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from laino.v1 import laino_pb2 as pb

# Reads of one stream that follow each other in a batch become one chunk up to this size.
CHUNK_BYTES = 256 * 1024
BATCH_BYTES = 1024 * 1024
# Output waits at most this long for the batch before it to be acknowledged.
FLUSH_SECONDS = 0.02
# Bytes held back (half a character, what may be the start of a secret) are sent anyway
# after this long without more output.
HOLD_SECONDS = 0.5

Emit = Callable[[list[pb.LogChunk]], None]
# Waits: for room to read more (`room`), or until no batch waits for its acknowledgement.
Wait = Callable[[], Awaitable[None]]


class Batcher:
    """Numbers chunks in the order they were read and hands them on in batches.

    Handing on never waits, so cancelling a reader or the ticker can lose no byte: back
    pressure is applied by `room` before a reader takes more output from its pipe. Past
    `limit` bytes of output, one notice says so and the rest is read and dropped.

    Like Nagle's algorithm: output goes at once when no batch is on its way (a line written
    to a quiet pipe shows at once), and while one is, what comes meanwhile gathers into the
    next batch, so that under load batches grow instead of queueing.
    """

    def __init__(
        self,
        emit: Emit,
        room: Wait,
        first_seq: int = 1,
        limit: int = 0,
        settled: Wait | None = None,
    ):
        self.emit = emit
        self.room = room
        self.settled = settled or _at_once
        self.next_seq = first_seq
        self.limit = limit
        self.written = 0
        self.chunks: list[pb.LogChunk] = []
        self.size = 0
        self.added = asyncio.Event()

    def add(self, stream: int, data: bytes, at: float | None = None) -> None:
        if not data:
            return
        if stream != pb.SYSTEM and self.limit:
            room = self.limit - self.written
            if room < 0:
                return
            self.written += len(data)
            if len(data) > room:
                if room:
                    self._append(stream, data[:room], at)
                notice = f"laino: log truncated: the job wrote more than {self.limit} bytes\n"
                data, stream = notice.encode(), pb.SYSTEM
                self.written = self.limit + 1  # said once
        self._append(stream, data, at)

    def _append(self, stream: int, data: bytes, at: float | None) -> None:
        last = self.chunks[-1] if self.chunks else None
        if last is not None and last.stream == stream and len(last.data) + len(data) <= CHUNK_BYTES:
            last.data += data
        else:
            seq, self.next_seq = self.next_seq, self.next_seq + 1
            self.chunks.append(
                pb.LogChunk(seq=seq, stream=stream, data=data, time=at or time.time())
            )
        self.size += len(data)
        self.added.set()
        if self.size >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        chunks, self.chunks, self.size = self.chunks, [], 0
        if chunks:
            self.emit(chunks)

    async def tick(self, *held: Held) -> None:
        """Hands output on as it comes (see the class); held bytes go after HOLD_SECONDS."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HOLD_SECONDS / 5):
                    await self.added.wait()
            self.added.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_SECONDS):
                    await self.settled()
            for stream in held:
                stream.release(HOLD_SECONDS)
            self.flush()


class Held:
    """One stream's output on its way to the batcher: secrets masked, characters whole.

    A read may end inside a UTF-8 character or inside a secret: those last bytes wait for
    the next read (or, after a while, go as they are), so a chunk of text is always text and
    no secret slips through between two reads.
    """

    def __init__(self, stream: int, batcher: Batcher, masks: list[bytes]):
        self.stream = stream
        self.batcher = batcher
        self.masks = masks
        self.held = b""
        self.since = 0.0
        self.at = 0.0

    def feed(self, data: bytes) -> None:
        now = time.time()
        at = self.at if self.held else now
        data = self.held + data
        for secret in self.masks:
            data = data.replace(secret, b"***")
        keep = max(_partial_char(data), _secret_start(data, self.masks))
        ready, held = data[: len(data) - keep], data[len(data) - keep :]
        self.batcher.add(self.stream, ready, at)
        if held and (ready or not self.held):  # bytes of this read wait from now
            self.since, self.at = time.monotonic(), now
        self.held = held

    def release(self, after: float = 0.0) -> None:
        if self.held and time.monotonic() - self.since >= after:
            data, self.held = self.held, b""
            self.batcher.add(self.stream, data, self.at)


async def _at_once() -> None:
    return None


def _partial_char(data: bytes) -> int:
    """How many bytes at the end begin a UTF-8 character that the data does not finish."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return 0
        if byte >= 0xC0:  # a lead byte: how long its character is
            length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back if length > back else 0
    return 0


def _secret_start(data: bytes, masks: list[bytes]) -> int:
    """The longest end of `data` that a secret starts with."""
    longest = 0
    for secret in masks:
        for size in range(min(len(secret) - 1, len(data)), longest, -1):
            if data.endswith(secret[:size]):
                longest = size
                break
    return longest
