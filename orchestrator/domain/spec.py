"""The job specification: what to run, where, and within which limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROVIDERS = ("process", "docker", "kubernetes")


@dataclass(frozen=True)
class JobSpec:
    """A validated job specification; build it with `JobSpec.parse` to get field-level errors."""

    command: tuple[str, ...]
    image: str = ""
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str = ""
    timeout_seconds: float = 0.0
    cpu: float = 0.0
    memory_bytes: int = 0
    gpus: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    provider: str = ""
    max_attempts: int = 0
    retry_on_failure: bool = False

    def __post_init__(self) -> None:
        # Events store the command as a JSON list; compare and hash it as a tuple.
        object.__setattr__(self, "command", tuple(self.command))

    @classmethod
    def parse(cls, **fields: Any) -> JobSpec:
        spec = cls(**fields)
        spec.validate()
        return spec

    def validate(self) -> None:
        if not self.command or not self.command[0].strip():
            raise InvalidSpec("command", "the command is empty")
        if self.timeout_seconds < 0:
            raise InvalidSpec("timeout_seconds", "the timeout must not be negative")
        if self.cpu < 0:
            raise InvalidSpec("cpu", "cpu must not be negative")
        if self.memory_bytes < 0:
            raise InvalidSpec("memory_bytes", "memory must not be negative")
        if self.gpus < 0:
            raise InvalidSpec("gpus", "gpus must not be negative")
        if self.max_attempts < 0:
            raise InvalidSpec("max_attempts", "max attempts must not be negative")
        if self.provider and self.provider not in PROVIDERS:
            raise InvalidSpec("provider", f"unknown provider {self.provider!r}")
        for name in self.env:
            if not name or "=" in name or "\0" in name:
                raise InvalidSpec("env", f"invalid variable name {name!r}")
        for key in self.labels:
            if not key:
                raise InvalidSpec("labels", "a label key is empty")

    def with_defaults(self, *, provider: str, max_attempts: int) -> JobSpec:
        """The spec as it will run: server defaults filled in, so a job's history says it all."""
        return JobSpec(
            **{
                **self.as_dict(),
                "provider": self.provider or provider,
                "max_attempts": self.max_attempts or max_attempts,
            }
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": tuple(self.command),
            "image": self.image,
            "env": dict(self.env),
            "working_dir": self.working_dir,
            "timeout_seconds": self.timeout_seconds,
            "cpu": self.cpu,
            "memory_bytes": self.memory_bytes,
            "gpus": self.gpus,
            "labels": dict(self.labels),
            "provider": self.provider,
            "max_attempts": self.max_attempts,
            "retry_on_failure": self.retry_on_failure,
        }


class InvalidSpec(ValueError):
    """A job specification field is not acceptable."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
