"""Files between agents and the artifact store: a job's outputs up, its inputs down.

Only the agent of the job's current attempt may upload, only when the job's spec asks for
outputs, only a path within the working directory, and never past the server's
--artifact-limit for the job. It may fetch only its own job's inputs.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from laino.orchestrator.api.agents import AgentGateway, MalformedMessage, worker_uuid
from laino.orchestrator.store.artifacts import ArtifactStore
from laino.v1 import laino_pb2 as pb

MAX_PATH = 4096
# Files uploaded as inputs are kept as artifacts of this owner, named by their sha256.
UPLOADS = "upload"


class OverLimit(ValueError):
    """The upload would take the job past its artifact limit."""


@dataclass(kw_only=True, eq=False)
class AgentFiles:
    gateway: AgentGateway
    store: ArtifactStore

    async def upload(self, parts: AsyncIterator[pb.ArtifactUpload]) -> pb.ArtifactStored:
        first = await anext(aiter(parts), None)
        if first is None or first.WhichOneof("part") != "header":
            raise MalformedMessage("an upload starts with its header")
        header = first.header
        worker = self.gateway.workers.authenticate(
            worker_uuid(header.worker_id), header.session_token
        )
        job_id = self.gateway.check_job(worker, header.job_id, header.attempt)
        if not self.gateway.jobs.get_job(job_id).spec.outputs:
            raise MalformedMessage("this job keeps no outputs")
        path = header.path
        clean = posixpath.normpath(path)
        outside = clean in (".", "..") or clean.startswith(("/", "../"))
        if not path or len(path) > MAX_PATH or "\0" in path or clean != path or outside:
            raise MalformedMessage(f"{path[:200]!r} is not a path within the working directory")
        if header.size < 0:
            raise MalformedMessage("a file's size is not negative")
        limit = self.gateway.settings.artifact_limit_bytes
        if self.store.used(str(job_id)) + header.size > limit:
            raise OverLimit(f"{path}: the job's artifacts would pass {limit} bytes")
        spool = self.store.spool()
        try:
            async for part in parts:
                if part.WhichOneof("part") != "data":
                    raise MalformedMessage("one header per upload")
                spool.write(part.data)
                if spool.size > header.size:
                    raise MalformedMessage(f"{path}: more than the {header.size} bytes announced")
            if spool.size != header.size:
                raise MalformedMessage(f"{path}: {spool.size} bytes, not {header.size}")
            # Off the event loop: a large file into PostgreSQL or S3 takes seconds, which
            # would stall every agent's stream and heartbeat meanwhile.
            kept = await asyncio.to_thread(self.store.keep, str(job_id), path, spool)
        finally:
            spool.discard()
        return pb.ArtifactStored(sha256=kept.sha256, size=kept.size)

    def fetch(self, request: pb.FetchInputRequest) -> Iterator[bytes]:
        """The bytes of one of the worker's job's inputs: a file another job kept, or one
        uploaded for it."""
        worker = self.gateway.workers.authenticate(
            worker_uuid(request.worker_id), request.session_token
        )
        job_id = self.gateway.check_job(worker, request.job_id, request.attempt)
        inputs = self.gateway.jobs.get_job(job_id).spec.inputs
        if not 0 <= request.index < len(inputs):
            raise MalformedMessage(f"the job has no input {request.index}")
        owner, path = input_file(inputs[request.index]["source"])
        return self.store.read(owner, path)


async def off_loop(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A stored file's pieces, each read in a thread: the event loop never waits on the
    database, the disk or the object store for them."""
    while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
        yield piece


def input_file(source: str) -> tuple[str, str]:
    """Where an input's bytes are kept: (job id, path) of an artifact."""
    kind, _, rest = source.partition(":")
    if kind == "upload":
        return UPLOADS, rest
    if kind == "job":
        owner, _, path = rest.partition(":")
        return owner, path
    raise MalformedMessage(f"{source[:80]!r}: the agent fetches it itself")
