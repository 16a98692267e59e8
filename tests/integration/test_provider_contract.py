"""The provider contract; one suite that every provider must pass."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from laino.providers.base import Provider, Status, WorkerSpec
from laino.providers.process import ProcessProvider, _session_members


@pytest.fixture(params=["process"])
def provider(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Provider]:
    made = ProcessProvider(tmp_path / "workers", installation="test", grace_seconds=0.5)
    yield made
    for handle in made.owned():
        made.destroy(handle)


def _spec(name: str) -> WorkerSpec:
    # No server listens there: the agent keeps retrying, which keeps the worker alive.
    return WorkerSpec(
        name=name,
        worker_id="w",
        job_id="j",
        attempt=1,
        server="127.0.0.1:9",
        bootstrap_token="t",
        installation="test",
    )


def test_start_status_logs_destroy(provider: Provider) -> None:
    handle = provider.start(_spec("w1"))
    assert provider.status(handle) == Status.RUNNING
    deadline = time.monotonic() + 10
    while "unreachable" not in provider.logs(handle, 20) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "unreachable" in provider.logs(handle, 20)
    provider.destroy(handle)
    assert provider.status(handle) == Status.MISSING


def test_second_start_adopts_the_first_worker(provider: Provider) -> None:
    first = provider.start(_spec("w2"))
    second = provider.start(_spec("w2"))
    assert first == second
    assert len(provider.owned()) == 1


def test_destroy_twice_is_fine(provider: Provider) -> None:
    handle = provider.start(_spec("w3"))
    provider.destroy(handle)
    provider.destroy(handle)
    assert provider.owned() == []


def test_owned_lists_workers_with_their_labels(provider: Provider) -> None:
    provider.start(_spec("w4"))
    (owned,) = provider.owned()
    assert owned.name == "w4" and owned.labels["laino.installation"] == "test"


def test_process_second_start_keeps_the_first_agent_and_starts_no_twin(tmp_path: Path) -> None:
    made = ProcessProvider(tmp_path, installation="test", grace_seconds=0.5)
    try:
        made.start(_spec("w6"))
        first = json.loads((tmp_path / "w6.json").read_text())["pid"]
        made.start(_spec("w6"))
        assert json.loads((tmp_path / "w6.json").read_text())["pid"] == first
        assert _session_members(first) == [first]  # the first agent, still alive
    finally:
        for handle in made.owned():
            made.destroy(handle)


def test_process_destroy_ends_the_whole_session(tmp_path: Path) -> None:
    made = ProcessProvider(tmp_path, installation="test", grace_seconds=0.5)
    handle = made.start(_spec("w5"))
    record = (tmp_path / "w5.json").read_text()
    pid = int(record.split('"pid": ')[1].split(",")[0])
    assert _session_members(pid)
    made.destroy(handle)
    assert _session_members(pid) == []
