"""The `laino` command: one sub-command group per noun."""

from __future__ import annotations

import asyncio
import sys

import click

from laino.cli.client import jobs_stub, output_option, reports_errors, server_option
from laino.cli.lazy import LazyGroup
from laino.cli.output import age, emit_json, table, worker_dict
from laino.cli.units import Duration, Size
from laino.providers import logfmt
from laino.providers.tracing import TracingUnavailable
from laino.v1 import laino_pb2 as pb


@click.group(
    cls=LazyGroup,
    lazy={
        "job": "laino.cli.job:job",
        "db": "laino.cli.db:db",
        "events": "laino.cli.events:events",
        "token": "laino.cli.token:token",
        "schedule": "laino.cli.schedule:schedule",
        "template": "laino.cli.template:template",
        "pool": "laino.cli.pool:pool",
        "tls": "laino.cli.tls:tls",
    },
)
@click.version_option(package_name="laino")
def cli() -> None:
    """laino: run commands as jobs on ephemeral workers, and watch them live."""


@cli.command()
@click.option(
    "--listen", envvar="LAINO_LISTEN", default=None, help="The API's HOST:PORT [127.0.0.1:50051]."
)
@click.option(
    "--agent-listen",
    envvar="LAINO_AGENT_LISTEN",
    default=None,
    help="The agents' HOST:PORT [--listen's host, its port + 1].",
)
@click.option(
    "--http-listen",
    envvar="LAINO_HTTP_LISTEN",
    default=None,
    help="HOST:PORT of the HTTP/JSON API (docs/http.md) [none].",
)
@click.option("--home", envvar="LAINO_HOME", default=None, help="Where the embedded state lives.")
@click.option(
    "--database", envvar="LAINO_DATABASE", default=None, help="postgresql://… [SQLite in --home]."
)
@click.option(
    "--nats", envvar="LAINO_NATS", default=None, help="nats://… for events and several servers."
)
@click.option("--provider", default=None, help="Default provider for jobs that name none.")
@click.option(
    "--job-user", default=None, help="Who process jobs run as, for a root server [nobody]."
)
@click.option(
    "--allow-workdir",
    default=None,
    help="Comma-separated folders a process job may name as its absolute --workdir [none].",
)
@click.option(
    "--heartbeat-timeout", type=float, default=None, help="Seconds before a silent worker is LOST."
)
@click.option(
    "--register-timeout", type=float, default=None, help="Seconds a worker has to register."
)
@click.option("--max-attempts", type=int, default=None, help="Default attempts per job.")
@click.option(
    "--capacity",
    default=None,
    help="Most workers at once: PROVIDER=N,… [process: cores, docker: 2 x cores, kubernetes: 50].",
)
@click.option(
    "--warm",
    multiple=True,
    help="PROVIDER[:IMAGE]=N: keep N idle workers ready for jobs of that provider and image"
    " (repeatable; `laino pool` changes it at run time).",
)
@click.option(
    "--warm-ttl",
    type=Duration(),
    default=None,
    help="How long a pool worker waits for a job before it is replaced [15m].",
)
@click.option(
    "--log-limit",
    "log_limit_bytes",
    type=Size(),
    default=None,
    help="Most bytes of output a job's log keeps; jobs may ask for less [64m].",
)
@click.option(
    "--inputs-ca",
    default=None,
    help="CA certificates (PEM) agents trust for https:// --input URLs, beside the system's.",
)
@click.option(
    "--artifacts",
    default=None,
    help="s3://BUCKET[/PREFIX]: artifacts in an S3-compatible store (AWS_ENDPOINT_URL, …)"
    " [the database, or the home folder].",
)
@click.option(
    "--artifact-limit",
    "artifact_limit_bytes",
    type=Size(),
    default=None,
    help="Most bytes of artifacts (--output files) one job keeps [1g].",
)
@click.option(
    "--retain",
    type=Duration(),
    default=None,
    help="How long a job's output is kept after it ends; its history stays [30d].",
)
@click.option(
    "--advertise",
    default=None,
    help="HOST:PORT of the agent door that workers dial; several, comma-separated, to fail over.",
)
@click.option("--worker-image", default=None, help="Docker workers' image [laino/worker:VERSION].")
@click.option(
    "--reconcile-interval", type=float, default=None, help="Seconds between orphan sweeps [15]."
)
@click.option(
    "--reconcile-grace", type=float, default=None, help="Seconds before an orphan is removed [60]."
)
@click.option(
    "--log-format", type=click.Choice(logfmt.FORMATS), default=None, help="text or json [text]."
)
@click.option("--metrics-listen", default=None, help="HOST:PORT to serve Prometheus metrics on.")
@click.option("--tls-cert", default=None, help="The server's TLS certificate (PEM), both doors.")
@click.option("--tls-key", default=None, help="Its private key (PEM).")
@click.option(
    "--tls-ca", default=None, help="The CA that signed --tls-cert, given to agents [the cert]."
)
@click.option(
    "--tls-client-ca", default=None, help="Require client certificates signed by this CA."
)
@click.option(
    "--insecure",
    is_flag=True,
    default=None,
    help="Serve without TLS on addresses other machines reach (it warns).",
)
@click.option("--k8s-namespace", default=None, help="Namespace of Kubernetes workers [off].")
@click.option("--kubeconfig", default=None, help="[KUBECONFIG, ~/.kube/config or in-cluster].")
@click.option("--k8s-service-account", default=None, help="Service account of worker pods.")
@click.option("--k8s-node-selector", default=None, help="KEY=VALUE,… for worker pods.")
def server(**options: object) -> None:
    """Run the orchestrator."""
    from laino.orchestrator.cluster.bus import BusUnavailable
    from laino.orchestrator.listeners import ListenRefused
    from laino.orchestrator.providers import KubernetesRefused
    from laino.orchestrator.server import serve
    from laino.orchestrator.settings import Settings
    from laino.orchestrator.startup import (
        DatabaseUnavailable,
        HomeInUse,
        JobUserUnknown,
        SchemaMismatch,
    )
    from laino.orchestrator.store.database import UnsupportedDatabase
    from laino.orchestrator.store.objects import InvalidObjectStore, ObjectStoreAway

    options["warm"] = ",".join(options["warm"]) or None  # type: ignore[arg-type]
    settings = Settings.from_env(**options)
    try:
        # A bad --capacity or --warm is refused before anything starts.
        settings.capacities  # noqa: B018
        settings.warm_pools  # noqa: B018
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    refusals = (
        ListenRefused,
        JobUserUnknown,
        UnsupportedDatabase,
        DatabaseUnavailable,
        HomeInUse,
        SchemaMismatch,
        TracingUnavailable,
        BusUnavailable,
        KubernetesRefused,
        InvalidObjectStore,
        ObjectStoreAway,
    )
    try:
        logfmt.configure("server", settings.log_format)
        asyncio.run(serve(settings))
    except (logfmt.UnknownFormat, *refusals) as err:
        raise click.ClickException(str(err)) from None


