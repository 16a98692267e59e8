"""The schedules' event store, with snapshots: a schedule records every fire, for ever."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment


def apply(event_stores: dict[str, dict[str, str]]) -> None:
    env = {**event_stores["schedules"], "CREATE_TABLE": "y", "IS_SNAPSHOTTING_ENABLED": "y"}
    factory = InfrastructureFactory.construct(Environment("schedules", env))
    factory.application_recorder().create_table()  # type: ignore[attr-defined]
    factory.aggregate_recorder("snapshots").create_table()  # type: ignore[attr-defined]
    factory.close()
