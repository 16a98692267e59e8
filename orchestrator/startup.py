"""What must hold before a server serves: its schema, its shared secrets, its admin token, and
the user its process jobs run as."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import pwd
import secrets
import socket
from pathlib import Path

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import text

from laino.orchestrator.access import TokensApp
from laino.orchestrator.settings import Settings
from laino.orchestrator.store.database import Database

log = logging.getLogger("laino.server")
# In the home: the admin token of the server's own user (read by a local CLI).
ADMIN_TOKEN = "admin-token"


def own_home(home: Path) -> int:
    """On the embedded database one server uses a home: it caches what it saved and reads no
    one else's writes. Returns the descriptor that holds the home until the process ends."""
    fd = os.open(home / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise HomeInUse(
            f"another laino server uses {home}: one server per embedded database"
            " (several share a PostgreSQL --database)"
        ) from None
    return fd


def shared(engine: sqlalchemy.Engine, home: Path, name: str, size: int) -> str:
    """A value every orchestrator on this database shares, made by the first one to start.

    The home folder keeps a copy: it seeds the database once after an upgrade, so tokens
    handed out before keep working, and it tells an operator the value.
    """
    copy = home / name
    seed = copy.read_text().strip() if copy.exists() else secrets.token_hex(size)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO shared_secret VALUES (:name, :value) ON CONFLICT (name) DO NOTHING"),
            {"name": name, "value": seed},
        )
        value = str(
            conn.execute(
                text("SELECT value FROM shared_secret WHERE name = :name"), {"name": name}
            ).scalar_one()
        )
    if value != seed or not copy.exists():
        copy.write_text(value)
        copy.chmod(0o600)
    return value


def admin_token(tokens: TokensApp, home: Path) -> None:
    """The admin token of whoever can read this home: so the local user needs no set-up.

    Issued when the home has none (again, with a new secret, if its file was removed); only
    the server's user can read it, so other local users get no access from it.
    """
    path = home / ADMIN_TOKEN
    if path.exists():
        return
    place = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:8]
    name = f"admin@{socket.gethostname()[:40]}-{place}"
    bearer = tokens.reissue(name, "admin", by="laino server")
    # Created 0600, never readable by others even for a moment, and whole or not at all.
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(bearer + "\n")
    partial.rename(path)


def check_schema(database: Database) -> None:
    """The schema must be the one this code expects; the embedded database migrates itself."""
    try:
        if database.dialect == "sqlite":
            database.migrate()
        current, expected = database.schema()
    except sqlalchemy.exc.OperationalError as err:
        raise DatabaseUnavailable(f"cannot reach the database: {err.orig}") from err
    if current != expected:
        raise SchemaMismatch(
            f"the database schema is at version {current} and this laino expects {expected}:"
            " run `laino db migrate` with the same --database first"
            if current < expected
            else f"the database schema is at version {current}, newer than this laino's"
            f" {expected}: run a newer laino"
        )


def check_job_user(settings: Settings) -> None:
    """A root server runs process jobs as --job-user, which must exist; others as themselves."""
    if os.geteuid() != 0:
        log.info("process jobs run as this server's own user (only a root server can change it)")
        return
    try:
        pwd.getpwnam(settings.job_user)
    except KeyError:
        raise JobUserUnknown(f"--job-user {settings.job_user!r}: no such user") from None


class SchemaMismatch(RuntimeError):
    """The database's schema is not the one this code expects."""


class JobUserUnknown(RuntimeError):
    """--job-user names no user of this machine."""


class HomeInUse(RuntimeError):
    """Another server runs on this home's embedded database."""


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached."""
