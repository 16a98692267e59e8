"""In-process wake-ups: whoever waits on a topic is woken when it changes."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class Hub:
    """Carries no data, only "look again": the stores stay the single source of truth."""

    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def changed(self, topic: str) -> None:
        for event in self._waiters.get(topic, ()):
            event.set()

    @contextmanager
    def watch(self, *topics: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        for topic in topics:
            self._waiters[topic].add(event)
        try:
            yield event
        finally:
            for topic in topics:
                self._waiters[topic].discard(event)
                if not self._waiters[topic]:
                    del self._waiters[topic]


async def wait(event: asyncio.Event, timeout: float) -> None:
    """Waits for the event or the timeout, whichever comes first, then clears the event."""
    # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that arrives as the
    # event is set, and a runner told to stop (its lease lost) would carry on.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    event.clear()


def job_topic(job_id: object) -> str:
    return f"job:{job_id}"


def logs_topic(job_id: object) -> str:
    return f"logs:{job_id}"


# A job was submitted, or a saga's task ended: the runner looks for sagas to drive.
SAGAS = "sagas"
# A job's event was recorded: the relay looks for events to publish.
EVENTS = "events"
