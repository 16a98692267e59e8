"""The log store: a line sent twice is stored once; truncation is visible."""

from __future__ import annotations

from pathlib import Path

import pytest

from laino.orchestrator.store.database import Database
from laino.orchestrator.store.logstore import SYSTEM, LogStore


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def _store(home: Path, budget: int = 100) -> LogStore:
    database = Database(home)
    database.migrate()
    return LogStore(database.engine(), budget=budget)


def test_a_resent_batch_is_stored_once(home: Path) -> None:
    store = _store(home)
    batch = [(1, 0, "a"), (2, 1, "b")]
    assert store.append("j", batch) == (2, 0)
    assert store.append("j", batch) == (0, 0)  # neither stored again nor counted as dropped
    assert [(line.seq, line.text) for line in store.read("j", 1)] == [(1, "a"), (2, "b")]


def test_lines_past_the_budget_are_replaced_by_one_visible_notice(home: Path) -> None:
    store = _store(home, budget=3)
    assert store.append("j", [(n, 0, str(n)) for n in range(1, 6)]) == (3, 2)
    assert store.append("j", [(6, 0, "6")]) == (0, 1)
    lines = store.read("j", 1)
    assert [line.text for line in lines[:3]] == ["1", "2", "3"]
    assert lines[3].stream == SYSTEM and "log truncated" in lines[3].text
    assert len(lines) == 4


def test_tail_starts_at_the_last_lines(home: Path) -> None:
    store = _store(home)
    store.append("j", [(n, 0, str(n)) for n in range(1, 11)])
    assert store.tail_start("j", 3) == 8
