"""Server settings that are parsed: capacities."""

from __future__ import annotations

import os

import pytest

from laino.orchestrator.settings import Settings


def test_capacity_defaults_come_from_the_machine_and_can_be_set() -> None:
    cores = os.cpu_count() or 1
    assert Settings().capacities == {"process": cores, "docker": 2 * cores, "kubernetes": 50}
    assert Settings(capacity="process=4, kubernetes=7").capacities == {
        "process": 4,
        "docker": 2 * cores,
        "kubernetes": 7,
    }
    for bad in ("process", "process=0", "proces=4", "docker=-1", "docker=x"):
        with pytest.raises(ValueError, match="not PROVIDER=N"):
            Settings(capacity=bad).capacities  # noqa: B018
