"""The job options shared by `job run`, `job submit`, `schedule create` and `template create`,
and the spec they make."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click

from laino.cli.client import jobs_stub, server_option
from laino.cli.units import Size
from laino.v1 import laino_pb2 as pb

# The spec's whole-number fields are 32 bits wide: a larger number is refused here, in words,
# and the server says what range each field takes.
INT32 = click.IntRange(-(2**31), 2**31 - 1)
COUNT = click.IntRange(0, 2**31 - 1)


def pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            shown = "a value" if what == "--secret" else repr(value)  # never echo a secret
            raise click.BadParameter(f"{shown} is not KEY=VALUE", param_hint=what)
        pairs[key] = val
    return pairs


def spec_options(command: click.decorators.FC) -> click.decorators.FC:
    return _spec_options(command, required=True)


def spec_options_optional_command(command: click.decorators.FC) -> click.decorators.FC:
    """For `schedule create`, whose command may come from a template instead."""
    return _spec_options(command, required=False)


def _spec_options(command: click.decorators.FC, *, required: bool) -> click.decorators.FC:
    options = [
        click.option("--image", default="", help="Container image (docker and kubernetes)."),
        click.option("--env", "-e", "env", multiple=True, help="KEY=VALUE, repeatable."),
        click.option(
            "--secret",
            "secrets",
            multiple=True,
            help="NAME=VALUE in the job's env, masked in its log, shown nowhere; repeatable.",
        ),
        click.option(
            "--secret-env",
            "secret_envs",
            multiple=True,
            help="NAME: a secret whose value is this CLI's own $NAME; repeatable.",
        ),
        click.option("--label", "-l", "labels", multiple=True, help="KEY=VALUE, repeatable."),
        click.option("--workdir", default="", help="Working directory of the command."),
        click.option(
            "--timeout", type=float, default=0.0, help="Seconds before the job is stopped."
        ),
        click.option("--cpu", type=float, default=0.0, help="CPU cores."),
        click.option("--memory", type=Size(), default=0, help="Memory limit, e.g. 512m or 2g."),
        click.option(
            "--log-limit",
            type=Size(),
            default=0,
            help="Most bytes of output its log keeps [the server's, 64m].",
        ),
        click.option("--gpus", type=COUNT, default=0, help="GPUs (kubernetes: nvidia.com/gpu)."),
        click.option("--provider", default="", help="process, docker or kubernetes."),
        click.option(
            "--max-attempts", type=COUNT, default=0, help="Attempts on infrastructure failure."
        ),
        click.option("--retry-on-failure", is_flag=True, help="Retry a non-zero exit too."),
        click.option(
            "--priority",
            type=INT32,
            default=0,
            help="Queued jobs go highest first [0; -1000..1000].",
        ),
        click.option(
            "--concurrency",
            default="",
            help="GROUP[=N]: at most N of the group's jobs run at once, in order [N: 1].",
        ),
        click.option(
            "--cancel-in-progress",
            is_flag=True,
            help="Cancel the group's earlier jobs, running or waiting.",
        ),
        click.option(
            "--input",
            "inputs",
            multiple=True,
            metavar="SRC=PATH",
            help="Place a file at PATH first: a local file, job:ID:PATH, or https://URL"
            "[#sha256=HEX]; repeatable.",
        ),
        click.option(
            "--output",
            "outputs",
            multiple=True,
            metavar="PATH_OR_GLOB",
            help="Keep these files after the command, whatever its exit code; repeatable.",
        ),
        click.option("--key", default="", help="Idempotency key: the same key gives the same job."),
        click.argument("command", nargs=-1, required=required),
        server_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def job_spec(options: dict[str, object]) -> pb.JobSpec:
    env = pairs(options["env"], "--env")  # type: ignore[arg-type]
    if options.get("tty"):  # what the terminal is, as `docker run -t` says, unless given
        env.setdefault("TERM", os.environ.get("TERM") or "xterm")
    return pb.JobSpec(
        command=list(options["command"]),  # type: ignore[call-overload]
        image=options["image"],
        env=env,
        labels=pairs(options["labels"], "--label"),  # type: ignore[arg-type]
        working_dir=options["workdir"],
        timeout_seconds=options["timeout"],
        cpu=options["cpu"],
        memory_bytes=options["memory"],
        log_limit_bytes=options["log_limit"],
        stdin=bool(options.get("interactive")),
        tty=bool(options.get("tty")),
        gpus=options["gpus"],
        provider=options["provider"],
        max_attempts=options["max_attempts"],
        retry_on_failure=options["retry_on_failure"],
        priority=options["priority"],
        cancel_in_progress=options["cancel_in_progress"],
        outputs=list(options["outputs"]),  # type: ignore[call-overload]
        inputs=[_input(text, str(options["server"])) for text in options["inputs"]],  # type: ignore[attr-defined]
        **_group(str(options["concurrency"])),
    )


def _input(text: str, server: str) -> pb.JobInput:
    """`--input SRC=PATH`: a local file is sent to the server first."""
    source, sep, path = text.rpartition("=")
    if not sep or not source or not path:
        raise click.BadParameter(f"{text!r} is not SRC=PATH", param_hint="--input")
    if source.startswith("https://"):
        url, _, fragment = source.partition("#")
        digest = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else ""
        if fragment and not digest:
            raise click.BadParameter(f"{fragment!r}: only #sha256=HEX", param_hint="--input")
        return pb.JobInput(source=url, path=path, sha256=digest.lower())
    if source.startswith("job:"):
        return pb.JobInput(source=source, path=path)
    local = Path(source)
    if not local.is_file():
        raise click.BadParameter(
            f"{source!r} is no local file, job:ID:PATH or https:// URL", param_hint="--input"
        )
    stored = jobs_stub(server).UploadInput(_pieces(local))
    return pb.JobInput(source=f"upload:{stored.sha256}", path=path, sha256=stored.sha256)


def _pieces(path: Path) -> Iterator[pb.ArtifactData]:
    with path.open("rb") as file:
        while piece := file.read(1 << 20):
            yield pb.ArtifactData(data=piece)


def _group(text: str) -> dict[str, object]:
    """`--concurrency GROUP[=N]` as the spec's fields."""
    group, _, limit = text.partition("=")
    if not limit:
        return {"concurrency": group}
    if not limit.isdigit() or int(limit) < 1:
        raise click.BadParameter(f"{limit!r} is not a number of jobs", param_hint="--concurrency")
    return {"concurrency": group, "concurrency_limit": int(limit)}
