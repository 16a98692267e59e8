"""`laino events`: the domain events the servers relayed to NATS, from the first, or live.

`--dead` shows the dead-letter stream instead: what could not be done, and why.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from laino.orchestrator.cluster.bus import (
    DEAD_STREAM,
    DEAD_SUBJECT,
    EVENTS_STREAM,
    EVENTS_SUBJECT,
    BusUnavailable,
    dial,
)
from laino.providers.logfmt import redacted
from laino.providers.tracing import TRACEPARENT

EXIT_INTERRUPTED = 130

Event = dict[str, Any]


@click.command()
@click.option("--nats", envvar="LAINO_NATS", default="", help="nats://… the servers' --nats.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they happen.")
@click.option(
    "--dead", is_flag=True, help="Instead: what was set aside as undoable, with its error."
)
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
def events(nats: str, follow: bool, dead: bool, output: str) -> None:
    """Print every job, worker and saga event, in the order they were recorded."""
    if not nats:
        raise click.ClickException(
            "events are read from NATS: give the servers' --nats URL (or set LAINO_NATS)"
        )
    if dead:
        emit = _json_line if output == "json" else _dead_line
        stream, subject = DEAD_STREAM, DEAD_SUBJECT
    else:
        emit = _json_line if output == "json" else _text_line
        stream, subject = EVENTS_STREAM, EVENTS_SUBJECT
    try:
        asyncio.run(_read(nats, stream, subject, follow, emit, dead))
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None


async def _read(
    url: str,
    stream: str,
    subject: str,
    follow: bool,
    emit: Callable[[Event], None],
    dead: bool,
) -> None:
    import nats.js.errors
    from nats.js.api import DeliverPolicy

    try:
        nc = await dial(url)
    except BusUnavailable as err:
        raise click.ClickException(str(err)) from None
    try:
        js = nc.jetstream()
        try:
            last = (await js.stream_info(stream)).state.last_seq
        except nats.js.errors.NotFoundError:
            raise click.ClickException(
                f"NATS at {redacted(url)} has no {stream} stream: no server with --nats"
                f" {redacted(url)} ran yet"
            ) from None
        if not last and not follow:
            return
        subscription = await js.subscribe(
            f"{subject}.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        async for message in subscription.messages:
            emit(_dead(message) if dead else _event(message))
            if not follow and message.metadata.sequence.stream >= last:
                break
        await subscription.unsubscribe()
    finally:
        await nc.close()


def _event(message: Any) -> Event:
    event: Event = json.loads(message.data)
    trace = (message.headers or {}).get(TRACEPARENT)
    if trace:
        event["traceparent"] = trace
    return event


def _dead(message: Any) -> Event:
    headers = message.headers or {}
    return {
        "subject": message.subject,
        "error": headers.get("Laino-Error", ""),
        "deliveries": int(headers.get("Laino-Deliveries", "0")),
        "timestamp": message.metadata.timestamp.timestamp(),
        "data": message.data.decode(errors="replace"),
    }


def _dead_line(entry: Event) -> None:
    when = datetime.fromtimestamp(entry["timestamp"]).isoformat(timespec="milliseconds")
    click.echo(
        f"{when} {entry['subject']} after {entry['deliveries']} deliveries: {entry['error']}"
    )
    click.echo(f"  {entry['data']}")


def _json_line(event: Event) -> None:
    click.echo(json.dumps(event, sort_keys=True))


def _text_line(event: Event) -> None:
    when = datetime.fromtimestamp(event["timestamp"]).isoformat(timespec="milliseconds")
    data = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(event["data"].items()))
    head = f"{when} {event['source']:<6} {event['aggregate_id']} v{event['version']}"
    click.echo(f"{head} {event['type']} {data}".rstrip())
