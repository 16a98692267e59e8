"""The lease: given up, it is free for another orchestrator at once; held by a server cut off
from the database, it is freed for another within seconds."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from laino.orchestrator.cluster.lease import AdvisoryLease, FileLease
from laino.orchestrator.store.database import Database
from tests.conftest import assert_eventually
from tests.postgres import Postgres


def test_an_advisory_lease_given_up_can_be_taken_by_another_server(
    postgres_url: str, tmp_path: Path
) -> None:
    one, other = (Database(tmp_path, postgres_url).engine() for _ in range(2))
    try:
        first, second = AdvisoryLease(one), AdvisoryLease(other)
        assert first.take()
        assert not second.take()
        # As after a failed term: the server goes on using its pool for everything else.
        first.release()
        assert second.take()
        assert not first.take()
        second.release()
    finally:
        one.dispose()
        other.dispose()


def test_a_file_lease_given_up_can_be_taken_by_another_server(tmp_path: Path) -> None:
    first, second = FileLease(tmp_path / "lease"), FileLease(tmp_path / "lease")
    assert first.take()
    assert not second.take()
    first.release()
    assert second.take()
    assert not first.take()
    second.release()


@pytest.mark.timeout(120)
def test_a_holder_cut_off_from_postgresql_lets_go_of_the_lease_before_another_can_take_it(
    postgres_url: str, postgres: Postgres, tmp_path: Path
) -> None:
    # The other server still reaches PostgreSQL, over its Unix socket, which no partition of
    # the network cuts.
    database = urlsplit(postgres_url).path
    local = f"postgresql://postgres@{database}?host={postgres.root}&port={postgres.port}"
    one, other = Database(tmp_path, postgres_url).engine(), Database(tmp_path, local).engine()
    try:
        first, second = AdvisoryLease(one), AdvisoryLease(other)
        assert first.take()
        with postgres.unreachable():
            # Without TCP's timeouts, this call would wait many minutes for an answer.
            assert not first.held()
            assert not second.take()  # PostgreSQL still holds it for the first a while
            assert_eventually(second.take, timeout=60)
        second.release()
    finally:
        one.dispose()
        other.dispose()
