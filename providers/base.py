"""What every provider offers: start, inspect, and destroy one ephemeral worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

# Every worker a provider starts carries these labels, so `owned()` can find orphans.
LABEL_INSTALLATION = "laino.installation"
LABEL_JOB = "laino.job"
LABEL_WORKER = "laino.worker"
LABEL_ATTEMPT = "laino.attempt"
# Trailing metadata of an UNAVAILABLE answer from a live server whose database is away: how
# soon to call again (milliseconds). Its agents reconnect that soon, not after a growing delay
# that could outlast the heartbeat timeout once the database is back.
RETRY_AFTER = "laino-retry-after-ms"

NO_GPUS = "the {provider} provider gives jobs no GPUs; run GPU jobs with --provider kubernetes"


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a provider needs to start a worker; providers know workers, not jobs."""

    name: str
    worker_id: str
    job_id: str
    attempt: int
    server: str
    bootstrap_token: str
    installation: str
    image: str = ""
    cpu: float = 0.0
    memory_bytes: int = 0
    gpus: int = 0
    # The job's own limit; providers that can enforce a deadline of their own add a margin.
    timeout_seconds: float = 0.0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        return {
            LABEL_INSTALLATION: self.installation,
            LABEL_JOB: self.job_id,
            LABEL_WORKER: self.worker_id,
            LABEL_ATTEMPT: str(self.attempt),
        }


@dataclass(frozen=True)
class Handle:
    """A started worker, addressed by its deterministic name."""

    provider: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)


class Status(StrEnum):
    RUNNING = "running"
    EXITED = "exited"
    MISSING = "missing"
    # Exited in a way that says no retry can help: the image has no agent, cannot be pulled.
    BROKEN = "broken"


@dataclass(frozen=True)
class Observed:
    """What a provider sees of a worker, and why, in words a user can act on."""

    status: Status
    reason: str = ""


class Provider(Protocol):
    """One small interface; the same contract suite runs against every implementation."""

    name: str

    def start(self, spec: WorkerSpec) -> Handle:
        """Starts the worker; a second start of the same name adopts the first worker."""
        ...

    def status(self, handle: Handle) -> Observed: ...

    def logs(self, handle: Handle, tail: int) -> str:
        """The worker's own output, for when its agent never came up."""
        ...

    def destroy(self, handle: Handle) -> None:
        """Stops and removes the worker; a worker that is already gone is a success."""
        ...

    def owned(self) -> list[Handle]:
        """Every worker of this installation that the provider can see."""
        ...


class ProviderError(Exception):
    """A provider call failed; `retryable` says whether trying again may help."""

    retryable = True


class PermanentProviderError(ProviderError):
    """Trying again will not help (a bad image, a refused spec)."""

    retryable = False
