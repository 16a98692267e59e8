"""`laino job trace`: where a job's time went, phase by phase, from its event history."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import click

from laino.cli.client import jobs_stub, output_option, reports_errors, server_option
from laino.cli.output import emit_json, event_dict, table
from laino.v1 import laino_pb2 as pb


@dataclass(frozen=True)
class Phase:
    name: str
    attempt: int
    start: float  # seconds after submission
    seconds: float
    ongoing: bool = False


def _milestone(event: dict[str, Any], pooled: bool) -> str | None:
    """The phase an event starts, if it starts one. `pooled`: the attempt claimed a warm pool
    worker, registered already, so that its provisioning ends in the dispatch."""
    source, kind, data = event["source"], event["type"], event["data"]
    step = str(data.get("step", "")).split("#")[0]
    return {
        ("job", "Submitted"): "queued",
        ("job", "ProvisioningStarted"): "provisioning",
        ("saga", "StepSucceeded", "provision_worker"): "dispatch" if pooled else "registration",
        ("worker", "Registered"): "dispatch",
        ("job", "Started"): "running",
        ("job", "CancelRequested"): "cancelling",
        ("job", "RetryScheduled"): "retry backoff",
        ("job", "Ended"): "cleanup",
        ("saga", "Finished"): "",
    }.get((source, kind, step) if source == "saga" and step else (source, kind))


def phases(events: list[dict[str, Any]], now: float) -> list[Phase]:
    """Each phase lasts from the event that starts it to the next such event."""
    marks: list[tuple[str, int, float]] = []
    attempt = 0
    pooled = pools(events)
    for event in events:
        attempt = event["data"].get("attempt", attempt) if event["source"] == "job" else attempt
        name = _milestone(event, attempt in pooled)
        if name is not None and (not marks or marks[-1][0] != name):
            marks.append((name, attempt, event["timestamp"]))
    if not marks:
        return []
    submitted = marks[0][2]
    result = []
    for (name, number, at), following in zip(marks, [*marks[1:], None], strict=True):
        if not name:
            break
        end = following[2] if following else now
        result.append(Phase(name, number, at - submitted, end - at, ongoing=following is None))
    return result


def pools(events: list[dict[str, Any]]) -> dict[int, str]:
    """The attempts that claimed a warm pool worker, and its pool."""
    return {
        int(e["data"]["attempt"]): str(e["data"].get("pool", ""))
        for e in events
        if e["source"] == "worker" and e["type"] == "Claimed"
    }


@click.command(name="trace")
@click.argument("job_id")
@output_option
@server_option
@reports_errors
def trace(job_id: str, output: str, server: str) -> None:
    """Show where a job's time went: each phase and how long it took."""
    stub = jobs_stub(server)
    found = stub.GetJob(pb.GetJobRequest(job_id=job_id))
    reply = stub.GetJobEvents(pb.GetJobEventsRequest(job_id=job_id))
    events = [event_dict(e) for e in reply.events]
    timeline = phases(events, time.time())
    pooled = pools(events)
    if output == "json":
        emit_json(
            {
                "trace_id": found.trace_id or None,
                "phases": [asdict(p) for p in timeline],
                "pools": {str(attempt): pool for attempt, pool in pooled.items()},
            }
        )
        return
    rows = [
        [
            p.name,
            str(p.attempt or ""),
            f"+{p.start:.3f}s",
            f"{p.seconds:.3f}s" + (" (so far)" if p.ongoing else ""),
        ]
        for p in timeline
    ]
    table(["PHASE", "ATTEMPT", "AT", "TOOK"], rows)
    ended = not timeline or not timeline[-1].ongoing
    total = sum(p.seconds for p in timeline)
    click.echo(f"{'total' if ended else 'so far'}: {total:.3f}s in {pb.JobState.Name(found.state)}")
    for attempt, pool in sorted(pooled.items()):
        click.echo(f"attempt {attempt}: a warm worker from pool {pool}, none provisioned")
    if found.trace_id:
        click.echo(f"trace: {found.trace_id}")
