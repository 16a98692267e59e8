"""Writing a job's output as the job wrote it: its bytes, to the stream it wrote them to."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import BinaryIO

from laino.v1 import laino_pb2 as pb

RED, RESET = b"\033[31m", b"\033[0m"
STREAMS = {pb.STDOUT: "stdout", pb.STDERR: "stderr", pb.SYSTEM: "laino"}


class Printer:
    """stdout's bytes to stdout; stderr's and laino's own notices to stderr.

    With `timestamps`, each line starts with the time its first byte was read, as
    `kubectl logs --timestamps` does. Nothing else is added: no newline the job did not write.
    """

    def __init__(self, *, timestamps: bool = False):
        self.out: BinaryIO = sys.stdout.buffer
        self.err: BinaryIO = sys.stderr.buffer
        self.color = sys.stderr.isatty()
        self.timestamps = timestamps
        # Per stream: whether the next byte starts a line.
        self.line_start = {pb.STDOUT: True, pb.STDERR: True, pb.SYSTEM: True}
        self.last: BinaryIO | None = None

    def write(self, chunks: Sequence[pb.LogChunk]) -> None:
        for chunk in chunks:
            target = self.out if chunk.stream == pb.STDOUT else self.err
            if self.last is not None and self.last is not target:
                self.last.flush()  # the other stream first: both may share one terminal
            self.last = target
            data = self._stamped(chunk) if self.timestamps else chunk.data
            if self.color and chunk.stream == pb.STDERR:
                data = RED + data + RESET
            target.write(data)
        if self.last is not None:
            self.last.flush()

    def _stamped(self, chunk: pb.LogChunk) -> bytes:
        stamp = stamp_of(chunk.time).encode() + b" "
        parts = chunk.data.split(b"\n")
        start = self.line_start[chunk.stream]
        for i, part in enumerate(parts):
            # A newline ends a line; the byte after it starts one, if there is one yet.
            begins = start if i == 0 else True
            if begins and (part or i < len(parts) - 1):
                parts[i] = stamp + part
        self.line_start[chunk.stream] = chunk.data.endswith(b"\n")
        return b"\n".join(parts)


def stamp_of(at: float) -> str:
    """RFC 3339 in UTC with nanoseconds, as `kubectl logs --timestamps` and `docker logs -t`."""
    moment = datetime.fromtimestamp(at, UTC)
    nanos = round((at - int(at)) * 1e9) % 1_000_000_000
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def chunk_json(chunk: pb.LogChunk) -> str:
    """One chunk as a JSON object: its bytes as `text` when they are UTF-8, else as `base64`."""
    entry: dict[str, object] = {
        "seq": chunk.seq,
        "stream": STREAMS.get(chunk.stream, str(chunk.stream)),
        "time": chunk.time,
    }
    try:
        entry["text"] = chunk.data.decode("utf-8")
    except UnicodeDecodeError:
        entry["base64"] = base64.b64encode(chunk.data).decode()
    return json.dumps(entry, ensure_ascii=False)
