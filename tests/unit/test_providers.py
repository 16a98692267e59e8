"""How the server offers providers: built on first use, reachable from their workers or not."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from docker.errors import APIError

from laino.orchestrator.instrumented import Instrumented
from laino.orchestrator.providers import offered
from laino.orchestrator.settings import Settings
from laino.providers.base import PermanentProviderError, ProviderError, WorkerSpec
from laino.providers.docker import DockerProvider

SPEC = WorkerSpec(
    name="w",
    worker_id="w",
    job_id="j",
    attempt=1,
    server="127.0.0.1:1",
    bootstrap_token="t",
    installation="i",
)


def _docker(tmp_path: Path, agents: str, bridge: str | None, advertise: str = "") -> DockerProvider:
    """The docker provider of a server whose agent door listens on `agents`."""
    settings = Settings(agent_listen=agents, home=tmp_path, advertise=advertise)
    provider = offered(settings, installation="i", agent_port=4000, bridge=bridge)["docker"]
    assert isinstance(provider, Instrumented) and isinstance(provider.provider, DockerProvider)
    return provider.provider


def test_containers_dial_the_host_alias_when_the_agent_door_listens_where_they_reach(
    tmp_path: Path,
) -> None:
    assert _docker(tmp_path, "127.0.0.1:4000", "172.17.0.1").server == "host.docker.internal:4000"
    assert _docker(tmp_path, "0.0.0.0:4000", None).server == "host.docker.internal:4000"
    assert _docker(tmp_path, "10.1.2.3:4000", None).server == "10.1.2.3:4000"
    assert _docker(tmp_path, "127.0.0.1:4000", None, "orch:7").server == "orch:7"


def test_a_loopback_only_server_without_a_bridge_says_how_to_fix_it(tmp_path: Path) -> None:
    provider = _docker(tmp_path, "127.0.0.1:4000", None)
    says = r"--agent-listen 0\.0\.0\.0:PORT or --advertise"
    with pytest.raises(PermanentProviderError, match=says):
        provider.start(SPEC)


def test_providers_are_built_on_first_use_only(tmp_path: Path) -> None:
    providers = offered(Settings(home=tmp_path), installation="i", agent_port=1, bridge=None)
    assert set(providers) == {"process", "docker"} and providers.built == {}
    assert providers["process"] is providers["process"]
    assert set(providers.built) == {"process"}


class _Engine:
    """Stands in for the engine at one point only: the token's copy fails as it is told to.

    The race it stands for (the agent takes the file between the engine writing it and setting
    its owner) happened once in CI and could not be brought about on demand.
    """

    def __init__(self, copy_fails_with: str):
        self.copy_fails_with = copy_fails_with
        self.containers = SimpleNamespace(create=self._create)
        self.images = SimpleNamespace(get=lambda image: SimpleNamespace(attrs={}))

    def _create(self, image: str, **options: Any) -> SimpleNamespace:
        return SimpleNamespace(status="created", start=lambda: None, put_archive=self._copy)

    def _copy(self, path: str, data: bytes) -> None:
        raise APIError("500 Server Error", explanation=self.copy_fails_with)


def _over(engine: _Engine) -> DockerProvider:
    return DockerProvider(installation="i", image="img", server="s:1", connect=lambda: engine)


def test_a_token_taken_by_the_agent_while_the_engine_copies_it_is_handed_over() -> None:
    taken = (
        "Error processing tar file(exit status 1): lchown /.laino-token: no such file or directory"
    )
    assert _over(_Engine(taken)).start(SPEC).name == "w"
    with pytest.raises(ProviderError, match="no space left on device"):
        _over(
            _Engine("Error processing tar file: write /.laino-token: no space left on device")
        ).start(SPEC)
