"""The schema: made by migrations only, exactly what the code uses, and its version told truly.

The core e2e suite runs every read and write of the code against migrated databases of both
kinds (the `server` fixture); these tests pin the schema itself.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect

from laino.orchestrator.access import TokensApp
from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.schedules import SchedulesApp
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.tables import metadata
from laino.orchestrator.templates import TemplatesApp
from tests.conftest import LAINO, Server
from tests.postgres import Postgres

EVENT_STORES = {
    "jobs_events",
    "workers_events",
    "sagas_events",
    "sagas_tracking",
    "tokens_events",
    "schedules_events",
    "schedules_snapshots",
    "templates_events",
}


def _migrated(kind: str, postgres: Postgres | None, home: Path) -> Database:
    url = postgres.new_database() if postgres else ""
    database = Database(home, url)
    database.migrate()
    assert kind == database.dialect
    return database


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrated_schema_is_exactly_the_tables_the_code_uses(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    postgres = request.getfixturevalue("postgres") if kind == "postgresql" else None
    engine = _migrated(kind, postgres, tmp_path).engine()
    found = inspect(engine)
    ours = set(found.get_table_names()) - {"schema_version"} - EVENT_STORES
    assert ours == set(metadata.tables)
    for table in metadata.sorted_tables:
        columns = {c["name"]: c for c in found.get_columns(table.name)}
        assert list(columns) == [c.name for c in table.columns], table.name
        for column in table.columns:
            migrated = columns[column.name]
            what = f"{table.name}.{column.name}"
            assert migrated["type"].python_type is column.type.python_type, what
            assert bool(migrated["nullable"]) == bool(column.nullable) or column.primary_key, what
        primary = found.get_pk_constraint(table.name)["constrained_columns"]
        assert primary == [c.name for c in table.primary_key.columns], table.name
        indexes = {i["name"] for i in found.get_indexes(table.name)}
        assert {i.name for i in table.indexes} <= indexes, table.name
    engine.dispose()


def _catalog(url: str) -> set[tuple[str, ...]]:
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name LIKE '%%_events'"
            " OR table_name LIKE '%%_tracking' OR table_name LIKE '%%_snapshots'"
        ).fetchall()
        functions = conn.execute(
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        ).fetchall()
        types = conn.execute(
            "SELECT typname FROM pg_type WHERE typnamespace = 'public'::regnamespace"
            " AND typtype = 'c' AND typrelid NOT IN (SELECT oid FROM pg_class WHERE relkind = 'r')"
        ).fetchall()
    return (
        {tuple(row) for row in columns}
        | {("function", *r) for r in functions}
        | {("type", *r) for r in types}
    )


def test_event_stores_are_exactly_what_eventsourcing_would_make(postgres: Postgres) -> None:
    migrated = _migrated("postgresql", postgres, Path(tempfile.mkdtemp()))
    made_by_library = Database(Path(tempfile.mkdtemp()), postgres.new_database())
    envs = {
        app: {**made_by_library.event_store(app), "CREATE_TABLE": "y"}
        for app in ("jobs", "workers", "sagas", "tokens", "schedules", "templates")
    }
    TokensApp(envs["tokens"])
    SchedulesApp(envs["schedules"])
    TemplatesApp(envs["templates"])
    jobs = JobsApp(envs["jobs"])
    WorkersApp(envs["workers"], secret=b"s", token_ttl=1)
    SagasApp(envs["sagas"]).follow(jobs.name, jobs.notification_log)
    assert _catalog(migrated.url) == _catalog(made_by_library.url)
    assert {row[0] for row in _catalog(migrated.url) if row[0] != "function"} >= EVENT_STORES
    # Each application's events table has the function that saves into it (store/pgevents.py).
    saving = {row[1] for row in _catalog(migrated.url) if row[0] == "function"}
    assert saving >= {f"laino_insert_{table}" for table in EVENT_STORES if "_events" in table}


def _status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LAINO, "db", "status", *args], capture_output=True, text=True)


def test_db_status_tells_an_empty_an_up_to_date_and_a_behind_database(postgres: Postgres) -> None:
    url = postgres.new_database()
    empty = _status("--database", url)
    assert empty.returncode == 2
    assert empty.stdout.startswith("schema version 0 of 15: empty")
    assert "pending 0001 core" in empty.stdout and "pending 0002 event_stores" in empty.stdout
    migrate = subprocess.run(
        [LAINO, "db", "migrate", "--database", url], capture_output=True, text=True
    )
    applied = [
        "0001 core",
        "0002 event_stores",
        "0003 cluster",
        "0004 tokens",
        "0005 secrets",
        "0006 log_bytes",
        "0007 scheduling",
        "0008 schedules",
        "0009 pools",
        "0010 job_provider",
        "0011 templates",
        "0012 artifacts",
        "0013 admitted",
        "0014 one_statement_saves",
        "0015 one_statement_tracking",
    ]
    assert "".join(f"applied {m}\n" for m in applied) in migrate.stdout
    current = _status("--database", url)
    assert (current.returncode, current.stdout) == (0, "schema version 15 of 15: up to date\n")
    with psycopg.connect(url) as conn:  # as an older laino left it
        conn.execute("DELETE FROM schema_version WHERE version >= 3")
        conn.execute(
            "DROP TABLE relay_position, shared_secret, tokens_events, job_secret, log_chunk,"
            " schedules_events, schedules_snapshots, warm_pool, templates_events, artifact,"
            " blob_chunk, admitted"
        )
        conn.execute(
            "DROP FUNCTION laino_insert_jobs_events, laino_insert_workers_events,"
            " laino_insert_sagas_events"
        )
        conn.execute("ALTER TABLE worker_view DROP COLUMN pool")
        conn.execute("ALTER TABLE job_view DROP COLUMN provider")
        conn.execute(
            "CREATE TABLE log_line (job_id TEXT NOT NULL, seq BIGINT NOT NULL,"
            " stream INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (job_id, seq))"
        )
        conn.execute("ALTER TABLE log_budget RENAME COLUMN bytes TO lines")
        conn.execute("ALTER TABLE job_view DROP COLUMN priority, DROP COLUMN logs_expired_at")
    behind = _status("--database", url)
    assert behind.returncode == 2
    assert behind.stdout.startswith(
        "schema version 2 of 15: behind\n" + "".join(f"  pending {m}\n" for m in applied[2:])
    )
    again = subprocess.run(
        [LAINO, "db", "migrate", "--database", url], capture_output=True, text=True
    )
    # only what was missing
    assert again.stdout.startswith("".join(f"applied {m}\n" for m in applied[2:]) + "schema")


def test_the_server_refuses_a_schema_it_does_not_expect(postgres: Postgres, tmp_path: Path) -> None:
    url = postgres.new_database()
    refused = Server(tmp_path, database=url)
    with pytest.raises(AssertionError):
        refused.start()
    assert "run `laino db migrate` with the same --database first" in refused.log()
    subprocess.run([LAINO, "db", "migrate", "--database", url], check=True, capture_output=True)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99)")
    newer = Server(tmp_path, database=url)
    with pytest.raises(AssertionError):
        newer.start()
    assert "newer than this laino" in newer.log()


def test_a_database_that_cannot_be_reached_is_one_clear_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [LAINO, "db", "status", "--database", "postgresql://postgres@127.0.0.1:9/none"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot reach the database:")
    assert "Traceback" not in done.stderr


def test_db_status_of_a_home_where_no_server_ran_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [LAINO, "db", "status", "--home", str(home)], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stdout.startswith("schema version 0 of 15: empty")
    assert not home.exists()
