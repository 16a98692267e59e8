"""How the CLI shows jobs, workers and events: aligned text for people, JSON for programs."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from google.protobuf.json_format import MessageToDict

from laino.v1 import laino_pb2 as pb


def job_dict(job: pb.Job) -> dict[str, Any]:
    spec = MessageToDict(job.spec, preserving_proto_field_name=True)
    return {
        "id": job.id,
        "state": pb.JobState.Name(job.state),
        "exit_code": job.exit_code if job.HasField("exit_code") else None,
        "attempt": job.attempt,
        "failure_reason": job.failure_reason or None,
        "message": job.message,
        "worker_id": job.worker_id or None,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "trace_id": job.trace_id or None,
        "submitter": job.submitter or None,
        "queue_position": job.queue_position or None,
        "template": (
            f"{job.spec.template} v{job.spec.template_version}"
            + "".join(f" {k}={v}" for k, v in sorted(job.spec.template_params.items()))
            if job.spec.template
            else None
        ),
        "spec": {**spec, "command": list(job.spec.command)},
    }


def worker_dict(worker: pb.Worker) -> dict[str, Any]:
    return MessageToDict(
        worker, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def event_dict(event: pb.JobEvent) -> dict[str, Any]:
    return {
        "source": event.source,
        "version": event.version,
        "type": event.type,
        "timestamp": event.timestamp,
        "data": json.loads(event.data_json or "{}"),
    }


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def age(timestamp: float) -> str:
    seconds = max(0, int(time.time() - timestamp))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def state_text(job: pb.Job) -> str:
    """The state, with the place in the queue while queued: QUEUED #12."""
    state = pb.JobState.Name(job.state)
    return f"{state} #{job.queue_position}" if job.queue_position else state


def command_text(spec: pb.JobSpec, width: int = 40) -> str:
    text = " ".join(spec.command)
    return text if len(text) <= width else text[: width - 1] + "…"