@cli.command()
def agent() -> None:
    """Run a worker's agent (started by a provider, not by hand)."""
    from laino.providers.agent import main

    sys.exit(main())


WORKER_STATES = [
    "PROVISIONING",
    "WARM",
    "REGISTERED",
    "BUSY",
    "TERMINATING",
    "TERMINATED",
    "LOST",
    "FAILED",
]
# Those a provider may still run.
LIVE_WORKERS = WORKER_STATES[:5]


@cli.group()
def worker() -> None:
    """Inspect workers."""


@worker.command(name="list")
@click.option("--all", "every", is_flag=True, help="Ended workers too.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(WORKER_STATES, case_sensitive=False),
    help="Only workers in this state; repeatable.",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@output_option
@server_option
@reports_errors
def list_workers(
    every: bool, states: tuple[str, ...], limit: int, output: str, server: str
) -> None:
    """List live workers, newest first (--all: ended ones too)."""
    wanted = [s.upper() for s in states] or ([] if every else LIVE_WORKERS)
    request = pb.ListWorkersRequest(states=wanted, limit=limit)
    workers = list(jobs_stub(server).ListWorkers(request).workers)
    if output == "json":
        emit_json([worker_dict(w) for w in workers])
        return
    rows = [
        [
            w.id,
            w.job_id or f"(pool {w.pool})",
            str(w.attempt),
            w.state,
            w.provider,
            age(w.created_at),
            w.message,
        ]
        for w in workers
    ]
    table(["ID", "JOB", "ATTEMPT", "STATE", "PROVIDER", "AGE", "MESSAGE"], rows)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
