"""The client tokens' event store: who may call the API, each issue and revocation an event."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment


def apply(event_stores: dict[str, dict[str, str]]) -> None:
    env = {**event_stores["tokens"], "CREATE_TABLE": "y"}
    factory = InfrastructureFactory.construct(Environment("tokens", env))
    factory.application_recorder().create_table()  # type: ignore[attr-defined]
    factory.close()
