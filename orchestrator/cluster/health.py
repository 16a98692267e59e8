"""Is the server fit to serve: the database, and NATS when it is used, must answer.

A thread pings the database twice a second and records the answer, so that the API, the agents'
streams and the saga runner stop touching a database that is away: each call would otherwise
stall the whole server in the driver's retries. Health says NOT_SERVING meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy
import sqlalchemy.exc
from grpc_health.v1 import health
from grpc_health.v1.health_pb2 import HealthCheckResponse
from sqlalchemy import text

from laino.orchestrator.cluster.bus import Bus
from laino.orchestrator.sessions import Sessions

log = logging.getLogger("laino.health")

EVERY = 0.5


class Availability:
    """What the last check saw; read by anyone, written by the watch."""

    def __init__(self) -> None:
        self.database = True

    def check(self) -> None:
        if not self.database:
            raise DatabaseAway("the database is unavailable; try again")


async def watch(
    servicer: health.aio.HealthServicer,
    availability: Availability,
    engine: sqlalchemy.Engine,
    bus: Bus | None,
    sessions: Sessions,
) -> None:
    serving = None
    while True:
        availability.database = await asyncio.to_thread(_answers, engine)
        away = [
            name
            for name, answers in (
                ("the database", availability.database),
                ("NATS", bus is None or bus.connected),
            )
            if not answers
        ]
        if (not away) != serving:
            serving = not away
            if serving:
                log.info("serving")
                # Agents could not be heard while the server stalled: give them a fresh window.
                sessions.excuse()
            else:
                log.warning("not serving: %s unavailable", " and ".join(away))
            status = HealthCheckResponse.SERVING if serving else HealthCheckResponse.NOT_SERVING
            await servicer.set("", status)
        await asyncio.sleep(EVERY)


def _answers(engine: sqlalchemy.Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError:
        return False
    return True


class DatabaseAway(RuntimeError):
    """The database did not answer the last check."""
