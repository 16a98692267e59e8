"""The log store: a chunk sent twice is stored once; truncation is visible; tails are lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from laino import migrations
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.logstore import STDERR, STDOUT, SYSTEM, Chunk, LogStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LogStore:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    database = Database(tmp_path, url)
    database.migrate()
    return LogStore(database.engine())


def _chunks(*parts: bytes, first: int = 1) -> list[Chunk]:
    return [Chunk(first + i, STDOUT, 100.0 + i, data) for i, data in enumerate(parts)]


def test_a_resent_batch_is_stored_once_and_counted_once(store: LogStore) -> None:
    batch = [Chunk(1, STDOUT, 1.0, b"a"), Chunk(2, STDERR, 2.0, b"\xff\x00b")]
    assert store.append("j", batch, limit=4) == (4, 0)
    # Neither stored again nor counted against the limit, nor dropped.
    assert store.append("j", batch, limit=4) == (0, 0)
    assert store.read("j", 1) == batch
    assert store.append("j", _chunks(b"c", first=3), limit=5) == (1, 0)


def test_output_past_the_limit_is_replaced_by_one_visible_notice(store: LogStore) -> None:
    assert store.append("j", _chunks(b"12", b"34", b"56"), limit=5) == (4, 2)
    assert store.append("j", _chunks(b"7", first=4), limit=5) == (0, 1)
    # laino's own notices are kept past the limit: they say how the job ended.
    store.append("j", [Chunk(5, SYSTEM, 1.0, b"laino: timed out\n")], limit=5)
    chunks = store.read("j", 1)
    assert [c.data for c in chunks[:2]] == [b"12", b"34"]
    assert chunks[2].stream == SYSTEM and b"log truncated" in chunks[2].data
    assert [c.data for c in chunks[3:]] == [b"laino: timed out\n"]


def test_a_read_is_a_page_of_at_most_its_size_but_at_least_one_chunk(store: LogStore) -> None:
    store.append("j", _chunks(b"a" * 600, b"b" * 600, b"c" * 10), limit=10_000)
    assert [c.seq for c in store.read("j", 1, max_bytes=1000)] == [1]
    assert [c.seq for c in store.read("j", 2, max_bytes=1000)] == [2, 3]
    assert [c.seq for c in store.read("j", 1, max_bytes=10)] == [1]


@pytest.mark.parametrize(
    ("parts", "lines", "start"),
    [
        ((b"1\n2\n", b"3\n4\n5\n"), 2, (2, 2)),  # "4\n5\n"
        ((b"1\n2\n", b"3\n4\n5"), 2, (2, 2)),  # a last line without its newline is a line
        ((b"1\n2\n", b"3\n"), 2, (1, 2)),  # starts at "2\n"
        ((b"1\n2\n", b"3\n"), 1, (2, 0)),  # the line is the whole second chunk
        ((b"1\n", b"2\n"), 5, (0, 0)),  # fewer lines than asked: all of them
        ((b"abc", b"def\n"), 1, (0, 0)),  # one line over two chunks
    ],
)
def test_tail_starts_at_the_first_of_the_last_lines(
    store: LogStore, parts: tuple[bytes, ...], lines: int, start: tuple[int, int]
) -> None:
    store.append("j", _chunks(*parts), limit=10_000)
    assert store.tail("j", lines) == start


def test_since_finds_the_first_chunk_read_at_or_after_a_time(store: LogStore) -> None:
    store.append("j", _chunks(b"a", b"b", b"c"), limit=10_000)  # read at 100, 101 and 102
    assert store.since("j", 100.5) == 2
    assert store.since("j", 0) == 1
    assert store.since("j", 500) == 4  # after the end: only what comes next


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_lines_kept_by_an_older_version_become_chunks_of_bytes(
    request: pytest.FixtureRequest, tmp_path: Path, dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = request.getfixturevalue("postgres").new_database() if dialect == "postgresql" else ""
    database = Database(tmp_path, url)
    everything = migrations.migrations
    monkeypatch.setattr(migrations, "migrations", lambda d: everything(d)[:5])
    database.migrate()
    engine = database.engine()
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO log_line VALUES ('j', 1, 0, 'caf\u00e9'), ('j', 2, 1, 'oops')")
        )
        conn.execute(text("INSERT INTO log_budget VALUES ('j', 2, 0)"))
    monkeypatch.setattr(migrations, "migrations", everything)
    database.migrate()
    store = LogStore(database.engine())
    assert [(c.seq, c.stream, c.data) for c in store.read("j", 1)] == [
        (1, STDOUT, "caf\u00e9\n".encode()),
        (2, STDERR, b"oops\n"),
    ]
    # The budget counts the bytes now: 11 of 12 are used.
    assert store.append("j", _chunks(b"ab", first=3), limit=12) == (0, 2)
