"""The three applications' event stores (and the sagas' tracking table).

Made by eventsourcing's own recorders, whose version the project pins: their DDL (on
PostgreSQL a table, a type and an insert function per store) is the library's to define.
"""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment


def apply(event_stores: dict[str, dict[str, str]]) -> None:
    for name, env in event_stores.items():
        if name not in ("jobs", "workers", "sagas"):
            continue  # later migrations make later stores
        # Named like the application, whose name gives the PostgreSQL tables theirs.
        factory = InfrastructureFactory.construct(Environment(name, {**env, "CREATE_TABLE": "y"}))
        # Sagas follow the jobs' log: their recorder also keeps a tracking table.
        recorder = factory.process_recorder() if name == "sagas" else factory.application_recorder()
        recorder.create_table()  # type: ignore[attr-defined]
        factory.close()
