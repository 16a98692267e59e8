"""`laino job prune`: delete now the output of jobs that ended long ago."""

from __future__ import annotations

import click

from laino.cli.client import jobs_stub, reports_errors, server_option
from laino.cli.units import Duration
from laino.v1 import laino_pb2 as pb


@click.command()
@click.option(
    "--older-than",
    type=Duration(),
    required=True,
    help="Jobs that ended more than this ago: 7d, 12h, 30m.",
)
@server_option
@reports_errors
def prune(older_than: float, server: str) -> None:
    """Delete the output of jobs that ended long ago; their history stays (admin token)."""
    request = pb.PruneLogsRequest(older_than_seconds=older_than)
    pruned = jobs_stub(server).PruneLogs(request).jobs
    click.echo(f"deleted the output of {pruned} job{'' if pruned == 1 else 's'}")
