"""The orchestrator's settings: defaults that give a working embedded system, and overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.home import default_home


@dataclass(frozen=True)
class Settings:
    """Every knob, with the embedded defaults; `from_env` reads LAINO_<NAME> overrides."""

    # The client door: JobService, health and reflection.
    listen: str = "127.0.0.1:50051"
    # The HTTP/JSON API (docs/http.md); empty: none.
    http_listen: str = ""
    # The agent door (WorkerService only); empty: the host of `listen` and its port + 1.
    agent_listen: str = ""
    home: Path = field(default_factory=default_home)
    # Empty: SQLite files in `home`. Else a postgresql:// URL.
    database: str = ""
    # Empty: one orchestrator with an in-process bus. Else a nats:// URL (JetStream enabled).
    nats: str = ""
    # TLS for both doors: the server's certificate and key; the CA that signed the certificate
    # (handed to agents so that they verify the server; else the certificate itself); the CA
    # of client certificates, when clients must present one (mutual TLS, client door only).
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    tls_client_ca: str = ""
    # CA certificates (PEM) agents trust for https:// inputs, beside the system's.
    inputs_ca: str = ""
    # Serve without TLS on addresses other machines can reach.
    insecure: bool = False
    # The address agents dial back to; derived from `listen` when empty.
    advertise: str = ""
    provider: str = "process"
    # Who process jobs run as when the server runs as root (else as the server's own user).
    job_user: str = "nobody"
    # Comma-separated absolute folders a process job may name as its working directory.
    allow_workdir: str = ""
    max_attempts: int = 3
    # PROVIDER=N,…: the most workers each provider runs at once; see `capacities`.
    capacity: str = ""
    # PROVIDER[:IMAGE]=N,…: warm pools set at start (see `warm_pools`; `laino pool` at run time).
    warm: str = ""
    # Seconds a pool worker may wait for a job before it is replaced: 15 minutes.
    warm_ttl: float = 900.0
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 10.0
    register_timeout: float = 30.0
    cancel_grace: float = 3.0
    # The most bytes of output a job's log keeps (a job may ask for less): 64 MiB.
    log_limit_bytes: int = 64 * 1024 * 1024
    # Where artifacts' bytes go: s3://BUCKET[/PREFIX]; empty: the database, or the home folder.
    artifacts: str = ""
    # The most bytes of artifacts (a spec's outputs) one job keeps.
    artifact_limit_bytes: int = 1024 * 1024 * 1024
    # Seconds after its end that a job's output is kept (its history is kept for ever): 30 days.
    retain: float = 30 * 86400.0
    # The image of docker workers when a job names none; empty means laino/worker:<version>.
    worker_image: str = ""
    reconcile_interval: float = 15.0
    # How long a worker must stay unaccounted for before the reconciler removes it.
    reconcile_grace: float = 60.0
    # "text" or "json"; agents log the same way.
    log_format: str = "text"
    # HOST:PORT for Prometheus to scrape; empty keeps no metrics.
    metrics_listen: str = ""
    # The namespace of Kubernetes workers; empty leaves the kubernetes provider off.
    k8s_namespace: str = ""
    # Empty: KUBECONFIG, ~/.kube/config, or the in-cluster service account.
    kubeconfig: str = ""
    k8s_service_account: str = ""
    # KEY=VALUE,KEY=VALUE: the nodes worker pods may run on.
    k8s_node_selector: str = ""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        defaults = cls()
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"LAINO_{f.name.upper()}")
            if raw:
                kind = type(getattr(defaults, f.name))
                values[f.name] = raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "home" in values:
            values["home"] = Path(str(values["home"]))
        return cls(**values)  # type: ignore[arg-type]

    @property
    def capacities(self) -> dict[str, int]:
        """The most workers at once, by provider: the machine's cores for process workers,
        twice that for containers, 50 pods; `capacity` sets any of them."""
        cores = os.cpu_count() or 1
        found = {"process": cores, "docker": 2 * cores, "kubernetes": 50}
        for part in filter(None, (p.strip() for p in self.capacity.split(","))):
            name, _, count = part.partition("=")
            if name not in found or not count.isdigit() or int(count) < 1:
                raise ValueError(
                    f"--capacity: {part!r} is not PROVIDER=N with N at least 1"
                    f" (providers: {', '.join(found)})"
                )
            found[name] = int(count)
        return found

    @property
    def warm_pools(self) -> dict[tuple[str, str], int]:
        """`warm` as (provider, image) → size."""
        pools = {}
        for part in filter(None, (p.strip() for p in self.warm.split(","))):
            key, _, size = part.rpartition("=")
            provider, _, image = key.partition(":")
            if provider not in self.capacities or not size.isdigit():
                raise ValueError(
                    f"--warm: {part!r} is not PROVIDER[:IMAGE]=N"
                    f" (providers: {', '.join(self.capacities)})"
                )
            if provider == "process" and image:
                raise ValueError(f"--warm: {part!r}: process workers have no image")
            if int(size) > self.capacities[provider]:
                raise ValueError(
                    f"--warm: {part!r} is more than {provider}'s capacity"
                    f" ({self.capacities[provider]}): set --capacity"
                )
            pools[provider, image] = int(size)
        return pools

    def complete(self, spec: JobSpec) -> JobSpec:
        """A submitted spec as this server runs it: its defaults filled in, its limits held."""
        return spec.with_defaults(
            provider=self.provider,
            max_attempts=self.max_attempts,
            log_limit=self.log_limit_bytes,
        )

    @property
    def allowed_workdirs(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.allow_workdir.split(",") if p.strip())

    @property
    def agent_door(self) -> str:
        """Where the agent door listens: a port of its own, so agents never reach the API."""
        if self.agent_listen:
            return self.agent_listen
        host, _, port = self.listen.rpartition(":")
        return f"{host}:{int(port) + 1 if int(port) else 0}"

    def agent_address(self, bound_port: int) -> str:
        """What local (process) workers dial: the agent door."""
        if self.advertise:
            return self.advertise
        host = self.agent_door.rsplit(":", 1)[0]
        if host in ("0.0.0.0", "[::]", ""):
            host = "127.0.0.1"
        return f"{host}:{bound_port}"
