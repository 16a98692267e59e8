"""`laino db`: the schema of the database, its version, and bringing it up to date."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from laino.cli.output import emit_json

if TYPE_CHECKING:  # imported when used: SQLAlchemy would slow every CLI start
    from laino.orchestrator.store.database import Database

database_option = click.option(
    "--database",
    envvar="LAINO_DATABASE",
    default="",
    help="postgresql://… (env LAINO_DATABASE) [the embedded SQLite in --home].",
)
home_option = click.option(
    "--home", envvar="LAINO_HOME", default=None, help="Where the embedded state lives."
)
EXIT_BEHIND = 2


def _database(database: str, home: str | None) -> Database:
    from laino.orchestrator.home import default_home
    from laino.orchestrator.store.database import Database

    try:
        return Database(Path(home) if home else default_home(), database)
    except ValueError as err:
        raise click.ClickException(str(err)) from None


@click.group()
def db() -> None:
    """The database schema: `status` says where it is, `migrate` brings it up to date."""


@db.command()
@database_option
@home_option
def migrate(database: str, home: str | None) -> None:
    """Apply every migration the database is missing, in order."""
    from sqlalchemy.exc import OperationalError

    target = _database(database, home)
    try:
        applied = target.migrate()
        current, _ = target.schema()
    except OperationalError as err:
        raise click.ClickException(f"cannot reach the database: {err.orig}") from None
    for migration in applied:
        click.echo(f"applied {migration.version:04d} {migration.name}")
    click.echo(f"schema version {current}: up to date")


@db.command()
@database_option
@home_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def status(database: str, home: str | None, output: str) -> None:
    """Say which schema version the database has; exit 2 if it is behind this laino."""
    from sqlalchemy.exc import OperationalError

    from laino import migrations

    target = _database(database, home)
    try:
        if target.made():
            engine = target.engine()
            current = migrations.current(engine)
            pending = migrations.pending(engine)
            engine.dispose()
        else:  # asking makes nothing: an embedded database is made by a server or `migrate`
            current, pending = 0, migrations.migrations(target.dialect)
    except OperationalError as err:
        raise click.ClickException(f"cannot reach the database: {err.orig}") from None
    expected = migrations.expected(target.dialect)
    state = "up to date" if current == expected else "empty" if current == 0 else "behind"
    if current > expected:
        state = "ahead of this laino"
    if output == "json":
        emit_json(
            {
                "current": current,
                "expected": expected,
                "state": state,
                "pending": [f"{m.version:04d} {m.name}" for m in pending],
            }
        )
    else:
        click.echo(f"schema version {current} of {expected}: {state}")
        for m in pending:
            click.echo(f"  pending {m.version:04d} {m.name}")
        if pending:
            click.echo("run `laino db migrate` to apply them")
    if current != expected:
        sys.exit(EXIT_BEHIND)
