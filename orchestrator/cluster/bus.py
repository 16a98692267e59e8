"""NATS JetStream, when the server is given `--nats`: one connection and the streams laino keeps.

nats-py is imported only here, and only when NATS is asked for: the embedded server never loads
it. The connection reconnects by itself, for ever; `connected` tells health checks how it is.
"""

from __future__ import annotations

import logging
from typing import Any

from laino.providers.logfmt import redacted

log = logging.getLogger("laino.bus")

EVENTS_STREAM = "LAINO_EVENTS"
EVENTS_SUBJECT = "laino.events"
# Jobs submitted by publishing their spec; a work queue the lease holder consumes.
SUBMIT_STREAM = "LAINO_SUBMIT"
SUBMIT_SUBJECT = "laino.submit"
SUBMIT_DURABLE = "laino-submit"
# What could not be done, with its error in the Laino-Error header.
DEAD_STREAM = "LAINO_DEAD"
DEAD_SUBJECT = "laino.dead"
# How long a taken submission may stay unacknowledged before NATS delivers it again.
ACK_WAIT = 30.0
# Long enough to cover a relay that published a section, crashed, and republishes it on restart.
DUPLICATE_WINDOW = 600.0
CONNECT_TIMEOUT = 2.0
# A NATS that stops answering (a network partition: nothing refused) is noticed after two
# pings go unanswered, a few seconds, not nats-py's default of two minutes each; health says
# NOT_SERVING meanwhile and the connection reconnects.
PING_INTERVAL = 2


class Bus:
    def __init__(self, url: str):
        self.url = url
        self.nc: Any = None
        self.js: Any = None

    async def connect(self) -> None:
        import nats.errors
        from nats.js.api import RetentionPolicy, StreamConfig

        self.nc = await dial(
            self.url,
            no_echo=True,  # its own wake-ups and presence are not news to a server
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            error_cb=self._error,
        )
        self.js = self.nc.jetstream()
        streams = [
            StreamConfig(
                name=EVENTS_STREAM,
                subjects=[f"{EVENTS_SUBJECT}.>"],
                duplicate_window=DUPLICATE_WINDOW,
            ),
            StreamConfig(
                name=SUBMIT_STREAM,
                subjects=[SUBMIT_SUBJECT],
                retention=RetentionPolicy.WORK_QUEUE,
                duplicate_window=DUPLICATE_WINDOW,
            ),
            StreamConfig(name=DEAD_STREAM, subjects=[f"{DEAD_SUBJECT}.>"]),
        ]
        try:
            for stream in streams:
                await self.js.add_stream(stream)
        except nats.errors.Error as err:
            await self.nc.close()
            raise BusUnavailable(f"NATS at {redacted(self.url)} has no JetStream: {err}") from err

    @property
    def connected(self) -> bool:
        return self.nc is not None and bool(self.nc.is_connected)

    async def publish_event(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        """Publishes to the events stream, which drops a `Nats-Msg-Id` it already has."""
        await self.js.publish(f"{EVENTS_SUBJECT}.{subject}", payload, headers=headers)

    async def submissions(self) -> Any:
        """The durable pull subscription on the submission queue."""
        from nats.js.api import AckPolicy, ConsumerConfig

        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT)
        return await self.js.pull_subscribe(
            SUBMIT_SUBJECT, durable=SUBMIT_DURABLE, stream=SUBMIT_STREAM, config=config
        )

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()

    async def _disconnected(self) -> None:
        log.warning("lost NATS at %s; reconnecting", redacted(self.url))

    async def _reconnected(self) -> None:
        log.info("reconnected to NATS at %s", redacted(self.url))

    async def _error(self, err: Exception) -> None:
        log.debug("NATS: %s", err)


async def _ignore(err: Exception) -> None:
    """A failed first connect is said once, by `dial`'s caller."""


async def dial(url: str, **options: Any) -> Any:
    """A connection that reconnects for ever, once the first connect has worked."""
    import nats
    import nats.errors

    # Without a callback of its own, nats-py prints a traceback for every failed attempt.
    options.setdefault("error_cb", _ignore)
    try:
        # nats-py retries a first connect as often as a reconnect: for ever, if allowed to.
        nc = await nats.connect(
            url,
            connect_timeout=CONNECT_TIMEOUT,
            ping_interval=PING_INTERVAL,
            max_outstanding_pings=2,
            max_reconnect_attempts=1,
            **options,
        )
    except (OSError, TimeoutError, nats.errors.Error) as err:
        why = err or type(err).__name__
        raise BusUnavailable(f"cannot reach NATS at {redacted(url)}: {why}") from None
    nc.options["max_reconnect_attempts"] = -1
    return nc


class BusUnavailable(RuntimeError):
    """NATS cannot be reached, or has no JetStream."""
