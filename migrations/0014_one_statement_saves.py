"""Each event store made again as this version's recorders make it: on PostgreSQL, that adds
the function that saves a set of events in one statement (orchestrator/store/pgevents.py).
Everything else they make is there already, and made again only if missing."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment


def apply(event_stores: dict[str, dict[str, str]]) -> None:
    for name, env in event_stores.items():
        factory = InfrastructureFactory.construct(Environment(name, env))
        recorder = factory.process_recorder() if name == "sagas" else factory.application_recorder()
        recorder.create_table()  # type: ignore[attr-defined]
        factory.close()
