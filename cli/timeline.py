"""`laino job trace`: where a job's time went, phase by phase, from its event history."""

from __future__ import annotations

import time
from dataclasses import asdict

import click

from laino.cli.client import jobs_stub, output_option, reports_errors, server_option
from laino.cli.output import emit_json, event_dict, table
from laino.orchestrator.phases import phases, pools
from laino.v1 import laino_pb2 as pb


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
