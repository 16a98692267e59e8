"""laino's schema, as numbered SQL files applied in order and recorded in `schema_version`."""

from __future__ import annotations

import sqlite3
from importlib import resources


def files() -> list[tuple[int, str]]:
    found = [
        (int(entry.name.split("_", 1)[0]), entry.read_text())
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found)


def apply(conn: sqlite3.Connection) -> int:
    """Applies what is missing; returns the schema version now in force."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
    done = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
    for version, sql in files():
        if version not in done:
            with conn:
                conn.executescript(f"BEGIN;\n{sql}\nINSERT INTO schema_version VALUES ({version});")
    return max(v for v, _ in files())
