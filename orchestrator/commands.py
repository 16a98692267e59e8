"""The commands the orchestrator sends to agents, as the protobuf messages their stream carries.

They are built here and travel unchanged through `sessions` (and across NATS, in `cluster/`)
to the agent's stream: a second, plain-data definition of the agent protocol would only be
converted back on the way out.
"""

from __future__ import annotations

from uuid import UUID

from laino.orchestrator.domain.spec import JobSpec
from laino.v1 import laino_pb2 as pb


def spec_message(spec: JobSpec) -> pb.JobSpec:
    # JobSpec's fields are named as the message's, by design.
    return pb.JobSpec(**spec.as_dict())


def run(
    job_id: UUID,
    attempt: int,
    spec: JobSpec,
    first_seq: int,
    secrets: dict[str, str],
    artifact_limit: int = 0,
) -> pb.ServerMessage:
    order = pb.RunJob(
        job_id=str(job_id),
        attempt=attempt,
        spec=spec_message(spec),
        first_seq=first_seq,
        secrets=secrets,
        artifact_limit_bytes=artifact_limit,
    )
    return pb.ServerMessage(run=order)


def cancel(job_id: UUID, grace_seconds: float) -> pb.ServerMessage:
    return pb.ServerMessage(cancel=pb.CancelJob(job_id=str(job_id), grace_seconds=grace_seconds))


def stdin(
    job_id: UUID, offset: int, data: bytes, *, eof: bool, size: tuple[int, int]
) -> pb.ServerMessage:
    rows, cols = size
    piece = pb.StdinData(
        job_id=str(job_id), offset=offset, data=data, eof=eof, rows=rows, cols=cols
    )
    return pb.ServerMessage(stdin=piece)


def shutdown() -> pb.ServerMessage:
    return pb.ServerMessage(shutdown=pb.Shutdown())
