"""An agent speaks only for its own worker, only for the attempt dispatched to it, and in order.

These drive the agent door's gateway against real SQLite stores, as a job that stole its
agent's session token would: every message here is one an attacker with that token can send.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from laino.orchestrator.api.agents import AgentGateway, MalformedMessage
from laino.orchestrator.apps import InvalidToken, JobsApp, WorkersApp, WorkerView
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.domain.jobs import State
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.hub import Hub
from laino.orchestrator.metrics import Metrics
from laino.orchestrator.sessions import Session, Sessions
from laino.orchestrator.settings import Settings
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.logstore import MAX_SEQ, LogStore
from laino.providers.tracing import Tracing
from laino.v1 import laino_pb2 as pb


@dataclass
class Door:
    gateway: AgentGateway
    jobs: JobsApp
    workers: WorkersApp
    logs: LogStore


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    database = Database(tmp_path)
    database.migrate()
    engine = database.engine()
    jobs = JobsApp(database.event_store("jobs"))
    workers = WorkersApp(database.event_store("workers"), secret=b"k" * 32, token_ttl=60)
    logs = LogStore(engine)
    gateway = AgentGateway(
        settings=Settings(home=tmp_path),
        availability=Availability(),
        jobs=jobs,
        workers=workers,
        logs=logs,
        sessions=Sessions(),
        hub=Hub(),
        tracing=Tracing("laino-test", env={}),
        metrics=Metrics(),
    )
    yield Door(gateway, jobs, workers, logs)
    engine.dispose()


def _registered(door: Door) -> tuple[WorkerView, str, Session]:
    """A job with a worker that registered: provisioned, not yet dispatched."""
    job, _ = door.jobs.submit(JobSpec(command=["true"], provider="process"))
    worker = door.workers.provision(job.id, 1, "process", "w")
    door.jobs.start_provisioning(job.id, 1, worker.id)
    session = door.workers.register(worker.id, door.workers.bootstrap_token(worker.id))
    hello = pb.AgentMessage(hello=pb.Hello(worker_id=str(worker.id), session_token=session))
    # In a context of its own, as each gRPC call has: hello binds the ids that logs show.
    stream, worker = contextvars.Context().run(door.gateway.hello, hello)
    return worker, session, stream


def _dispatched(door: Door) -> tuple[WorkerView, Session]:
    worker, _, stream = _registered(door)
    door.jobs.assign(worker.job_id, 1)
    return worker, stream


def _lines(worker: WorkerView, *seqs: int) -> pb.AgentMessage:
    chunks = [pb.LogChunk(seq=seq, stream=pb.STDOUT, data=b"line %d\n" % seq) for seq in seqs]
    batch = pb.LogBatch(job_id=str(worker.job_id), attempt=worker.attempt, chunks=chunks)
    return pb.AgentMessage(logs=batch)


def _finished(worker: WorkerView, exit_code: int) -> pb.AgentMessage:
    report = pb.JobFinished(job_id=str(worker.job_id), attempt=worker.attempt, exit_code=exit_code)
    return pb.AgentMessage(finished=report)


def _stored(door: Door, worker: WorkerView) -> list[int]:
    return [chunk.seq for chunk in door.logs.read(str(worker.job_id), 0)]


def test_a_result_before_the_dispatch_is_refused_and_the_job_does_not_succeed(door: Door) -> None:
    worker, _, stream = _registered(door)
    with pytest.raises(MalformedMessage, match="no job was dispatched"):
        door.gateway.handle(worker, stream, _finished(worker, 0))
    assert door.jobs.get_job(worker.job_id).state == State.PROVISIONING


def test_lines_before_the_dispatch_are_refused(door: Door) -> None:
    worker, _, stream = _registered(door)
    with pytest.raises(MalformedMessage, match="no job was dispatched"):
        door.gateway.handle(worker, stream, _lines(worker, 1))
    assert _stored(door, worker) == []


def test_a_seq_past_two_to_the_53_is_refused_and_the_log_stays_readable(door: Door) -> None:
    worker, stream = _dispatched(door)
    door.gateway.handle(worker, stream, _lines(worker, 1, 2))
    for seqs in [(MAX_SEQ + 1,), (2**63 - 1,)]:
        with pytest.raises(MalformedMessage):
            door.gateway.handle(worker, stream, _lines(worker, *seqs))
    assert _stored(door, worker) == [1, 2]


def test_a_batch_that_skips_ahead_is_refused_so_no_line_is_hidden_from_followers(
    door: Door,
) -> None:
    worker, stream = _dispatched(door)
    door.gateway.handle(worker, stream, _lines(worker, 1, 2, 3))
    with pytest.raises(MalformedMessage, match="continues at seq 4"):
        door.gateway.handle(worker, stream, _lines(worker, 10_000))
    with pytest.raises(MalformedMessage, match="one after another"):
        door.gateway.handle(worker, stream, _lines(worker, 4, 9))
    door.gateway.handle(worker, stream, _lines(worker, 3, 4))  # a re-sent overlap is fine
    assert _stored(door, worker) == [1, 2, 3, 4]


def test_a_new_stream_continues_where_the_stored_log_ends(door: Door) -> None:
    worker, stream = _dispatched(door)
    door.gateway.handle(worker, stream, _lines(worker, 1, 2))
    again = Session(worker.id)  # a reconnect: the new stream knows nothing yet
    with pytest.raises(MalformedMessage, match="continues at seq 3"):
        door.gateway.handle(worker, again, _lines(worker, 5))
    door.gateway.handle(worker, again, _lines(worker, 3))
    assert _stored(door, worker) == [1, 2, 3]


def test_nothing_is_added_to_an_ended_jobs_log(door: Door) -> None:
    worker, stream = _dispatched(door)
    door.gateway.handle(worker, stream, _lines(worker, 1))
    door.gateway.handle(worker, stream, _finished(worker, 0))
    assert door.jobs.get_job(worker.job_id).state == State.SUCCEEDED
    reply = door.gateway.handle(worker, stream, _lines(worker, 2))
    assert reply is not None and reply.log_ack.up_to_seq == 2  # acknowledged, so not re-sent
    assert _stored(door, worker) == [1]


def test_a_session_token_stops_working_when_its_worker_ends(door: Door) -> None:
    worker, session, _ = _registered(door)
    assert door.workers.authenticate(worker.id, session).id == worker.id
    door.workers.mark_terminated(worker.id)
    with pytest.raises(InvalidToken, match="session has ended"):
        door.workers.authenticate(worker.id, session)
