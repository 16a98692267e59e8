"""Conversions between protobuf messages and the orchestrator's plain data."""

from __future__ import annotations

import json
from uuid import UUID

from laino.orchestrator.access import InvalidTokenRequest, TokenView
from laino.orchestrator.apps import JobNotFound, JobView, WorkerView
from laino.orchestrator.commands import spec_message
from laino.orchestrator.domain.jobs import State
from laino.orchestrator.domain.spec import PROVIDERS, JobSpec
from laino.orchestrator.history import Entry
from laino.orchestrator.store.logstore import Line
from laino.providers.tracing import trace_id
from laino.v1 import laino_pb2 as pb


def job_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise JobNotFound(f"no job {text!r}") from None


def spec_from(message: pb.JobSpec) -> JobSpec:
    return JobSpec.parse(
        command=tuple(message.command),
        image=message.image,
        env=dict(message.env),
        working_dir=message.working_dir,
        timeout_seconds=message.timeout_seconds,
        cpu=message.cpu,
        memory_bytes=message.memory_bytes,
        gpus=message.gpus,
        labels=dict(message.labels),
        provider=message.provider,
        max_attempts=message.max_attempts,
        retry_on_failure=message.retry_on_failure,
    )


def job_message(job: JobView) -> pb.Job:
    message = pb.Job(
        id=str(job.id),
        state=pb.JobState.Value(job.state),
        spec=spec_message(job.spec),
        attempt=job.attempt,
        failure_reason=job.failure_reason,
        message=job.message,
        worker_id=str(job.worker_id or ""),
        created_at=job.created_at,
        updated_at=job.updated_at,
        trace_id=trace_id(job.trace),
        submitter=job.submitter,
    )
    if job.exit_code is not None:
        message.exit_code = job.exit_code
    return message


def states_from(values: list[int]) -> list[State]:
    return [State(pb.JobState.Name(v)) for v in values if v]


def lines_message(lines: list[Line]) -> pb.StreamLogsResponse:
    chunk = pb.LogChunk(
        lines=[pb.LogLine(seq=ln.seq, stream=ln.stream, text=ln.text) for ln in lines]
    )
    return pb.StreamLogsResponse(chunk=chunk)


def end_message(job: JobView, last_seq: int) -> pb.StreamLogsResponse:
    end = pb.LogsEnd(state=pb.JobState.Value(job.state), last_seq=last_seq)
    if job.exit_code is not None:
        end.exit_code = job.exit_code
    return pb.StreamLogsResponse(end=end)


def event_message(entry: Entry) -> pb.JobEvent:
    return pb.JobEvent(
        version=entry.version,
        type=entry.type,
        timestamp=entry.timestamp,
        data_json=json.dumps(entry.data, sort_keys=True),
        source=entry.source,
    )


def worker_message(worker: WorkerView) -> pb.Worker:
    return pb.Worker(
        id=str(worker.id),
        job_id=str(worker.job_id),
        attempt=worker.attempt,
        state=worker.state,
        provider=worker.provider,
        message=worker.message,
        created_at=worker.created_at,
    )


def token_message(token: TokenView) -> pb.Token:
    return pb.Token(
        name=token.name,
        role=token.role,
        providers=list(token.providers),
        expires_at=token.expires_at,
        issued_by=token.issued_by,
        created_at=token.created_at,
        revoked_at=token.revoked_at,
    )


def providers_from(names: list[str]) -> list[str]:
    unknown = [name for name in names if name not in PROVIDERS]
    if unknown:
        raise InvalidTokenRequest(f"unknown provider {unknown[0]!r}: one of {', '.join(PROVIDERS)}")
    return sorted(set(names))
