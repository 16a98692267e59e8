"""The short chaos run (`just chaos` is the long one): every fault, and not one invariant broken."""

from __future__ import annotations

import pytest

from tests import chaos


@pytest.mark.timeout(600)
def test_faults_break_no_invariant(worker_image: str) -> None:
    results = chaos.run(rounds=3, echo=False)
    for name, tally in results.items():
        assert tally.faults > 0, name  # each fault was really injected
        assert tally.clean, (name, chaos._values(tally), tally.notes)
