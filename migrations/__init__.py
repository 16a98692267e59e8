"""laino's schema: numbered files applied in order, each recorded in `schema_version`.

`NNNN_name.<dialect>.sql` holds statements for one database (sqlite, postgresql);
`NNNN_name.py` has an `apply(event_stores)` for what is not ours to write as SQL.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    file: str


def migrations(dialect: str) -> list[Migration]:
    found = []
    for entry in resources.files(__name__).iterdir():
        stem, _, kind = entry.name.partition(".")
        if not stem[:4].isdigit():
            continue
        if kind == f"{dialect}.sql" or kind == "py":
            found.append(Migration(int(stem[:4]), stem[5:], entry.name))
    return sorted(found, key=lambda m: m.version)


def expected(dialect: str) -> int:
    return max(m.version for m in migrations(dialect))


def current(engine: Engine) -> int:
    """The schema version in force; 0 for an empty database."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "schema_version"):
            return 0
        found = conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(found or 0)


def pending(engine: Engine) -> list[Migration]:
    done = current(engine)
    return [m for m in migrations(engine.dialect.name) if m.version > done]


def apply(engine: Engine, event_stores: dict[str, dict[str, str]]) -> list[Migration]:
    """Applies what is missing, in order; returns what it applied."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Two orchestrators starting at once must not both migrate.
            conn.execute(text("SELECT pg_advisory_xact_lock(7411)"))
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
        )
    applied = []
    for migration in pending(engine):
        package = resources.files(__name__)
        with engine.begin() as conn:
            if migration.file.endswith(".sql"):
                for statement in package.joinpath(migration.file).read_text().split(";"):
                    if statement.strip() and not _comment(statement):
                        conn.exec_driver_sql(statement)
            else:
                module = importlib.import_module(f"{__name__}.{migration.file[:-3]}")
                module.apply(event_stores)
            conn.execute(
                text("INSERT INTO schema_version VALUES (:version)"), {"version": migration.version}
            )
        applied.append(migration)
    return applied


def _comment(statement: str) -> bool:
    return all(line.strip().startswith("--") or not line.strip() for line in statement.splitlines())
