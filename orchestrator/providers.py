"""The providers a server offers, each built on first use, and how their workers reach back."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version

from laino.orchestrator.instrumented import Instrumented
from laino.orchestrator.metrics import Metrics
from laino.orchestrator.settings import Settings
from laino.providers.base import Provider
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
    port: int,
    bridge: str | None,
    tracing: Tracing | None = None,
    metrics: Metrics | None = None,
) -> Providers:
    """Every provider; `bridge` is the host's docker bridge address the server also listens on."""
    tracing = tracing or Tracing("laino-server", env={})
    metrics = metrics or Metrics()

    def instrumented(build: Callable[[], Provider]) -> Callable[[], Provider]:
        return lambda: Instrumented(build(), tracing=tracing, metrics=metrics)

    def process() -> Provider:
        return ProcessProvider(settings.home / "workers", installation=installation)

    def docker() -> Provider:
        from laino.providers.docker import HOST_ALIAS, DockerProvider

        host = settings.listen.rsplit(":", 1)[0]
        server: str | None = None
        if settings.advertise:
            server = settings.advertise
        elif host in WILDCARD or (host in LOOPBACK and bridge):
            server = f"{HOST_ALIAS}:{port}"
        elif host not in LOOPBACK:
            server = f"{host}:{port}"
        return DockerProvider(
            installation=installation,
            image=settings.worker_image or f"laino/worker:{version('laino')}",
            server=server,
            unreachable=(
                f"containers cannot reach this orchestrator: it listens on {host} only and found"
                " no docker bridge (docker0) when it started. Start the engine before the server,"
                " or give the server --listen 0.0.0.0:PORT or --advertise HOST:PORT"
            ),
            grace_seconds=settings.cancel_grace,
        )

    return Providers({"process": instrumented(process), "docker": instrumented(docker)})


def bridge_to_bind(settings: Settings) -> str | None:
    """The docker bridge address to listen on too, when the server listens on loopback only."""
    host = settings.listen.rsplit(":", 1)[0]
    return interface_address() if host in LOOPBACK and not settings.advertise else None
