"""What the orchestrator does with what agents say: registration, reports, and their output."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
from dataclasses import dataclass
from uuid import UUID

from laino.orchestrator.apps import JobsApp, WorkersApp, WorkerView
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.domain.jobs import DISPATCHED, StaleAttempt, State
from laino.orchestrator.hub import Hub, job_topic, logs_topic
from laino.orchestrator.metrics import Metrics
from laino.orchestrator.sessions import Session, Sessions
from laino.orchestrator.settings import Settings
from laino.orchestrator.store.logstore import MAX_SEQ, Chunk, LogStore
from laino.providers import logfmt
from laino.providers.tracing import Tracing, trace_id
from laino.v1 import laino_pb2 as pb

log = logging.getLogger("laino.agents")

STREAMS = (pb.STDOUT, pb.STDERR, pb.SYSTEM)
# An agent sends chunks of at most 256 KiB.
MAX_CHUNK = 1024 * 1024


@dataclass(kw_only=True, eq=False)
class AgentGateway:
    """Validates every agent message; a bad one is refused, and nothing else changes."""

    settings: Settings
    availability: Availability
    jobs: JobsApp
    workers: WorkersApp
    logs: LogStore
    sessions: Sessions
    hub: Hub
    tracing: Tracing
    metrics: Metrics

    def register(self, request: pb.RegisterRequest) -> pb.RegisterResponse:
        worker_id = worker_uuid(request.worker_id)
        worker = self.workers.get_worker(worker_id)
        trace = self._trace(worker)
        with self.tracing.span("register_worker", parent=trace, worker=str(worker_id)):
            outage = (self.availability.went_away, self.availability.came_back)
            session = self.workers.register(worker_id, request.bootstrap_token, outage)
        assert worker is not None  # an unknown worker cannot register
        logfmt.bind(job=str(worker.job_id or ""), worker=str(worker_id), trace=trace_id(trace))
        log.info("worker %s registered", worker.name)
        self.sessions.beat(worker_id)  # registering is contact: the heartbeat clock starts now
        self._changed(worker)
        return pb.RegisterResponse(
            session_token=session, heartbeat_interval_seconds=self.settings.heartbeat_interval
        )

    def hello(self, message: pb.AgentMessage) -> tuple[Session, WorkerView]:
        if message.WhichOneof("msg") != "hello":
            raise MalformedMessage("the first message of a stream must be a hello")
        worker_id = worker_uuid(message.hello.worker_id)
        worker = self.workers.authenticate(worker_id, message.hello.session_token)
        trace = self._trace(worker)
        logfmt.bind(job=str(worker.job_id or ""), worker=str(worker.id), trace=trace_id(trace))
        session = self.sessions.open(worker.id)
        self._changed(worker)
        return session, worker

    def closed(self, session: Session, worker: WorkerView) -> None:
        self.sessions.close(session)
        self._changed(worker)

    def _trace(self, worker: WorkerView | None) -> str:
        if worker is None or worker.job_id is None:
            return ""  # a warm pool worker: no job yet
        return self.jobs.get_job(worker.job_id).trace

    def _changed(self, worker: WorkerView) -> None:
        if worker.job_id is not None:
            self.hub.changed(job_topic(worker.job_id))

    def handle(
        self, worker: WorkerView, session: Session, message: pb.AgentMessage
    ) -> pb.ServerMessage | None:
        """Handles one message; returns the reply to send, if any."""
        self.sessions.beat(worker.id)
        kind = message.WhichOneof("msg")
        if kind == "heartbeat":
            return None
        if worker.job_id is None:
            # A pool worker's stream opened while it was WARM: a job may have claimed it since.
            worker = self.workers.get_worker(worker.id) or worker
        # The agent keeps what is not acknowledged, and sends it again on its next stream.
        self.availability.check()
        if kind == "accepted":
            job_id = self.check_job(worker, message.accepted.job_id, message.accepted.attempt)
            with contextlib.suppress(StaleAttempt):
                self.jobs.start_running(job_id, worker.attempt)
            return None
        if kind == "logs":
            return self._logs(worker, session, message.logs)
        if kind == "finished":
            return self._finished(worker, message.finished)
        if kind == "stdin_taken":
            taken = message.stdin_taken
            job_id = self.check_job(worker, taken.job_id, taken.attempt)
            self.sessions.stdin_taken(job_id, taken.written, closed=taken.closed)
            return None
        raise MalformedMessage(f"unexpected message {kind or '(empty)'} on an open stream")

    def _logs(self, worker: WorkerView, session: Session, batch: pb.LogBatch) -> pb.ServerMessage:
        job_id = self.check_job(worker, batch.job_id, batch.attempt)
        seqs = [chunk.seq for chunk in batch.chunks]
        if not seqs or seqs[0] < 1 or any(b != a + 1 for a, b in itertools.pairwise(seqs)):
            raise MalformedMessage("a log batch needs chunks numbered one after another from 1")
        if seqs[-1] > MAX_SEQ:
            raise MalformedMessage(f"sequence numbers end at {MAX_SEQ}")
        for chunk in batch.chunks:
            if chunk.stream not in STREAMS or not math.isfinite(chunk.time):
                raise MalformedMessage(f"chunk {chunk.seq}: no such stream, or no read time")
            if len(chunk.data) > MAX_CHUNK:
                raise MalformedMessage(f"chunk {chunk.seq}: more than {MAX_CHUNK} bytes")
        job = self.jobs.get_job(job_id)
        ack = pb.ServerMessage(log_ack=pb.LogAck(job_id=batch.job_id, up_to_seq=seqs[-1]))
        # Lines of an attempt that is over are acknowledged and dropped: the agent may be
        # re-sending what it kept, and nothing may be added to an ended job's log.
        if job.attempt != worker.attempt or job.state.terminal or job.state == State.RETRYING:
            return ack
        if job.state not in DISPATCHED:
            raise MalformedMessage("no job was dispatched to this worker: it has no output")
        if not session.next_seq:
            session.next_seq = self.logs.last_seq(batch.job_id) + 1
        # A batch starting past the log's end would hide the lines before it from followers.
        if seqs[0] > session.next_seq:
            raise MalformedMessage(f"the log continues at seq {session.next_seq}, not {seqs[0]}")
        chunks = [Chunk(c.seq, int(c.stream), c.time, c.data) for c in batch.chunks]
        limit = job.spec.log_limit_bytes or self.settings.log_limit_bytes
        self.metrics.log_bytes(*self.logs.append(batch.job_id, chunks, limit))
        session.next_seq = max(session.next_seq, seqs[-1] + 1)
        self.hub.changed(logs_topic(job_id))
        return ack

    def _finished(self, worker: WorkerView, report: pb.JobFinished) -> pb.ServerMessage:
        job_id = self.check_job(worker, report.job_id, report.attempt)
        job = self.jobs.get_job(job_id)
        if job.attempt == worker.attempt and job.state in (State.QUEUED, State.PROVISIONING):
            raise MalformedMessage("no job was dispatched to this worker: it has no exit")
        trace = job.trace
        with (
            self.tracing.span("record_exit", parent=trace, exit_code=report.exit_code),
            contextlib.suppress(StaleAttempt),
        ):
            self.jobs.record_exit(
                job_id,
                worker.attempt,
                report.exit_code,
                timed_out=report.timed_out,
                cancelled=report.cancelled,
                error=report.error,
                infrastructure=report.infrastructure,
            )
        return pb.ServerMessage(finished_ack=pb.FinishedAck(job_id=report.job_id))

    @staticmethod
    def check_job(worker: WorkerView, job_id: str, attempt: int) -> UUID:
        """The worker's job, which the message must name."""
        if worker.job_id is None:
            raise MalformedMessage("no job was dispatched to this worker")
        if job_id != str(worker.job_id) or attempt != worker.attempt:
            raise MalformedMessage(f"job {job_id} attempt {attempt} is not this worker's job")
        return worker.job_id


def worker_uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError as err:
        raise MalformedMessage(f"{text!r} is not a worker id") from err


class MalformedMessage(ValueError):
    """An agent sent something the protocol does not allow."""
