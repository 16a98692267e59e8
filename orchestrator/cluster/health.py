"""Is the server fit to serve: the database, and NATS when it is used, must answer.

A thread pings the database twice a second and records the answer, so that the API, the agents'
streams and calls already under way stop touching a database that is away: each call would
otherwise stall the whole server in the driver's retries. Health says NOT_SERVING meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from contextlib import AbstractContextManager
from uuid import UUID

import psycopg
import psycopg_pool
import sqlalchemy
import sqlalchemy.exc
from eventsourcing.application import Application
from eventsourcing.postgres import PostgresDatastore
from grpc_health.v1 import health
from grpc_health.v1.health_pb2 import HealthCheckResponse
from psycopg import Connection
from psycopg.rows import DictRow
from psycopg_pool import ConnectionPool
from sqlalchemy import text

from laino.orchestrator.cluster.bus import Bus
from laino.orchestrator.sessions import Sessions
from laino.orchestrator.store.database import DatabaseAway

log = logging.getLogger("laino.health")

EVERY = 0.5


class Availability:
    """What the last check saw; read by anyone, written by the watch."""

    def __init__(self) -> None:
        self.database = True
        # The last outage of the database (wall clock): when it went away and came back.
        self.went_away = 0.0
        self.came_back = 0.0
        self.pools: list[ConnectionPool[Connection[DictRow]]] = []

    def check(self) -> None:
        if not self.database:
            raise DatabaseAway("the database is unavailable; try again")

    def guard(self, app: Application[UUID]) -> None:
        """Calls to the app's event store fail at once while the database is away. eventsourcing
        tries a call ten times, each waiting a second for a connection: a call under way when
        the database went away held the server's loop for ten seconds, and a saga's step made
        several. Now its next try stops it. The embedded store has no such wait."""
        datastore = getattr(app.factory, "datastore", None)
        if not isinstance(datastore, PostgresDatastore):
            return
        self.pools.append(datastore.pool)
        connection = datastore.get_connection

        def get_connection() -> AbstractContextManager[Connection[DictRow]]:
            self.check()
            return connection()

        datastore.get_connection = get_connection  # type: ignore[method-assign,assignment]

    def saw(self, answers: bool) -> None:
        if answers != self.database:
            if answers:
                # The connections pooled before the outage are broken. Each would fail a call
                # once, and eventsourcing would wait and try again: the loop stalled 6-8 s after
                # a partition. Checked here, they are replaced before any call meets them.
                for pool in self.pools:
                    with contextlib.suppress(psycopg.Error, psycopg_pool.PoolClosed):
                        pool.check()
                self.came_back = time.time()
            else:
                self.went_away, self.came_back = time.time(), 0.0
        self.database = answers


async def watch(
    servicer: health.aio.HealthServicer,
    availability: Availability,
    engine: sqlalchemy.Engine,
    bus: Bus | None,
    sessions: Sessions,
) -> None:
    serving = None
    # The pings run on a thread of their own, which marks the database away even while the
    # event loop is stuck in a call to it: the agents' streams and the API then stop calling it
    # at once, and the loop gets free to say NOT_SERVING.
    threading.Thread(target=_ping, args=(engine, availability), daemon=True).start()
    while True:
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


def _ping(engine: sqlalchemy.Engine, availability: Availability) -> None:
    while True:
        availability.saw(_answers(engine))
        time.sleep(EVERY)


def _answers(engine: sqlalchemy.Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError:
        return False
    return True
