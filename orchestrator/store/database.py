"""Where the state lives: SQLite files in the home folder, or one PostgreSQL database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import eventsourcing.persistence
import eventsourcing.postgres
import eventsourcing.sqlite
import sqlalchemy.exc
from sqlalchemy import Engine, create_engine, event

from laino import migrations
from laino.orchestrator.store.pgevents import OneStatementProcessRecorder, OneStatementRecorder
from laino.providers.logfmt import redacted

APPS = ("jobs", "workers", "sagas", "tokens", "schedules", "templates")


class DatabaseAway(RuntimeError):
    """The database did not answer the last check (cluster/health.py): not called at all."""


# How a database that is away, or full, fails a call: nothing was written, it may be tried again.
FAILURES = (
    DatabaseAway,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    eventsourcing.persistence.OperationalError,
    eventsourcing.persistence.InterfaceError,
)


# A database that stops answering (a network partition, a frozen host) is noticed within
# seconds at both ends. Here: a call would otherwise wait minutes for TCP to give up, and hold
# the server's event loop that long; health could not even say NOT_SERVING. At PostgreSQL: the
# session of a server it no longer hears ends, freeing its advisory locks (the lease, its
# partitions) for another server. It gives up later than this server does, so a server has
# let go of its lease before another can take it.
CONNECTION = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 3,
    "keepalives_interval": 1,
    "keepalives_count": 2,
    "tcp_user_timeout": 5000,
    "options": " ".join(
        f"-c {setting}"
        for setting in (
            "tcp_keepalives_idle=10",
            "tcp_keepalives_interval=2",
            "tcp_keepalives_count=3",
            "tcp_user_timeout=10000",
        )
    ),
}


def first_line(err: Exception) -> str:
    """A database error's first line: its own message, without the statement after it."""
    return str(err).splitlines()[0] if str(err) else type(err).__name__


@dataclass(frozen=True)
class Database:
    """The embedded default when `url` is empty; else a `postgresql://` URL."""

    home: Path
    url: str = ""

    def __post_init__(self) -> None:
        if self.url and urlsplit(self.url).scheme not in ("postgresql", "postgres"):
            shown = redacted(self.url)
            raise UnsupportedDatabase(f"{shown!r}: only postgresql:// URLs are supported")

    @property
    def dialect(self) -> str:
        return "postgresql" if self.url else "sqlite"

    def made(self) -> bool:
        """Whether the database exists: an embedded one only once a server or a migration ran."""
        return bool(self.url) or (self.home / "laino.db").exists()

    def engine(self) -> Engine:
        """For laino's own tables."""
        if not self.url:
            engine = create_engine(f"sqlite:///{self.home / 'laino.db'}")
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        parts = urlsplit(self.url)
        return create_engine(
            parts._replace(scheme="postgresql+psycopg").geturl(),
            pool_pre_ping=True,
            connect_args=CONNECTION,
        )

    def event_store(self, app: str) -> dict[str, str]:
        """The eventsourcing environment of one application's event store; tables not created."""
        common = {"CREATE_TABLE": "n", "AGGREGATE_CACHE_MAXSIZE": "5000"}
        if not self.url:
            # One file per application: eventsourcing names every SQLite events table alike.
            return {
                **common,
                "PERSISTENCE_MODULE": f"{__name__}:SQLiteEvents",
                "SQLITE_DBNAME": str(self.home / f"{app}.db"),
                "SQLITE_LOCK_TIMEOUT": "10",
                # One server per home (startup.own_home), whose cache holds what it saved:
                # a read need not ask the store for newer events. A sixth of the server's CPU.
                "AGGREGATE_CACHE_FASTFORWARD": "n",
            }
        parts = urlsplit(self.url)
        return {
            **common,
            "PERSISTENCE_MODULE": f"{__name__}:PostgresEvents",
            "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            # Not eventsourcing's 30 s: each call retries ten times, holding up the server.
            "POSTGRES_CONNECT_TIMEOUT": "1",
            # Each event store opens its pool's size at once: eventsourcing's 5 would be 30
            # connections a server before its first job (docs/production.md counts them).
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": "9",
        }

    def migrate(self) -> list[migrations.Migration]:
        engine = self.engine()
        try:
            return migrations.apply(engine, {app: self.event_store(app) for app in APPS})
        finally:
            engine.dispose()

    def schema(self) -> tuple[int, int]:
        """(the version in force, the version this code expects)."""
        engine = self.engine()
        try:
            return migrations.current(engine), migrations.expected(self.dialect)
        finally:
            engine.dispose()


def _sqlite_pragmas(conn: object, _: object) -> None:
    """Every SQLite connection: a write-ahead log, synced when it is checkpointed rather than
    at each commit. A killed server loses nothing; a power cut may lose the last commits."""
    cursor = conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


class SQLiteEvents(eventsourcing.sqlite.SQLiteFactory):
    """eventsourcing's SQLite event stores, with laino's pragmas on each connection (at its
    default, each commit waited for the disk: most of the embedded server's time per job)."""

    def __init__(self, env: eventsourcing.persistence.Environment) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        create = pool._create_connection

        def connect() -> eventsourcing.sqlite.SQLiteConnection:
            connection = create()  # in WAL mode already
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous = NORMAL")
            return connection

        pool._create_connection = connect  # type: ignore[method-assign]


class PostgresEvents(eventsourcing.postgres.PostgresFactory):
    """eventsourcing's PostgreSQL event stores, whose connections say what laino's own do
    (CONNECTION): eventsourcing has no setting for it. Each saves in one statement (pgevents)."""

    application_recorder_class = OneStatementRecorder
    process_recorder_class = OneStatementProcessRecorder

    def __init__(self, env: eventsourcing.persistence.Environment) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        assert isinstance(pool.kwargs, dict)  # the pool is not open yet: no connection lacks it
        pool.kwargs.update(CONNECTION)
        # A connection that cannot be made is not tried again after 1, 2, 4... s: a pool with
        # such a try pending made each call wait for it, and the server stalled for up to 8 s
        # after its database came back. The next call, or the availability check once the
        # database answers (cluster/health.py), connects at once instead.
        pool.reconnect_timeout = 0


class UnsupportedDatabase(ValueError):
    """The database URL names a database laino cannot use."""
