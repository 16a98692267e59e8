"""`laino job`: run, submit, list, get, logs, cancel and events."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence

import click
import grpc

from laino.cli.client import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_INFRASTRUCTURE,
    EXIT_TIMED_OUT,
    jobs_stub,
    output_option,
    reports_errors,
    server_option,
)
from laino.cli.follow import LogFollower, Progress
from laino.cli.lazy import LazyGroup
from laino.cli.output import (
    age,
    command_text,
    emit_json,
    event_dict,
    job_dict,
    state_text,
    table,
)
from laino.cli.printer import Printer, chunk_json
from laino.cli.spec import job_spec, pairs, spec_options
from laino.cli.stdin import StdinSender, raw_terminal
from laino.cli.units import Since
from laino.providers.tracing import TRACEPARENT, Tracing
from laino.v1 import laino_pb2 as pb


@click.group(
    cls=LazyGroup,
    lazy={
        "trace": "laino.cli.timeline:trace",
        "artifacts": "laino.cli.artifacts:artifacts",
        "download": "laino.cli.artifacts:download",
        "prune": "laino.cli.prune:prune",
    },
)
def job() -> None:
    """Run and inspect jobs."""


def _submit(options: dict[str, object], traceparent: str) -> pb.SubmitJobResponse:
    spec = job_spec(options)
    secrets = pairs(options["secrets"], "--secret")  # type: ignore[arg-type]
    for name in options["secret_envs"]:  # type: ignore[attr-defined]
        if name not in os.environ:
            raise click.BadParameter(f"${name} is not set", param_hint="--secret-env")
        secrets[name] = os.environ[name]
    request = pb.SubmitJobRequest(
        spec=spec, idempotency_key=str(options["key"]), secrets=secrets, client_dir=client_dir()
    )
    metadata = [(TRACEPARENT, traceparent)] if traceparent else None
    return jobs_stub(str(options["server"])).SubmitJob(request, metadata=metadata)


# The command line belongs to the command: options end at its first word (`--` works too).
COMMAND_LINE = {"allow_interspersed_args": False}


@job.command(context_settings=COMMAND_LINE)
@click.option("--detach", "-d", is_flag=True, help="Print the job id and return at once.")
@click.option(
    "--interactive", "-i", is_flag=True, help="Send this stdin to the job (else /dev/null)."
)
@click.option("--tty", "-t", is_flag=True, help="Run the job on a terminal; with -i, this one.")
@spec_options
@reports_errors
def run(detach: bool, **options: object) -> None:
    """Run a command as a job, follow its output, and exit with its exit code."""
    # The CLI's span is the root of the job's trace, when tracing is on (OTEL_TRACES_EXPORTER).
    with Tracing("laino-cli").span("laino job run") as span:
        submitted = _submit(options, span.traceparent)
        span.set(job=submitted.job.id)
        if detach:
            click.echo(submitted.job.id)
            return
        server, job_id = str(options["server"]), submitted.job.id
        if not options["interactive"]:
            code = follow_job(server, job_id)
        else:
            StdinSender(jobs_stub(server), job_id, terminal=bool(options["tty"])).start()
            with raw_terminal() if options["tty"] else contextlib.nullcontext():
                code = follow_job(server, job_id, spinner=not options["tty"])
    sys.exit(code)


def follow_job(server: str, job_id: str, *, spinner: bool = True) -> int:
    """Prints the job's output as it comes; returns the exit code `job run` ends with."""
    stub = jobs_stub(server)
    progress = Progress(stub, job_id, enabled=spinner)
    progress.start()
    follower = LogFollower(stub, job_id, show=Printer().write, progress=progress)
    try:
        end = follower.follow(live=True)
    except KeyboardInterrupt:
        # Like a foreground process: Ctrl-C stops the job, and we watch it go. A second Ctrl-C
        # before the cancel is sent must not leave the job running: it waits for the message.
        progress.stop()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            with contextlib.suppress(grpc.RpcError):  # it may have ended meanwhile
                stub.CancelJob(pb.CancelJobRequest(job_id=job_id))
        finally:
            # Not the handler the CLI started with: a script's background job inherits SIGINT
            # ignored, and a Ctrl-C just after the message below would be lost.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            click.echo(f"laino: cancelling job {job_id} (Ctrl-C again to detach)", err=True)
            end = follower.follow(live=True)
        except KeyboardInterrupt:
            click.echo(f"laino: detached; see `laino job get {job_id}`", err=True)
            return EXIT_CANCELLED
    return exit_code(stub.GetJob(pb.GetJobRequest(job_id=job_id)), end)


def exit_code(job: pb.Job, end: pb.LogsEnd) -> int:
    """The CLI's exit code: the job's own, or a documented code for how laino ended it."""
    state = pb.JobState.Name(end.state)
    if state == "SUCCEEDED":
        return 0
    if why := ended_by_laino(job, end):
        click.echo(f"laino: job {job.id} {why}", err=True)
    if state == "CANCELLED":
        return EXIT_CANCELLED
    if state == "TIMED_OUT":
        return EXIT_TIMED_OUT
    if job.failure_reason == "infrastructure" or not end.HasField("exit_code"):
        return EXIT_INFRASTRUCTURE
    return end.exit_code or EXIT_ERROR


def ended_by_laino(job: pb.Job, end: pb.LogsEnd) -> str:
    """Why laino, not the command, ended the job; empty when the command's exit says it all."""
    state = pb.JobState.Name(end.state)
    if state == "CANCELLED":
        return "cancelled"
    if state == "TIMED_OUT":
        return f"timed out after {job.spec.timeout_seconds:g} s"
    if end.HasField("exit_code") and job.message == f"exit code {end.exit_code}":
        return ""
    return f"failed: {job.message}"


