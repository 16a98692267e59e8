"""While the database is away, a call to an event store fails at once, rather than holding the
server's event loop in eventsourcing's retries (ten tries, each waiting for a connection)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from uuid import uuid4

import pytest

from laino.orchestrator.apps import JobsApp
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.store.database import Database, DatabaseAway
from tests.postgres import Postgres


@pytest.fixture
def jobs(tmp_path: Path, postgres_url: str) -> JobsApp:
    database = Database(tmp_path, postgres_url)
    return JobsApp(database.event_store("jobs"))


@pytest.fixture
def availability(jobs: JobsApp) -> Availability:
    """Guarding the jobs' event store, which has a connection in its pool."""
    availability = Availability()
    availability.guard(jobs)
    assert not jobs.exists(uuid4())
    return availability


def test_a_call_made_while_the_database_is_away_is_refused_at_once(
    jobs: JobsApp, availability: Availability, postgres: Postgres
) -> None:
    with postgres.away():
        availability.saw(False)
        with pytest.raises(DatabaseAway):
            jobs.exists(uuid4())
    availability.saw(True)
    assert not jobs.exists(uuid4())


def test_a_call_under_way_when_the_database_is_seen_away_stops_at_its_next_try(
    jobs: JobsApp, availability: Availability, postgres: Postgres
) -> None:
    failures: list[Exception] = []

    def call() -> None:
        try:
            jobs.exists(uuid4())
        except Exception as err:
            failures.append(err)

    with postgres.away():
        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(1.5)  # past its first try: eventsourcing's retries under way
        availability.saw(False)
        caller.join(timeout=30)
    # Without the guard, it would have spent its ten tries and ended OperationalError.
    assert [type(err) for err in failures] == [DatabaseAway]


def test_the_connections_an_outage_broke_are_replaced_as_it_ends(
    availability: Availability, postgres: Postgres
) -> None:
    with postgres.away():
        availability.saw(False)
    availability.saw(True)
    # The pool no longer hands out the connection it held: a call would fail on it once, and
    # eventsourcing would wait and try again, with the server's loop.
    with availability.pools[0].connection() as connection:
        assert connection.execute("SELECT 1 AS one").fetchone() == {"one": 1}
