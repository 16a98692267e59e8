"""The provider contract; one suite that every provider must pass."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import docker
import pytest

from laino.providers.base import PermanentProviderError, Provider, ProviderError, Status, WorkerSpec
from laino.providers.docker import DockerProvider
from laino.providers.kubernetes import KubernetesProvider
from laino.providers.process import ProcessProvider
from laino.providers.sessions import members as session_members
from tests.kube import FakeCluster, FakeKubelet

INSTALLATION = f"test-{uuid4().hex[:8]}"


@pytest.fixture(params=["process", "docker", "kubernetes"])
def provider(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Provider]:
    if request.param != "process":
        yield request.getfixturevalue(f"{request.param}_provider")
        return
    made = ProcessProvider(tmp_path / "workers", installation=INSTALLATION, grace_seconds=0.5)
    yield made
    for handle in made.owned():
        made.destroy(handle)


@pytest.fixture
def process(tmp_path: Path) -> Iterator[ProcessProvider]:
    """A process provider whose workers are all removed after the test."""
    made = ProcessProvider(tmp_path, installation=INSTALLATION, grace_seconds=0.5)
    yield made
    for handle in made.owned():
        made.destroy(handle)


@pytest.fixture
def docker_provider(worker_image: str) -> Iterator[DockerProvider]:
    # No server listens there: the agent keeps retrying, which keeps the worker alive.
    made = DockerProvider(
        installation=INSTALLATION, image=worker_image, server="host.docker.internal:9"
    )
    yield made
    for handle in made.owned():
        made.destroy(handle)


@pytest.fixture
def kubernetes_provider(tmp_path: Path) -> Iterator[KubernetesProvider]:
    """On a fake API server, whose fake kubelet runs each pod's agent as a local process."""
    cluster = FakeCluster().start()
    kubelet = FakeKubelet(cluster, tmp_path / "node", images={"laino/worker:test"}).start()
    made = KubernetesProvider(
        cluster.api(),
        installation=INSTALLATION,
        namespace=cluster.namespace,
        image="laino/worker:test",
        server="127.0.0.1:9",
        grace_seconds=1,
    )
    yield made
    for handle in made.owned():
        made.destroy(handle)
    kubelet.stop()
    cluster.stop()


def _spec(name: str, **changes: Any) -> WorkerSpec:
    spec = WorkerSpec(
        name=f"{name}-{INSTALLATION}",
        worker_id="w",
        job_id="j",
        attempt=1,
        server="127.0.0.1:9",
        bootstrap_token="t0ken-never-shown",
        installation=INSTALLATION,
    )
    return dataclasses.replace(spec, **changes)


def test_start_status_logs_destroy(provider: Provider) -> None:
    handle = provider.start(_spec("w1"))
    assert provider.status(handle).status == Status.RUNNING
    deadline = time.monotonic() + 10
    while "unreachable" not in provider.logs(handle, 20) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "unreachable" in provider.logs(handle, 20)
    provider.destroy(handle)
    assert provider.status(handle).status == Status.MISSING


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
    assert owned.name == _spec("w4").name and owned.labels["laino.installation"] == INSTALLATION


def test_process_second_start_keeps_the_first_agent_and_starts_no_twin(
    process: ProcessProvider,
) -> None:
    process.start(_spec("w6"))
    first = _agent_pid(process, _spec("w6").name)
    process.start(_spec("w6"))
    assert _agent_pid(process, _spec("w6").name) == first
    assert session_members(first) == [first]  # the first agent, still alive


def test_process_destroy_ends_the_whole_session(tmp_path: Path) -> None:
    made = ProcessProvider(tmp_path, installation=INSTALLATION, grace_seconds=0.5)
    handle = made.start(_spec("w5"))
    pid = _agent_pid(made, handle.name)
    assert session_members(pid)
    made.destroy(handle)
    assert session_members(pid) == []


@pytest.fixture
def engine(worker_image: str) -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def test_docker_worker_has_its_limits_labels_and_no_visible_token(
    docker_provider: DockerProvider, engine: docker.DockerClient
) -> None:
    spec = _spec("w7", cpu=0.5, memory_bytes=256 * 2**20, env={"GREETING": "hi"})
    docker_provider.start(spec)
    attrs = engine.containers.get(spec.name).attrs
    assert attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert attrs["HostConfig"]["Memory"] == attrs["HostConfig"]["MemorySwap"] == 256 * 2**20
    assert attrs["HostConfig"]["Init"] is True
    assert attrs["Config"]["Labels"]["laino.worker"] == "w"
    assert "GREETING=hi" in attrs["Config"]["Env"]
    assert spec.bootstrap_token not in json.dumps(attrs)


