"""An agent's uploads of output files: only its own job's, only paths within the working
directory, only the bytes it announced, never past the job's limit; a repeat stores nothing
twice. Driven as a job that stole its agent's session token would drive them."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from laino.orchestrator.api.agents import MalformedMessage
from laino.orchestrator.api.files import AgentFiles, OverLimit
from laino.orchestrator.apps import InvalidToken, WorkerView
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.store.artifacts import ArtifactStore
from laino.v1 import laino_pb2 as pb
from tests.integration.test_agent_door import Door, door  # noqa: F401  (a fixture)

LIMIT = 1000


@pytest.fixture
def uploads(door: Door, tmp_path: Path) -> Iterator[AgentFiles]:  # noqa: F811
    door.gateway.settings = dataclasses.replace(door.gateway.settings, artifact_limit_bytes=LIMIT)
    store = ArtifactStore(door.logs.engine, tmp_path / "artifacts")
    yield AgentFiles(gateway=door.gateway, store=store)


def _worker(door: Door, *outputs: str) -> tuple[WorkerView, str]:  # noqa: F811
    """A dispatched worker of a job that keeps `outputs`, and its session token."""
    job, _ = door.jobs.submit(JobSpec(command=["true"], provider="process", outputs=outputs))
    worker = door.workers.provision(job.id, 1, "process", f"w-{job.id}")
    door.jobs.start_provisioning(job.id, 1, worker.id)
    session = door.workers.register(worker.id, door.workers.bootstrap_token(worker.id))
    hello = pb.AgentMessage(hello=pb.Hello(worker_id=str(worker.id), session_token=session))
    _, worker = contextvars.Context().run(door.gateway.hello, hello)
    door.jobs.assign(job.id, 1)
    return worker, session


async def _parts(
    worker: WorkerView, session: str, path: str, data: bytes, size: int | None = None, **kw: str
) -> AsyncIterator[pb.ArtifactUpload]:
    header = pb.ArtifactHeader(
        worker_id=str(worker.id),
        session_token=session,
        job_id=kw.get("job_id", str(worker.job_id)),
        attempt=1,
        path=path,
        size=len(data) if size is None else size,
    )
    yield pb.ArtifactUpload(header=header)
    for i in range(0, len(data), 7):
        yield pb.ArtifactUpload(data=data[i : i + 7])


def test_a_file_is_kept_once_however_often_it_is_sent(
    door: Door,  # noqa: F811
    uploads: AgentFiles,
) -> None:
    worker, session = _worker(door, "out/*")
    hidden = asyncio.run(uploads.upload(_parts(worker, session, ".env", b"A=1")))
    assert hidden.size == 3  # a hidden file is a file like any other
    first = asyncio.run(uploads.upload(_parts(worker, session, "out/a.txt", b"hello artifacts")))
    again = asyncio.run(uploads.upload(_parts(worker, session, "out/a.txt", b"hello artifacts")))
    assert first.sha256 == again.sha256 == hashlib.sha256(b"hello artifacts").hexdigest()
    listed = uploads.store.listed(str(worker.job_id))
    assert [(a.path, a.size) for a in listed] == [(".env", 3), ("out/a.txt", 15)]
    assert b"".join(uploads.store.read(str(worker.job_id), "out/a.txt")) == b"hello artifacts"
    assert list((uploads.store.folder / "incoming").iterdir()) == []  # type: ignore[operator]


def test_what_an_agent_may_not_upload_is_refused_and_nothing_is_kept(
    door: Door,  # noqa: F811
    uploads: AgentFiles,
) -> None:
    worker, session = _worker(door, "out")
    other, _ = _worker(door, "out")
    plain, plain_session = _worker(door)
    cases = [
        (_parts(worker, "stolen", "out", b"x"), InvalidToken),
        (_parts(worker, session, "out", b"x", job_id=str(other.job_id)), MalformedMessage),
        (_parts(plain, plain_session, "out", b"x"), MalformedMessage),
        (_parts(worker, session, "../escape", b"x"), MalformedMessage),
        (_parts(worker, session, "/etc/passwd", b"x"), MalformedMessage),
        (_parts(worker, session, "a/../out", b"x"), MalformedMessage),
        (_parts(worker, session, "", b"x"), MalformedMessage),
        (_parts(worker, session, ".", b"x"), MalformedMessage),
        (_parts(worker, session, "./out", b"x"), MalformedMessage),
        (_parts(worker, session, "out", b"more than said", size=3), MalformedMessage),
        (_parts(worker, session, "out", b"less", size=10), MalformedMessage),
        (_parts(worker, session, "out", b"x" * (LIMIT + 1)), OverLimit),
    ]
    for parts, refusal in cases:
        with pytest.raises(refusal):
            asyncio.run(uploads.upload(parts))
    assert uploads.store.listed(str(worker.job_id)) == []
    assert list((uploads.store.folder / "incoming").iterdir()) == []  # type: ignore[operator]
