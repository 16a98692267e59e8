"""The providers a server offers, each built on first use, and how their workers reach back."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version

from laino.orchestrator.instrumented import Instrumented
from laino.orchestrator.metrics import Metrics
from laino.orchestrator.settings import Settings
from laino.providers.base import Provider, ProviderError
from laino.providers.bridge import interface_address
from laino.providers.process import ProcessProvider
from laino.providers.tracing import Tracing

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
WILDCARD = ("0.0.0.0", "[::]", "::", "")


class Providers(Mapping[str, Provider]):
    """Built on first use: importing the docker SDK would cost every server start 0.2 s."""

    def __init__(self, factories: dict[str, Callable[[], Provider]]):
        self.factories = factories
        self.built: dict[str, Provider] = {}

    def __getitem__(self, name: str) -> Provider:
        if name not in self.built:
            self.built[name] = self.factories[name]()
        return self.built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.factories)

    def __len__(self) -> int:
        return len(self.factories)


def offered(
    settings: Settings,
    *,
    installation: str,
    agent_port: int,
    bridge: str | None,
    tracing: Tracing | None = None,
    metrics: Metrics | None = None,
    kubernetes: Provider | None = None,
) -> Providers:
    """Every provider; `bridge` is the host's docker bridge address the server also listens on,
    and `kubernetes` the checked Kubernetes provider when the server was asked for one."""
    tracing = tracing or Tracing("laino-server", env={})
    metrics = metrics or Metrics()

    def instrumented(build: Callable[[], Provider]) -> Callable[[], Provider]:
        return lambda: Instrumented(build(), tracing=tracing, metrics=metrics)

    def process() -> Provider:
        return ProcessProvider(
            settings.home / "workers", installation=installation, job_user=settings.job_user
        )

    def docker() -> Provider:
        from laino.providers.docker import HOST_ALIAS, DockerProvider

        host = settings.agent_door.rsplit(":", 1)[0]
        server: str | None = None
        if settings.advertise:
            server = settings.advertise
        elif host in WILDCARD or (host in LOOPBACK and bridge):
            server = f"{HOST_ALIAS}:{agent_port}"
        elif host not in LOOPBACK:
            server = f"{host}:{agent_port}"
        return DockerProvider(
            installation=installation,
            image=settings.worker_image or f"laino/worker:{version('laino')}",
            server=server,
            unreachable=(
                f"containers cannot reach this orchestrator: its agent door listens on {host} only"
                " and it found no docker bridge (docker0) when it started. Start the engine before"
                " the server, or give the server --agent-listen 0.0.0.0:PORT or --advertise"
                " HOST:PORT"
            ),
            grace_seconds=settings.cancel_grace,
        )

    factories = {"process": instrumented(process), "docker": instrumented(docker)}
    if kubernetes is not None:
        factories["kubernetes"] = instrumented(lambda: kubernetes)
    return Providers(factories)


def kubernetes_checked(settings: Settings, *, installation: str, agent_port: int) -> Provider:
    """The Kubernetes provider, once its startup check found nothing missing."""
    try:
        from laino.providers.kubernetes import KubernetesProvider, connect
    except ImportError as err:
        message = f"the kubernetes provider needs pip install 'laino[kubernetes]' ({err})"
        raise KubernetesRefused(message) from err

    host = settings.agent_door.rsplit(":", 1)[0]
    if settings.advertise:
        server = settings.advertise
    elif host not in LOOPBACK + WILDCARD:
        server = f"{host}:{agent_port}"
    else:
        raise KubernetesRefused(
            f"worker pods cannot reach an agent door that listens on {host or '*'} without"
            " --advertise: give --advertise HOST:PORT, an address pods can dial (in a cluster,"
            " the server's Service)"
        )
    try:
        provider = KubernetesProvider(
            connect(settings.kubeconfig),
            installation=installation,
            namespace=settings.k8s_namespace,
            image=settings.worker_image or f"laino/worker:{version('laino')}",
            server=server,
            service_account=settings.k8s_service_account,
            node_selector=_pairs(settings.k8s_node_selector),
            grace_seconds=settings.cancel_grace,
        )
        problems = provider.check()
    except ProviderError as err:
        raise KubernetesRefused(f"the kubernetes provider cannot start: {err}") from err
    if problems:
        raise KubernetesRefused(
            "the kubernetes provider cannot start: "
            + "; ".join(problems)
            + " (deploy/kubernetes/role.yaml grants what it needs)"
        )
    return provider


def _pairs(text: str) -> dict[str, str]:
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if any(not sep or not key.strip() for key, sep, _ in pairs):
        raise KubernetesRefused(f"--k8s-node-selector wants KEY=VALUE,KEY=VALUE, not {text!r}")
    return {key.strip(): value.strip() for key, _, value in pairs}


class KubernetesRefused(RuntimeError):
    """The server was asked for Kubernetes workers and cannot give them; says what is missing."""


def bridge_to_bind(settings: Settings) -> str | None:
    """The docker bridge address the agent door listens on too, when it is on loopback only."""
    host = settings.agent_door.rsplit(":", 1)[0]
    return interface_address() if host in LOOPBACK and not settings.advertise else None
