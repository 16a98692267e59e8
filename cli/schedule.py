"""`laino schedule`: jobs submitted at set times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from google.protobuf.json_format import MessageToDict

from laino.cli.client import output_option, reports_errors, schedules_stub, server_option
from laino.cli.output import command_text, emit_json, table
from laino.cli.spec import job_spec, pairs, spec_options_optional_command
from laino.cli.units import Duration
from laino.v1 import laino_pb2 as pb


@click.group()
def schedule() -> None:
    """Run a job on a schedule: cron, or every so often."""


@schedule.command()
@click.argument("name")
@click.option("--cron", default="", help="A cron expression: '0 2 * * *', '@hourly'.")
@click.option("--timezone", default="UTC", show_default=True, help="The cron's time zone.")
@click.option("--every", type=Duration(), default=None, help="Instead of --cron: 30s, 10m, 1h.")
@click.option(
    "--catchup",
    type=click.Choice(["none", "last", "all"]),
    default="last",
    show_default=True,
    help="What fires missed while no server ran do.",
)
@click.option(
    "--overlap",
    type=click.Choice(["skip", "allow", "cancel-previous"]),
    default="skip",
    show_default=True,
    help="What a fire does while the last job still runs.",
)
@click.option("--template", default="", help="Run this template's latest version instead.")
@click.option(
    "--param", "-p", "params", multiple=True, metavar="P=VALUE", help="The template's; repeatable."
)
@spec_options_optional_command
@reports_errors
def create(
    name: str,
    cron: str,
    timezone: str,
    every: float | None,
    catchup: str,
    overlap: str,
    template: str,
    params: tuple[str, ...],
    **options: Any,
) -> None:
    """Create a schedule.

    `laino schedule create nightly --cron '0 2 * * *' -- make test`: the options may follow
    the name, so the command comes after `--`. Or `--template build -p ref=main`: the
    template's latest version, its parameters checked now.
    """
    if cron and every is not None:
        raise click.UsageError("give --cron or --every, not both")
    if not cron and every is None:
        raise click.UsageError("give --cron or --every")
    if every == 0:  # the request cannot tell an interval of 0 from none
        raise click.BadParameter("an interval of at least 1s", param_hint="--every")
    for name_, given in (("--key", options["key"]), ("--secret", options["secrets"])):
        if given:
            raise click.UsageError(f"{name_}: a schedule's jobs take none")
    request = pb.CreateScheduleRequest(
        name=name,
        cron=cron,
        timezone=timezone,
        every_seconds=every or 0.0,
        catchup=catchup,
        overlap=overlap,
    )
    if template:
        if job_spec({**options, "command": ()}) != pb.JobSpec() or options["command"]:
            raise click.UsageError("--template: the command and its options are the template's")
        request.template = template
        request.template_params.update(pairs(params, "--param"))
    elif params:
        raise click.UsageError("--param: give --template too")
    elif not options["command"]:
        raise click.UsageError("give a command, or --template")
    else:
        request.spec.CopyFrom(job_spec(options))
    made = schedules_stub(options["server"]).CreateSchedule(request)
    click.echo(f"schedule {made.name}: {_when(made)}; next {_time(made, made.next_fires[0])}")


@schedule.command(name="list")
@output_option
@server_option
@reports_errors
def list_schedules(output: str, server: str) -> None:
    """List the schedules."""
    found = schedules_stub(server).ListSchedules(pb.ListSchedulesRequest()).schedules
    if output == "json":
        emit_json([_dict(s) for s in found])
        return
    rows = [
        [
            s.name,
            _when(s),
            "paused" if s.paused else (_time(s, s.next_fires[0]) if s.next_fires else "-"),
            command_text(s.spec),
        ]
        for s in found
    ]
    table(["NAME", "WHEN", "NEXT", "COMMAND"], rows)


@schedule.command()
@click.argument("name")
@output_option
@server_option
@reports_errors
def get(name: str, output: str, server: str) -> None:
    """Show a schedule: its next fire times and its last runs."""
    found = schedules_stub(server).GetSchedule(pb.ScheduleRequest(name=name))
    if output == "json":
        emit_json(_dict(found))
        return
    click.echo(f"name:     {found.name}")
    click.echo(f"when:     {_when(found)}{' (paused)' if found.paused else ''}")
    click.echo(f"catchup:  {found.catchup}")
    click.echo(f"overlap:  {found.overlap}")
    click.echo(f"command:  {command_text(found.spec, width=200)}")
    click.echo(f"by:       {found.created_by}")
    click.echo("next:")
    for at in found.next_fires:
        click.echo(f"  {_time(found, at)}")
    click.echo("runs:")
    for run in found.runs:
        outcome = pb.JobState.Name(run.state) if run.job_id else ""
        click.echo(
            f"  {_time(found, run.fire_time)}  {run.job_id or '-':36}  {outcome:10} {run.what}"
        )


def _changer(verb: str, call: str, said: str) -> click.Command:
    @click.argument("name")
    @server_option
    @reports_errors
    def command(name: str, server: str) -> None:
        getattr(schedules_stub(server), call)(pb.ScheduleRequest(name=name))
        click.echo(f"schedule {name} {said}")

    command.__doc__ = f"{verb.capitalize()} a schedule."
    return schedule.command(name=verb)(command)


_changer("pause", "PauseSchedule", "paused")
_changer("resume", "ResumeSchedule", "resumed")
_changer("delete", "DeleteSchedule", "deleted")


@schedule.command()
@click.argument("name")
@server_option
@reports_errors
def trigger(name: str, server: str) -> None:
    """Submit a schedule's job now; print its id."""
    click.echo(schedules_stub(server).TriggerSchedule(pb.ScheduleRequest(name=name)).id)


def _when(found: pb.Schedule) -> str:
    if found.cron:
        return f"cron '{found.cron}' ({found.timezone})"
    return f"every {found.every_seconds:g}s"


def _time(found: pb.Schedule, at: float) -> str:
    zone = ZoneInfo(found.timezone) if found.cron else UTC
    return datetime.fromtimestamp(at, zone).isoformat(timespec="seconds")


def _dict(found: pb.Schedule) -> dict[str, Any]:
    return MessageToDict(found, preserving_proto_field_name=True)