def test_docker_second_start_keeps_the_first_container(
    docker_provider: DockerProvider, engine: docker.DockerClient
) -> None:
    docker_provider.start(_spec("w8"))
    first = engine.containers.get(_spec("w8").name).id
    docker_provider.start(_spec("w8"))
    assert engine.containers.get(_spec("w8").name).id == first
    assert [c.id for c in engine.containers.list(all=True, filters={"name": _spec("w8").name})] == [
        first
    ]


def test_docker_without_an_engine_is_a_retryable_error() -> None:
    made = DockerProvider(
        installation=INSTALLATION,
        image="laino/worker:none",
        server="host.docker.internal:9",
        connect=lambda: docker.DockerClient(base_url="unix:///nonexistent/docker.sock"),
    )
    for call in (lambda: made.start(_spec("w9")), made.owned):
        with pytest.raises(ProviderError) as raised:
            call()
        assert raised.value.retryable and "docker engine unreachable" in str(raised.value)


def test_docker_image_that_cannot_be_had_is_a_permanent_error(
    docker_provider: DockerProvider,
) -> None:
    with pytest.raises(PermanentProviderError, match=r"'laino/nothing:1' is not on the engine"):
        docker_provider.start(_spec("w10", image="laino/nothing:1"))


def test_process_and_docker_workers_refuse_gpus_at_once(tmp_path: Path) -> None:
    made = ProcessProvider(tmp_path, installation=INSTALLATION)
    # No engine is asked: the refusal comes first.
    docker_made = DockerProvider(installation=INSTALLATION, image="x", server="h:9", connect=None)  # type: ignore[arg-type]
    for provider in (made, docker_made):
        with pytest.raises(PermanentProviderError, match="gives jobs no GPUs; run GPU jobs with"):
            provider.start(_spec("w11", gpus=1))
    assert made.owned() == []


def test_process_agents_outlive_their_fork_server_and_a_dead_one_is_replaced(
    process: ProcessProvider,
) -> None:
    first = process.start(_spec("w12"))
    forks = process.forks.proc
    assert forks is not None
    forks.kill()
    forks.wait()
    assert process.status(first).status == Status.RUNNING
    second = process.start(_spec("w13"))
    assert process.status(second).status == Status.RUNNING
    assert process.forks.proc is not None and process.forks.proc.pid != forks.pid


def test_process_fork_server_leaves_with_the_orchestrator_and_its_agents_stay(
    process: ProcessProvider,
) -> None:
    handle = process.start(_spec("w14"))
    forks = process.forks.proc
    assert forks is not None and forks.stdin is not None
    forks.stdin.close()  # as the orchestrator's exit closes it
    assert forks.wait(timeout=5) == 0
    assert process.status(handle).status == Status.RUNNING


def test_process_agents_go_by_the_agents_name(process: ProcessProvider) -> None:
    handle = process.start(_spec("w16"))
    pid = _agent_pid(process, handle.name)
    assert Path(f"/proc/{pid}/comm").read_text() == "laino-agent\n"
    found = subprocess.run(["pgrep", "-x", "laino-agent"], capture_output=True, text=True)
    assert str(pid) in found.stdout.split()


def test_process_agent_shows_neither_its_token_nor_the_servers_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAINO_DATABASE", "postgresql://laino:s3cret@db/laino")
    # Made after the setting: the fork server takes its environment when the provider is made.
    made = ProcessProvider(tmp_path, installation=INSTALLATION, grace_seconds=0.5)
    try:
        handle = made.start(_spec("w15"))
        pid = _agent_pid(made, handle.name)
        for view in ("environ", "cmdline"):
            shown = Path(f"/proc/{pid}/{view}").read_bytes()
            assert b"t0ken-never-shown" not in shown and b"s3cret" not in shown
    finally:
        for handle in made.owned():
            made.destroy(handle)


def _agent_pid(made: ProcessProvider, name: str) -> int:
    """The pid the process provider recorded for a worker's agent."""
    pid: int = json.loads((made.state_dir / f"{name}.json").read_text())["pid"]
    return pid
