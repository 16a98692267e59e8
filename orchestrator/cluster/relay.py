"""The event relay: every domain event, in notification order, onto the NATS events stream.

Each message carries `Nats-Msg-Id` = installation, application and notification id, so
JetStream drops a republished one and never one of another installation on the same NATS; a
job's events also carry its W3C `traceparent` header. The relay records how far it got only
after the stream acknowledged the section; a relay that dies in between republishes that
section, and nothing appears twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from sqlalchemy import Engine, text

from laino.orchestrator.cluster.bus import Bus
from laino.orchestrator.history import entry
from laino.orchestrator.hub import EVENTS, Hub, wait
from laino.providers.tracing import TRACEPARENT

log = logging.getLogger("laino.relay")

SECTION = 200
IDLE = 0.5
# What each application's events are called on the stream: laino.events.<source>.<type>.
SOURCES = {"Jobs": "job", "Workers": "worker", "Sagas": "saga"}


@dataclass(kw_only=True, eq=False)
class EventRelay:
    apps: Sequence[Application]
    engine: Engine
    bus: Bus
    hub: Hub
    installation: str
    # Each job's traceparent, for the headers of its events.
    traces: dict[str, str] = field(default_factory=dict)

    async def run(self) -> None:
        with self.hub.watch(EVENTS) as wake:
            while True:
                try:
                    for app in self.apps:
                        await self.relay(app)
                except Exception as err:  # NATS or the database away: try again soon
                    log.warning("event relay paused: %s", err or type(err).__name__)
                await wait(wake, IDLE)

    async def relay(self, app: Application) -> None:
        """Publishes what `app` recorded since the last time, a section at a time."""
        source = SOURCES[app.name]
        position = await asyncio.to_thread(self._position, app.name)
        while True:
            section = await asyncio.to_thread(_section, app, position + 1)
            if not section:
                return
            for notification in section:
                event = app.mapper.to_domain_event(notification)
                described = entry(source, event)
                payload = {
                    "notification_id": notification.id,
                    "aggregate_id": str(notification.originator_id),
                    **asdict(described),
                }
                subject = f"{source}.{described.type}"
                msg_id = f"{self.installation}:{app.name}:{notification.id}"
                headers = {"Nats-Msg-Id": msg_id}
                if source == "job":
                    trace = await self._trace(app, payload["aggregate_id"], described.data)
                    if trace:
                        headers[TRACEPARENT] = trace
                await self.bus.publish_event(subject, json.dumps(payload).encode(), headers)
            position = section[-1].id
            await asyncio.to_thread(self._record, app.name, position)

    async def _trace(self, app: Application, job_id: str, data: dict[str, Any]) -> str:
        """The job's trace context: on its Submitted event, or read once from the job."""
        if "trace" in data:
            self.traces[job_id] = data["trace"]
        if job_id not in self.traces:
            # Its first event, not the job: the applications' caches are the loop's alone.
            first = await asyncio.to_thread(_first_event, app, UUID(job_id))
            self.traces[job_id] = getattr(first, "trace", "")
        return self.traces[job_id]

    def _position(self, app: str) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT position FROM relay_position WHERE app = :app"), {"app": app}
            ).scalar()
        return int(found or 0)

    def _record(self, app: str, position: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO relay_position VALUES (:app, :position) ON CONFLICT (app)"
                    " DO UPDATE SET position = excluded.position"
                ),
                {"app": app, "position": position},
            )


def _section(app: Application, start: int) -> list[Any]:
    return list(app.notification_log.select(start=start, limit=SECTION))


def _first_event(app: Application, aggregate_id: UUID) -> Any:
    return next(iter(app.events.get(aggregate_id, limit=1)), None)
