"""Conversions between protobuf messages and the orchestrator's plain data."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable
from uuid import UUID

from laino.orchestrator.access import InvalidTokenRequest, TokenView
from laino.orchestrator.apps import JobNotFound, JobView, WorkerView
from laino.orchestrator.commands import spec_message
from laino.orchestrator.domain.jobs import State
from laino.orchestrator.domain.spec import PROVIDERS, JobSpec
from laino.orchestrator.domain.workers import WorkerState
from laino.orchestrator.follow import Page
from laino.orchestrator.history import Entry
from laino.orchestrator.stdin import Piece
from laino.orchestrator.store.logstore import MAX_SEQ
from laino.providers.tracing import trace_id
from laino.v1 import laino_pb2 as pb

MAX_PAGE = 1000
# Far below gRPC's 4 MiB message limit: a page of jobs with large commands still arrives.
MAX_PAGE_BYTES = 2 * 1024 * 1024
MAX_LABEL_FILTERS = 64


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
        log_limit_bytes=message.log_limit_bytes,
        stdin=message.stdin,
        tty=message.tty,
        priority=message.priority,
        concurrency=message.concurrency,
        concurrency_limit=message.concurrency_limit,
        cancel_in_progress=message.cancel_in_progress,
        outputs=tuple(message.outputs),
        inputs=tuple(
            {"source": i.source, "path": i.path, "sha256": i.sha256} for i in message.inputs
        ),
    )


def job_message(job: JobView, queue_position: int = 0) -> pb.Job:
    message = pb.Job(
        queue_position=queue_position if job.state == State.QUEUED else 0,
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
    known = [v for v in pb.JobState.values() if v]
    if unknown := [v for v in values if v not in known]:
        names = ", ".join(pb.JobState.Name(v) for v in known)
        raise InvalidRequest(f"states: unknown state {unknown[0]}; one of {names}")
    return [State(pb.JobState.Name(v)) for v in values]


def worker_states_from(names: list[str]) -> list[WorkerState]:
    known = [s.value for s in WorkerState]
    if unknown := [n for n in names if n not in known]:
        raise InvalidRequest(
            f"states: unknown state {unknown[0][:40]!r}; one of {', '.join(known)}"
        )
    return [WorkerState(n) for n in names]


def limit_from(value: int) -> int:
    if value > MAX_PAGE:
        raise InvalidRequest(f"limit: at most {MAX_PAGE}")
    return value or 100


def seconds_from(value: float, name: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise InvalidRequest(f"{name}: a finite number of seconds, at least 0")
    return value


def seq_from(value: int) -> int:
    if value > MAX_SEQ + 1:
        raise InvalidRequest(f"from_seq: sequence numbers end at {MAX_SEQ}")
    return value


MAX_WINDOW = 10_000


async def stdin_pieces(
    first: pb.StdinRequest, rest: AsyncIterator[pb.StdinRequest]
) -> AsyncIterator[Piece]:
    """The input of one AttachStdin call: each piece where the one before it ended."""
    end = first.offset
    request: pb.StdinRequest | None = first
    while request is not None:
        if request.job_id and request.job_id != first.job_id:
            raise InvalidRequest("job_id: one call sends one job its input")
        if request.offset != end:
            raise InvalidRequest(f"offset: the input continues at {end}, not {request.offset}")
        if request.rows > MAX_WINDOW or request.cols > MAX_WINDOW:
            raise InvalidRequest(f"rows, cols: at most {MAX_WINDOW}")
        yield Piece(request.offset, request.data, request.eof, (request.rows, request.cols))
        end = request.offset + len(request.data)
        if request.eof:
            return
        request = await anext(rest, None)


def since_from(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise InvalidRequest("since: must be a Unix time, in seconds")
    return value


def page_from(request: pb.ListJobsRequest) -> tuple[int, int]:
    """(page size, the position to continue before) of a listing request."""
    if request.page_size < 0:
        raise InvalidRequest("page_size: must not be negative")
    if len(request.labels) > MAX_LABEL_FILTERS:
        raise InvalidRequest(f"labels: at most {MAX_LABEL_FILTERS} label filters")
    token = request.page_token
    if token and not (token.isascii() and token.isdigit() and 0 < int(token) < 2**63):
        raise InvalidRequest(f"page_token: {token[:40]!r} is not a token this server gave")
    return min(request.page_size or 100, MAX_PAGE), int(token or 0)


def encoded_page(page: Page) -> bytes:
    """A StreamLogsResponse with the page's chunks, encoded once for all who are sent it."""
    if not page.encoded:
        chunks = [
            pb.LogChunk(seq=c.seq, stream=c.stream, data=c.data, time=c.at) for c in page.chunks
        ]
        page.encoded = pb.StreamLogsResponse(page=pb.LogPage(chunks=chunks)).SerializeToString()
    return page.encoded


def end_message(job: JobView, last_seq: int) -> pb.StreamLogsResponse:
    end = pb.LogsEnd(state=pb.JobState.Value(job.state), last_seq=last_seq)
    if job.exit_code is not None:
        end.exit_code = job.exit_code
    return pb.StreamLogsResponse(end=end)


def jobs_page(
    found: list[tuple[int, UUID]],
    size: int,
    get: Callable[[UUID], JobView],
    positions: dict[UUID, int],
) -> pb.ListJobsResponse:
    """A page of jobs that also ends before MAX_PAGE_BYTES, whatever the jobs hold."""
    jobs: list[pb.Job] = []
    total = 0
    for n, (_, job_id) in enumerate(found):
        message = job_message(get(job_id), positions.get(job_id, 0))
        total += message.ByteSize()
        if jobs and total > MAX_PAGE_BYTES:
            return pb.ListJobsResponse(jobs=jobs, next_page_token=str(found[n - 1][0]))
        jobs.append(message)
    token = str(found[-1][0]) if found and len(found) == size else ""
    return pb.ListJobsResponse(jobs=jobs, next_page_token=token)


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
        job_id=str(worker.job_id or ""),
        attempt=worker.attempt,
        state=worker.state,
        provider=worker.provider,
        message=worker.message,
        created_at=worker.created_at,
        pool=worker.pool,
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


class InvalidRequest(ValueError):
    """A client's request that no server could answer as asked."""
