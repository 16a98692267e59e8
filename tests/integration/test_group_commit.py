"""Sagas' saves of one turn of the event loop share a transaction, on a real store; a conflict
or a failure reaches exactly the saves it concerns."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from eventsourcing.persistence import IntegrityError

from laino.orchestrator.apps import SagasApp
from laino.orchestrator.domain.saga import BEGUN, ExecutionSaga
from laino.orchestrator.group_commit import GroupCommit
from laino.orchestrator.runner import PROVISION
from laino.orchestrator.store.database import Database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path)
    database.migrate()
    yield database


def _sagas(database: Database, count: int) -> tuple[SagasApp, list[ExecutionSaga]]:
    """Sagas saved, each with its provisioning begun since: a step to save."""
    app = SagasApp(database.event_store("sagas"))
    sagas = [ExecutionSaga(uuid.uuid4()) for _ in range(count)]
    app.save(*sagas)
    for saga in sagas:
        saga.begin(PROVISION, 1)
    return app, sagas


def _transactions(app: SagasApp, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the application's transactions, each with the number of aggregates it saved."""
    made: list[int] = []
    record = app._record

    def counted(processing_event: Any) -> Any:
        made.append(len(processing_event.aggregates))
        return record(processing_event)

    monkeypatch.setattr(app, "_record", counted)
    return made


async def _save_all(grouped: GroupCommit, sagas: list[ExecutionSaga]) -> list[BaseException | None]:
    return await asyncio.gather(*(grouped.save(saga) for saga in sagas), return_exceptions=True)


def _begun(database: Database, saga: ExecutionSaga) -> bool:
    """Whether a fresh reader of the store sees the saga's provisioning begun."""
    fresh = SagasApp(database.event_store("sagas"))
    return fresh.repository.get(saga.id).status(PROVISION, 1) == BEGUN


def test_saves_of_one_turn_share_one_transaction(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, sagas = _sagas(database, 5)
    made = _transactions(app, monkeypatch)
    assert asyncio.run(_save_all(GroupCommit(app), sagas)) == [None] * 5
    assert made == [5]
    assert all(_begun(database, saga) for saga in sagas)


def test_a_save_that_lost_a_race_fails_alone(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, sagas = _sagas(database, 3)
    # Another server saves the first saga meanwhile: this copy of it is stale.
    other = SagasApp(database.event_store("sagas"))
    theirs = other.repository.get(sagas[0].id)
    theirs.begin(PROVISION, 1)
    other.save(theirs)
    made = _transactions(app, monkeypatch)
    results = asyncio.run(_save_all(GroupCommit(app), sagas))
    assert isinstance(results[0], IntegrityError)
    assert results[1:] == [None, None]
    assert made == [3, 1, 1, 1]  # the group, then each one alone
    assert _begun(database, sagas[1]) and _begun(database, sagas[2])


def test_a_store_that_fails_fails_every_save_of_the_turn_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, sagas = _sagas(database, 3)
    tries = []

    def away(*aggregates: object) -> None:
        tries.append(len(aggregates))
        raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("the database is away"))

    monkeypatch.setattr(app, "save", away)
    results = asyncio.run(_save_all(GroupCommit(app), sagas))
    assert all(isinstance(r, sqlalchemy.exc.OperationalError) for r in results)
    assert tries == [3]  # not tried again one by one against a store that is away


def test_a_save_whose_waiter_was_cancelled_is_made_all_the_same(database: Database) -> None:
    app, sagas = _sagas(database, 2)

    async def scenario() -> None:
        grouped = GroupCommit(app)
        first = asyncio.create_task(grouped.save(sagas[0]))
        second = asyncio.create_task(grouped.save(sagas[1]))
        await asyncio.sleep(0)  # both wait for the turn's commit
        first.cancel()
        await asyncio.gather(first, second, return_exceptions=True)
        assert first.cancelled() and second.done() and second.exception() is None

    asyncio.run(scenario())
    assert _begun(database, sagas[0]) and _begun(database, sagas[1])
