"""A job's output files, after its command ends: found by their globs in the working
directory, sent to the orchestrator one by one, each until it is stored.

What does not fit the job's artifact limit is left out, and the job's log says so.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

log = logging.getLogger("laino.agent")

PIECE = 1 << 20
# The orchestrator refused the file itself: sending it again would not help.
REFUSED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
}


def collect(patterns: list[str], root: Path) -> tuple[list[str], list[str]]:
    """The regular files the globs match within `root` (no link leads out), each once, and
    the globs that matched none."""
    base = root.resolve()
    found: dict[str, None] = {}
    unmatched = []
    for pattern in patterns:
        matched = False
        for name in sorted(glob.glob(pattern, root_dir=base, recursive=True)):
            path = base / name
            real = path.resolve()
            if real.is_file() and real.is_relative_to(base) and not path.is_symlink():
                found[os.path.normpath(name)] = None
                matched = True
        if not matched:
            unmatched.append(pattern)
    return list(found), unmatched


@dataclass
class Uploader:
    """Sends files to the orchestrator as the agent's session allows."""

    stub: Callable[[], rpc.WorkerServiceStub | None]
    worker_id: str
    session: Callable[[], str]
    job_id: str
    attempt: int
    note: Callable[[str], None]
    # Give up on a file after this long without the orchestrator (the agent's orphan time).
    patience: float

    async def send(self, patterns: list[str], root: Path, limit: int) -> None:
        paths, unmatched = collect(patterns, root)
        for pattern in unmatched:
            self.note(f"laino: output {pattern!r} matched no file")
        kept, total = 0, 0
        for path in paths:
            size = (root / path).stat().st_size
            if limit and total + size > limit:
                self.note(
                    f"laino: {path} ({size} bytes) not kept: the job's artifacts would pass"
                    f" {limit} bytes (the server's --artifact-limit); kept what fit"
                )
                continue
            if await self._one(root, path, size):
                kept += 1
                total += size
        self.note(f"laino: kept {kept} output file(s), {total} bytes")

    async def _one(self, root: Path, path: str, size: int) -> bool:
        deadline = time.monotonic() + self.patience
        delay = 0.1
        while True:
            stub = self.stub()
            try:
                if stub is None:
                    raise ConnectionError("no session yet")
                await stub.UploadArtifact(self._parts(root, path, size), timeout=600)
                return True
            except grpc.aio.AioRpcError as err:
                if err.code() in REFUSED:
                    self.note(f"laino: {path} not kept: {err.details()}")
                    return False
                log.warning("upload of %s failed (%s); trying again", path, err.code().name)
            except (ConnectionError, OSError) as err:
                log.warning("upload of %s failed (%s); trying again", path, err)
            if time.monotonic() > deadline:
                self.note(f"laino: {path} not kept: no orchestrator took it")
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _parts(self, root: Path, path: str, size: int) -> AsyncIterator[pb.ArtifactUpload]:
        header = pb.ArtifactHeader(
            worker_id=self.worker_id,
            session_token=self.session(),
            job_id=self.job_id,
            attempt=self.attempt,
            path=path,
            size=size,
        )
        yield pb.ArtifactUpload(header=header)
        sent = 0
        with (root / path).open("rb") as file:
            while sent < size and (piece := file.read(min(PIECE, size - sent))):
                sent += len(piece)
                yield pb.ArtifactUpload(data=piece)
