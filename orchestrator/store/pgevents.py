"""eventsourcing's PostgreSQL recorders, saving a set of events in one statement.

eventsourcing saves each set in a pipelined transaction of its own: lock the events table,
notify, insert, sync, read the notification ids back, commit. Each statement is prepared, sent
and read back by psycopg in Python: a third of the time the server's Python held the GIL went
to those saves (a profile of 300 jobs). Here one call of a database function does the same in
one statement, on a connection in autocommit, so in one transaction: the table locked first,
the notification sent at commit, the ids returned.

The lock is the point: it keeps notification ids in commit order, which the followers of
each log (the sagas, the views, the relay, the caches: tailing.py) rely on. eventsourcing's
own database function (POSTGRES_ENABLE_DB_FUNCTIONS) takes no lock, skips a process
application's tracking record, and has one name in a schema for every store. A save with a
tracking record (a saga's start) calls a second function that also keeps that record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent, Tracking
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
)
from eventsourcing.utils import retry
from psycopg.sql import SQL, Composable, Composed, Identifier

from laino.orchestrator.store.tailing import SIFTED


class OneStatementRecorder(PostgresApplicationRecorder):
    """An application's events table, with the function that saves into it (made with the
    table, and by migration 0014 for tables made before)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.insert_call = self._saving_function("insert", [], SQL(""))
        self.select_saved = SQL(
            "SELECT notification_id, originator_id, originator_version FROM {schema}.{table}"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(schema=schema, table=Identifier(self.events_table_name))
        # The same for one table among several (saved_since_together): the n-th.
        self.select_saved_nth = SQL(
            "(SELECT %s::int AS nth, notification_id, originator_id, originator_version"
            " FROM {schema}.{table} WHERE notification_id > %s"
            " ORDER BY notification_id LIMIT %s)"
        ).format(schema=schema, table=Identifier(self.events_table_name))

    def _saving_function(self, kind: str, arguments: list[str], first: Composable) -> Composed:
        """Adds the function that locks the table, does `first`, notifies and inserts the
        events, to what the recorder makes; returns its call: the events, then `arguments`."""
        schema = Identifier(self.datastore.schema)
        function = Identifier(f"laino_{kind}_{self.events_table_name}")
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]"
                "{arguments}) RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ BEGIN "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "{first}"
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} "
                "(originator_id, originator_version, topic, state) "
                "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
                "RETURNING notification_id; "
                "END; $BODY$"
            ).format(
                schema=schema,
                function=function,
                arguments=SQL("".join(f", {argument}" for argument in arguments)),
                first=first,
                event=Identifier(self.stored_event_type_name),
                table=Identifier(self.events_table_name),
                channel=Identifier(self.channel_name),
            )
        )
        placeholders = SQL(", ").join(SQL("%s") for _ in range(1 + len(arguments)))
        return SQL("SELECT id FROM {schema}.{function}({placeholders}) AS id").format(
            schema=schema, function=function, placeholders=placeholders
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events or kwargs.get("tracking") is not None:
            return super().insert_events(stored_events, **kwargs)
        return self._call(self.insert_call, stored_events)

    # As eventsourcing retries its own saves.
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _call(
        self, call: Composed, stored_events: Sequence[StoredEvent], *more: object
    ) -> list[int]:
        """Saves the events in one call of a saving function, its arguments after them `more`."""
        events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            assert conn.autocommit  # the call is its own transaction
            cursor.execute(call, (events, *more), prepare=True)
            return [row["id"] for row in cursor.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def saved_since(self, position: int) -> list[tuple[int, UUID, int]]:
        """Which aggregate each save after that notification id was of, and its version."""
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self.select_saved, (position, SIFTED), prepare=True)
            return [
                (row["notification_id"], row["originator_id"], row["originator_version"])
                for row in cursor.fetchall()
            ]

    def last_id(self) -> int:
        return self.max_notification_id() or 0


def saved_since_together(
    recorders: Sequence[OneStatementRecorder],
) -> Callable[[Sequence[int]], list[list[tuple[int, UUID, int]]]]:
    """saved_since for several tables of one database in one query: for each position, what
    its table saved after it (each table's rows in its own order, as saved_since gives them)."""
    query = SQL("{} ORDER BY nth, notification_id").format(
        SQL(" UNION ALL ").join(recorder.select_saved_nth for recorder in recorders)
    )
    datastore = recorders[0].datastore

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def saved_since(positions: Sequence[int]) -> list[list[tuple[int, UUID, int]]]:
        found: list[list[tuple[int, UUID, int]]] = [[] for _ in recorders]
        params = [value for nth, at in enumerate(positions) for value in (nth, at, SIFTED)]
        with datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(query, params, prepare=True)
            for row in cursor.fetchall():
                found[row["nth"]].append(
                    (row["notification_id"], row["originator_id"], row["originator_version"])
                )
        return found

    return saved_since


class OneStatementProcessRecorder(OneStatementRecorder, PostgresProcessRecorder):
    """The same, for a process application's events and tracking tables: a save with its
    tracking record (a saga's start) is one statement too, a call of a second function (made
    with the tables, and by migration 0015 for tables made before). eventsourcing's single-row
    tracking, as its own statement keeps it: a record at or below the one kept is refused."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        keep = SQL(
            "INSERT INTO {schema}.{tracking} AS kept (application_name, notification_id) "
            "VALUES (tracked_by, tracked_to) ON CONFLICT (application_name) DO UPDATE "
            "SET notification_id = EXCLUDED.notification_id "
            "WHERE kept.notification_id < EXCLUDED.notification_id; "
            "IF NOT FOUND THEN RAISE unique_violation "
            "USING MESSAGE = 'that notification was tracked already'; END IF; "
        ).format(
            schema=Identifier(self.datastore.schema),
            tracking=Identifier(self.tracking_table_name),
        )
        arguments = ["tracked_by text", "tracked_to bigint"]
        self.track_call = self._saving_function("track", arguments, keep)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        if not stored_events or tracking is None:
            return super().insert_events(stored_events, **kwargs)
        return self._call(
            self.track_call, stored_events, tracking.application_name, tracking.notification_id
        )
