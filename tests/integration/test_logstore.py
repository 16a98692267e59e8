"""The log store: a line sent twice is stored once; truncation is visible."""

from __future__ import annotations

import sqlite3

from laino import migrations
from laino.orchestrator.logstore import SYSTEM, LogStore


def _store(budget: int = 100) -> LogStore:
    conn = sqlite3.connect(":memory:")
    migrations.apply(conn)
    return LogStore(conn, budget=budget)


def test_a_resent_batch_is_stored_once() -> None:
    store = _store()
    batch = [(1, 0, "a"), (2, 1, "b")]
    assert store.append("j", batch) == 2
    assert store.append("j", batch) == 0
    assert [(line.seq, line.text) for line in store.read("j", 1)] == [(1, "a"), (2, "b")]


def test_lines_past_the_budget_are_replaced_by_one_visible_notice() -> None:
    store = _store(budget=3)
    store.append("j", [(n, 0, str(n)) for n in range(1, 6)])
    store.append("j", [(6, 0, "6")])
    lines = store.read("j", 1)
    assert [line.text for line in lines[:3]] == ["1", "2", "3"]
    assert lines[3].stream == SYSTEM and "log truncated" in lines[3].text
    assert len(lines) == 4


def test_tail_starts_at_the_last_lines() -> None:
    store = _store()
    store.append("j", [(n, 0, str(n)) for n in range(1, 11)])
    assert store.tail_start("j", 3) == 8
