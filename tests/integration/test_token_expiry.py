"""A worker that registers after its bootstrap token expired is refused, and the job moves on."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

import pytest

from laino.orchestrator.apps import InvalidToken, WorkersApp
from laino.orchestrator.domain.workers import TokenExpired, TokenUsed


def _app(tmp_path: Path, ttl: float) -> WorkersApp:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "w.db")}
    return WorkersApp(env, secret=b"s" * 32, token_ttl=ttl)


def test_expired_token_is_refused(tmp_path: Path) -> None:
    app = _app(tmp_path, ttl=0.05)
    worker = app.provision(uuid4(), 1, "process", "w")
    time.sleep(0.1)
    with pytest.raises(TokenExpired):
        app.register(worker.id, app.bootstrap_token(worker.id))
    assert app.get_worker(worker.id).state == "PROVISIONING"  # type: ignore[union-attr]


def test_token_is_single_use_and_bound_to_its_worker(tmp_path: Path) -> None:
    app = _app(tmp_path, ttl=60)
    first = app.provision(uuid4(), 1, "process", "a")
    second = app.provision(uuid4(), 1, "process", "b")
    with pytest.raises(InvalidToken):
        app.register(second.id, app.bootstrap_token(first.id))
    session = app.register(first.id, app.bootstrap_token(first.id))
    with pytest.raises(TokenUsed):
        app.register(first.id, app.bootstrap_token(first.id))
    assert app.authenticate(first.id, session).state == "REGISTERED"
    with pytest.raises(InvalidToken):
        app.authenticate(first.id, "forged")


def test_a_token_alive_when_the_database_went_away_is_good_for_a_life_after_it_came_back(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path, ttl=1.0)
    old = app.provision(uuid4(), 1, "process", "old")
    time.sleep(1.2)  # old's token expires before the outage
    lived = app.provision(uuid4(), 1, "process", "lived")
    later = app.provision(uuid4(), 1, "process", "later")
    went_away = time.time()
    time.sleep(1.2)  # lived's and later's tokens expire during it
    outage = (went_away, time.time())
    with pytest.raises(TokenExpired):
        app.register(old.id, app.bootstrap_token(old.id), outage)
    with pytest.raises(TokenExpired):  # no outage said: expired as issued
        app.register(lived.id, app.bootstrap_token(lived.id))
    app.register(lived.id, app.bootstrap_token(lived.id), outage)
    assert app.get_worker(lived.id).state == "REGISTERED"  # type: ignore[union-attr]
    time.sleep(1.1)  # a life after the outage ended, the renewal is spent too
    with pytest.raises(TokenExpired):
        app.register(later.id, app.bootstrap_token(later.id), outage)