@job.command(context_settings=COMMAND_LINE)
@spec_options
@reports_errors
def submit(**options: object) -> None:
    """Submit a command as a job; print only its id."""
    with Tracing("laino-cli").span("laino job submit") as span:
        click.echo(_submit(options, span.traceparent).job.id)


@job.command(name="list")
@click.option("--state", "states", multiple=True, help="Only jobs in this state; repeatable.")
@click.option("--label", "-l", "labels", multiple=True, help="KEY=VALUE, repeatable.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--since", type=Since(), default=None, help="Only jobs submitted since: 1h, 2d, or a time."
)
@output_option
@server_option
@reports_errors
def list_jobs(
    states: tuple[str, ...],
    labels: tuple[str, ...],
    limit: int,
    since: float | None,
    output: str,
    server: str,
) -> None:
    """List jobs, newest first."""
    names = [pb.JobState.Name(v) for v in pb.JobState.values() if v]
    if unknown := [s for s in states if s.upper() not in names]:
        message = f"{unknown[0]!r} is not one of {', '.join(names)}"
        raise click.BadParameter(message, param_hint="--state")
    wanted = [pb.JobState.Value(s.upper()) for s in states]
    stub, token = jobs_stub(server), ""
    jobs: list[pb.Job] = []
    # Pages end at the server's size limit too: follow them until --limit jobs or the last.
    while len(jobs) < limit:
        request = pb.ListJobsRequest(
            states=wanted,
            labels=pairs(labels, "--label"),
            page_size=min(limit - len(jobs), 1000),
            page_token=token,
            created_since=since or 0.0,
        )
        page = stub.ListJobs(request)
        jobs.extend(page.jobs)
        token = page.next_page_token
        if not token:
            break
    if output == "json":
        emit_json([job_dict(j) for j in jobs])
        return
    rows = [
        [
            j.id,
            state_text(j),
            str(j.attempt),
            str(j.exit_code) if j.HasField("exit_code") else "-",
            age(j.created_at),
            command_text(j.spec),
        ]
        for j in jobs
    ]
    table(["ID", "STATE", "ATTEMPT", "EXIT", "AGE", "COMMAND"], rows)


@job.command()
@click.argument("job_id")
@output_option
@server_option
@reports_errors
def get(job_id: str, output: str, server: str) -> None:
    """Show one job."""
    found = job_dict(jobs_stub(server).GetJob(pb.GetJobRequest(job_id=job_id)))
    if output == "json":
        emit_json(found)
        return
    for key, value in found.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else value
        click.echo(f"{key + ':':16}{'' if shown is None else shown}")


@job.command()
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@click.option("--tail", type=click.IntRange(min=0), default=0, help="Start with the last N lines.")
@click.option(
    "--since", type=Since(), default=None, help="Start at output read since: 10m, 1h, or a time."
)
@click.option(
    "--timestamps", "-t", is_flag=True, help="Start each line with the time it was read (UTC)."
)
@output_option
@server_option
@reports_errors
def logs(
    job_id: str,
    follow: bool,
    tail: int,
    since: float | None,
    timestamps: bool,
    output: str,
    server: str,
) -> None:
    """Print a job's output, byte for byte: stdout to stdout, stderr to stderr.

    With -o json, one JSON object per line and chunk: seq, stream, time, and the bytes as
    `text`, or as `base64` when they are not UTF-8.
    """
    show = _json_lines if output == "json" else Printer(timestamps=timestamps).write
    follower = LogFollower(jobs_stub(server), job_id, show=show, tail=tail, since=since or 0.0)
    try:
        follower.follow(live=follow)
    except KeyboardInterrupt:
        # Like `tail -f`: Ctrl-C only stops the printing, quietly; the job runs on.
        sys.exit(EXIT_CANCELLED)


def client_dir() -> str:
    with contextlib.suppress(OSError):  # a folder removed under our feet
        return os.getcwd()
    return ""


def _json_lines(chunks: Sequence[pb.LogChunk]) -> None:
    for chunk in chunks:
        click.echo(chunk_json(chunk))


@job.command()
@click.argument("job_id")
@output_option
@server_option
@reports_errors
def cancel(job_id: str, output: str, server: str) -> None:
    """Cancel a job: its processes are stopped and its worker removed."""
    found = jobs_stub(server).CancelJob(pb.CancelJobRequest(job_id=job_id))
    if output == "json":
        emit_json(job_dict(found))
    else:
        click.echo(f"cancelling job {found.id}")


@job.command()
@click.argument("job_id")
@output_option
@server_option
@reports_errors
def events(job_id: str, output: str, server: str) -> None:
    """Show a job's whole history: its events, its saga's and its workers'."""
    reply = jobs_stub(server).GetJobEvents(pb.GetJobEventsRequest(job_id=job_id))
    entries = [event_dict(e) for e in reply.events]
    if output == "json":
        emit_json(entries)
        return
    started = entries[0]["timestamp"] if entries else 0.0
    rows = [
        [
            f"+{e['timestamp'] - started:.3f}s",
            e["source"],
            e["type"],
            json.dumps(e["data"], sort_keys=True),
        ]
        for e in entries
    ]
    table(["AT", "SOURCE", "EVENT", "DATA"], rows)


job.add_command(submit, name="queue")
