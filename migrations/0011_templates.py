"""The templates' event store: named job definitions, each change a new version."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment


def apply(event_stores: dict[str, dict[str, str]]) -> None:
    env = {**event_stores["templates"], "CREATE_TABLE": "y"}
    factory = InfrastructureFactory.construct(Environment("templates", env))
    factory.application_recorder().create_table()  # type: ignore[attr-defined]
    factory.close()
