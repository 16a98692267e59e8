"""`laino template`: named, versioned job definitions with parameters, run with -p."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click
from google.protobuf.json_format import MessageToDict

from laino.cli.client import output_option, reports_errors, server_option, templates_stub
from laino.cli.job import client_dir, follow_job
from laino.cli.output import command_text, emit_json, table
from laino.cli.spec import job_spec, pairs, spec_options
from laino.v1 import laino_pb2 as pb


@click.group()
def template() -> None:
    """Define a job once, with parameters; run it by name."""


def _define(command: click.decorators.FC) -> click.decorators.FC:
    command = click.option(
        "--param",
        "params",
        multiple=True,
        metavar="P[=DEFAULT]",
        help="A parameter its command and env use as {{P}}; without a default, required.",
    )(command)
    command = click.option(
        "--param-pattern",
        "patterns",
        multiple=True,
        metavar="P=REGEX",
        help="The whole value of P must match this RE2 expression.",
    )(command)
    return command


def _request(name: str, options: dict[str, Any]) -> pb.DefineTemplateRequest:
    for flag, given in (("--key", options["key"]), ("--secret", options["secrets"])):
        if given or (flag == "--secret" and options["secret_envs"]):
            raise click.UsageError(f"{flag}: a template's jobs take none")
    patterns = pairs(options["patterns"], "--param-pattern")
    params = []
    for text in options["params"]:
        param, has_default, default = text.partition("=")
        params.append(
            pb.TemplateParam(
                name=param,
                pattern=patterns.pop(param, ""),
                **({"default": default} if has_default else {}),
            )
        )
    if patterns:
        raise click.BadParameter(
            f"{next(iter(patterns))}: no --param declares it", param_hint="--param-pattern"
        )
    return pb.DefineTemplateRequest(name=name, params=params, spec=job_spec(options))


@template.command()
@click.argument("name")
@_define
@spec_options
@reports_errors
def create(name: str, **options: Any) -> None:
    """Define a template: `laino template create build --param ref=main -- make {{ref}}`.

    The options follow the name, so the command comes after `--`.
    """
    made = templates_stub(options["server"]).CreateTemplate(_request(name, options))
    click.echo(f"template {made.name}: version {made.latest.version}")


@template.command()
@click.argument("name")
@_define
@spec_options
@reports_errors
def update(name: str, **options: Any) -> None:
    """Define a template anew: a new version; jobs of the earlier ones keep theirs."""
    made = templates_stub(options["server"]).UpdateTemplate(_request(name, options))
    click.echo(f"template {made.name}: version {made.latest.version}")


@template.command()
@click.argument("name")
@click.option("--param", "-p", "params", multiple=True, metavar="P=VALUE", help="Repeatable.")
@click.option("--version", "number", type=click.IntRange(min=0), default=0, help="[the latest]")
@click.option("--detach", "-d", is_flag=True, help="Print the job id and return at once.")
@click.option("--key", default="", help="Idempotency key: the same key gives the same job.")
@server_option
@reports_errors
def run(
    name: str, params: tuple[str, ...], number: int, detach: bool, key: str, server: str
) -> None:
    """Run a template's job with these parameters; follow it and exit as `job run` does."""
    request = pb.RunTemplateRequest(
        name=name,
        params=pairs(params, "--param"),
        version=number,
        idempotency_key=key,
        client_dir=client_dir(),
    )
    submitted = templates_stub(server).RunTemplate(request)
    if detach:
        click.echo(submitted.job.id)
        return
    sys.exit(follow_job(server, submitted.job.id))


@template.command(name="list")
@output_option
@server_option
@reports_errors
def list_templates(output: str, server: str) -> None:
    """List the templates, each at its latest version."""
    found = templates_stub(server).ListTemplates(pb.ListTemplatesRequest()).templates
    if output == "json":
        emit_json([_dict(t) for t in found])
        return
    rows = [
        [t.name, str(t.latest.version), _params(t.latest), command_text(t.latest.spec)]
        for t in found
    ]
    table(["NAME", "VERSION", "PARAMS", "COMMAND"], rows)


@template.command()
@click.argument("name")
@output_option
@server_option
@reports_errors
def get(name: str, output: str, server: str) -> None:
    """Show a template's latest version."""
    found = templates_stub(server).GetTemplate(pb.TemplateRequest(name=name))
    if output == "json":
        emit_json(_dict(found))
        return
    _show(found.name, found.latest)


@template.command()
@click.argument("name")
@output_option
@server_option
@reports_errors
def history(name: str, output: str, server: str) -> None:
    """Show every version of a template, oldest first."""
    found = templates_stub(server).TemplateHistory(pb.TemplateRequest(name=name)).versions
    if output == "json":
        emit_json([_dict(v) for v in found])
        return
    for n, version in enumerate(found):
        if n:
            click.echo()
        _show(name, version)


@template.command()
@click.argument("name")
@server_option
@reports_errors
def delete(name: str, server: str) -> None:
    """Delete a template; its jobs, and its versions' record, stay."""
    templates_stub(server).DeleteTemplate(pb.TemplateRequest(name=name))
    click.echo(f"template {name} deleted")


def _params(version: pb.TemplateVersion) -> str:
    shown = []
    for p in version.params:
        text = f"{p.name}={p.default}" if p.HasField("default") else p.name
        shown.append(text + (f" ~ {p.pattern}" if p.pattern else ""))
    return ", ".join(shown) or "-"


def _show(name: str, version: pb.TemplateVersion) -> None:
    at = datetime.fromtimestamp(version.created_at, UTC).isoformat(timespec="seconds")
    click.echo(f"name:     {name}")
    click.echo(f"version:  {version.version} ({at} by {version.created_by})")
    click.echo(f"params:   {_params(version)}")
    click.echo(f"command:  {command_text(version.spec, width=200)}")
    if version.spec.env:
        click.echo(f"env:      {' '.join(f'{k}={v}' for k, v in version.spec.env.items())}")


def _dict(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)
