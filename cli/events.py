"""`laino events`: the domain events the servers relayed to NATS, from the first, or live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from laino.orchestrator.bus import EVENTS_STREAM, EVENTS_SUBJECT, BusUnavailable, dial

EXIT_INTERRUPTED = 130

Event = dict[str, Any]


@click.command()
@click.option("--nats", envvar="LAINO_NATS", default="", help="nats://… the servers' --nats.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they happen.")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
def events(nats: str, follow: bool, output: str) -> None:
    """Print every job, worker and saga event, in the order they were recorded."""
    if not nats:
        raise click.ClickException(
            "events are read from NATS: give the servers' --nats URL (or set LAINO_NATS)"
        )
    emit = _json_line if output == "json" else _text_line
    try:
        asyncio.run(_read(nats, follow, emit))
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None


async def _read(url: str, follow: bool, emit: Callable[[Event], None]) -> None:
    import nats.js.errors
    from nats.js.api import DeliverPolicy

    try:
        nc = await dial(url)
    except BusUnavailable as err:
        raise click.ClickException(str(err)) from None
    try:
        js = nc.jetstream()
        try:
            last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        except nats.js.errors.NotFoundError:
            raise click.ClickException(
                f"NATS at {url} has no {EVENTS_STREAM} stream: no server with --nats {url} ran yet"
            ) from None
        if not last and not follow:
            return
        subscription = await js.subscribe(
            f"{EVENTS_SUBJECT}.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        async for message in subscription.messages:
            emit(json.loads(message.data))
            if not follow and message.metadata.sequence.stream >= last:
                break
        await subscription.unsubscribe()
    finally:
        await nc.close()


def _json_line(event: Event) -> None:
    click.echo(json.dumps(event, sort_keys=True))


def _text_line(event: Event) -> None:
    when = datetime.fromtimestamp(event["timestamp"]).isoformat(timespec="milliseconds")
    data = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(event["data"].items()))
    head = f"{when} {event['source']:<6} {event['aggregate_id']} v{event['version']}"
    click.echo(f"{head} {event['type']} {data}".rstrip())
