"""The lease: given up, it is free for another orchestrator at once."""

from __future__ import annotations

from pathlib import Path

from laino.orchestrator.cluster.lease import AdvisoryLease, FileLease
from laino.orchestrator.store.database import Database


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
