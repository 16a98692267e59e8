"""`laino pool`: warm pools, workers kept ready ahead of the jobs that take them."""

from __future__ import annotations

from typing import Any

import click
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from laino.cli.client import output_option, pools_stub, reports_errors, server_option
from laino.cli.output import age, emit_json, table
from laino.v1 import laino_pb2 as pb


@click.group()
def pool() -> None:
    """Keep workers provisioned and registered ahead of demand; each still runs one job."""


def _target(target: str) -> tuple[str, str]:
    provider, _, image = target.partition(":")
    return provider, image


@pool.command(name="set")
@click.argument("target", metavar="PROVIDER[:IMAGE]")
@click.argument("size", type=click.IntRange(0, 1000))
@output_option
@server_option
@reports_errors
def set_pool(target: str, size: int, output: str, server: str) -> None:
    """Keep SIZE idle workers for jobs of that provider and image (none named: its default).

    `laino pool set docker 4`, `laino pool set docker:python:3.12 2`. Needs an admin token.
    """
    provider, image = _target(target)
    found = pools_stub(server).SetPool(pb.SetPoolRequest(provider=provider, image=image, size=size))
    _show([found], output)


@pool.command(name="list")
@output_option
@server_option
@reports_errors
def list_pools(output: str, server: str) -> None:
    """List the pools: the size each keeps, how many are WARM, how many starting."""
    _show(list(pools_stub(server).ListPools(pb.ListPoolsRequest()).pools), output)


@pool.command()
@click.argument("target", metavar="PROVIDER[:IMAGE]")
@output_option
@server_option
@reports_errors
def delete(target: str, output: str, server: str) -> None:
    """Stop keeping the pool: its idle workers are destroyed; jobs' workers carry on."""
    provider, image = _target(target)
    found = pools_stub(server).DeletePool(pb.PoolRequest(provider=provider, image=image))
    _show([found], output)


@pool.command()
@output_option
@server_option
@reports_errors
def queues(output: str, server: str) -> None:
    """Each provider's places: its capacity, the jobs holding places, the idle pool workers,
    and the jobs waiting in line (with how long the first has waited)."""
    found = list(pools_stub(server).ListQueues(pb.ListQueuesRequest()).queues)
    if output == "json":
        emit_json([_dict(q) for q in found])
        return
    rows = [
        [
            q.provider,
            str(q.capacity),
            str(q.running),
            str(q.pooled),
            str(q.queued),
            age(q.oldest_queued_at) if q.queued else "-",
        ]
        for q in found
    ]
    table(["PROVIDER", "CAPACITY", "RUNNING", "POOLED", "QUEUED", "WAITING"], rows)


def _dict(message: Message) -> dict[str, Any]:
    return MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _show(pools: list[pb.Pool], output: str) -> None:
    if output == "json":
        emit_json([_dict(p) for p in pools])
        return
    rows = [
        [p.provider, p.image or "(default)", str(p.size), str(p.warm), str(p.starting)]
        for p in pools
    ]
    table(["PROVIDER", "IMAGE", "SIZE", "WARM", "STARTING"], rows)
