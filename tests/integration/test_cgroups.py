"""Limits of local workers: enforced through control groups, or refused saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from laino.providers.base import PermanentProviderError, WorkerSpec
from laino.providers.cgroups import Cgroups, CgroupsUnavailable
from laino.providers.process import ProcessProvider


def _spec(**limits: object) -> WorkerSpec:
    return WorkerSpec(
        name="laino-limits-1",
        worker_id="w",
        job_id="j",
        attempt=1,
        server="127.0.0.1:9",
        bootstrap_token="t",
        installation="test",
        **limits,  # type: ignore[arg-type]
    )


def test_a_machine_without_usable_cgroups_says_why(tmp_path: Path) -> None:
    with pytest.raises(CgroupsUnavailable, match="no memory and cpu controllers"):
        Cgroups.find("test", root=tmp_path)


def test_a_limit_that_cannot_be_enforced_is_refused_before_any_worker_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(installation: str) -> Cgroups:
        raise CgroupsUnavailable("cannot create /sys/fs/cgroup/laino: Read-only file system")

    monkeypatch.setattr(Cgroups, "find", staticmethod(unavailable))
    provider = ProcessProvider(tmp_path, installation="test")
    for limits in ({"memory_bytes": 64 * 2**20}, {"cpu": 0.5}):
        with pytest.raises(PermanentProviderError, match=r"cannot be enforced.*Read-only"):
            provider.start(_spec(**limits))
    assert provider.owned() == []
    # Without limits, nothing needs them.
    provider.destroy(provider.start(_spec()))
