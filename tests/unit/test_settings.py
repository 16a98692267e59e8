"""Server settings that are parsed: capacities and warm pools."""

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


def test_warm_pools_name_a_provider_an_image_and_a_size_within_capacity() -> None:
    settings = Settings(capacity="docker=8", warm="process=1, docker=2,docker:python:3.12=3")
    assert settings.warm_pools == {
        ("process", ""): 1,
        ("docker", ""): 2,
        ("docker", "python:3.12"): 3,
    }
    refusals = {
        "docker": "not PROVIDER",
        "podman=2": "not PROVIDER",
        "docker=two": "not PROVIDER",
        "process:debian=1": "process workers have no image",
        "docker=9": "more than docker's capacity",
    }
    for bad, says in refusals.items():
        with pytest.raises(ValueError, match=says):
            Settings(capacity="docker=8", warm=bad).warm_pools  # noqa: B018
