"""The job specification: what to run, where, and within which limits."""

from __future__ import annotations

import dataclasses
import math
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

PROVIDERS = ("process", "docker", "kubernetes")
# Bounds that keep one job from breaking what every user shares (lists, the event store).
MAX_ATTEMPTS = 100
MAX_SPEC_BYTES = 256 * 1024
MAX_ENV = 1000
MAX_LABELS = 64
MAX_SECRET_BYTES = 64 * 1024
MAX_PRIORITY = 1000
MAX_CONCURRENCY = 10_000
MAX_GROUP = 200
MAX_OUTPUTS = 64
INPUT_SOURCES = ("https://", "job:", "upload:")
SHA256 = re.compile(r"[0-9a-f]{64}")


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
    # Bytes of output the job's log keeps; 0 until the server's limit is filled in.
    log_limit_bytes: int = 0
    # Reads input sent to it (else /dev/null); runs on a pseudo-terminal.
    stdin: bool = False
    tty: bool = False
    # Scheduling: see orchestrator/admission.py.
    priority: int = 0
    concurrency: str = ""
    concurrency_limit: int = 0
    cancel_in_progress: bool = False
    # The template it was made from (orchestrator/templates.py): set by the server alone.
    template: str = ""
    template_version: int = 0
    template_params: dict[str, str] = field(default_factory=dict)
    # Paths or globs, from the working directory, kept as artifacts after the command.
    outputs: tuple[str, ...] = ()
    # Files placed in the working directory first: {"source", "path", "sha256"} each.
    inputs: tuple[dict[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Events store the command as a JSON list; compare and hash it as a tuple.
        object.__setattr__(self, "command", tuple(self.command))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "inputs", tuple(dict(i) for i in self.inputs))

    @classmethod
    def parse(cls, **fields: Any) -> JobSpec:
        spec = cls(**fields)
        spec.validate()
        return spec

    def validate(self) -> None:
        if not self.command or not self.command[0].strip():
            raise InvalidSpec("command", "the command is empty")
        if not math.isfinite(self.timeout_seconds) or self.timeout_seconds < 0:
            raise InvalidSpec("timeout_seconds", "the timeout must be a finite, positive number")
        if not math.isfinite(self.cpu) or self.cpu < 0:
            raise InvalidSpec("cpu", "cpu must be a finite, positive number")
        if self.memory_bytes < 0:
            raise InvalidSpec("memory_bytes", "memory must not be negative")
        if self.gpus < 0:
            raise InvalidSpec("gpus", "gpus must not be negative")
        if self.log_limit_bytes < 0:
            raise InvalidSpec("log_limit_bytes", "the log limit must not be negative")
        if not -MAX_PRIORITY <= self.priority <= MAX_PRIORITY:
            raise InvalidSpec(
                "priority", f"the priority must be from -{MAX_PRIORITY} to {MAX_PRIORITY}"
            )
        if not 0 <= self.concurrency_limit <= MAX_CONCURRENCY:
            raise InvalidSpec(
                "concurrency_limit", f"a group's limit must be from 1 to {MAX_CONCURRENCY}"
            )
        if (self.concurrency_limit or self.cancel_in_progress) and not self.concurrency:
            raise InvalidSpec("concurrency", "a limit or cancel-in-progress needs a group")
        if len(self.concurrency) > MAX_GROUP:
            raise InvalidSpec("concurrency", f"a group's name is at most {MAX_GROUP} characters")
        if not 0 <= self.max_attempts <= MAX_ATTEMPTS:
            raise InvalidSpec("max_attempts", f"max attempts must be from 1 to {MAX_ATTEMPTS}")
        if self.provider and self.provider not in PROVIDERS:
            raise InvalidSpec("provider", f"unknown provider {self.provider!r}")
        for name in self.env:
            if not name or "=" in name or "\0" in name:
                raise InvalidSpec("env", f"invalid variable name {name!r}")
        for key in self.labels:
            if not key:
                raise InvalidSpec("labels", "a label key is empty")
        self._validate_text()
        self._validate_working_dir()
        self._validate_outputs()

    def _validate_text(self) -> None:
        """No NUL byte anywhere (no program can receive one), and a bounded size."""
        texts = {
            "command": list(self.command),
            "env": [*self.env, *self.env.values()],
            "labels": [*self.labels, *self.labels.values()],
            "image": [self.image],
            "working_dir": [self.working_dir],
            "concurrency": [self.concurrency],
            "template_params": [*self.template_params, *self.template_params.values()],
            "outputs": list(self.outputs),
            "inputs": [v for i in self.inputs for v in i.values()],
        }
        for name, values in texts.items():
            if any("\0" in value for value in values):
                raise InvalidSpec(name, "a NUL byte cannot be passed to a program")
            if not all(_encodes(value) for value in values):
                # JSON's \ud800 escapes reach here through HTTP and NATS, not through gRPC
                raise InvalidSpec(name, "not text: a lone UTF-16 surrogate")
        if len(self.env) > MAX_ENV:
            raise InvalidSpec("env", f"at most {MAX_ENV} variables")
        if len(self.labels) > MAX_LABELS:
            raise InvalidSpec("labels", f"at most {MAX_LABELS} labels")
        size = sum(len(value.encode()) for values in texts.values() for value in values)
        if size > MAX_SPEC_BYTES:
            message = f"the command, env and labels take {size} bytes; at most {MAX_SPEC_BYTES}"
            raise InvalidSpec("command", message)

    def _validate_outputs(self) -> None:
        if len(self.outputs) > MAX_OUTPUTS:
            raise InvalidSpec("outputs", f"at most {MAX_OUTPUTS} outputs")
        for pattern in self.outputs:
            if not _within(pattern):
                raise InvalidSpec(
                    "outputs", f"{pattern[:80]!r}: a path or glob within the working directory"
                )
        if len(self.inputs) > MAX_OUTPUTS:
            raise InvalidSpec("inputs", f"at most {MAX_OUTPUTS} inputs")
        for given in self.inputs:
            source, path, digest = (given.get(k, "") for k in ("source", "path", "sha256"))
            if set(given) - {"source", "path", "sha256"}:
                raise InvalidSpec("inputs", "an input has a source, a path and a sha256")
            if not source.startswith(INPUT_SOURCES):
                raise InvalidSpec(
                    "inputs", f"{source[:80]!r}: an https:// URL, job:ID:PATH or upload:SHA256"
                )
            if not _within(path) or any(c in path for c in "*?["):
                raise InvalidSpec("inputs", f"{path[:80]!r}: a path within the working directory")
            if digest and not SHA256.fullmatch(digest):
                raise InvalidSpec("inputs", f"{digest[:80]!r} is not a sha256 in hex")

    def _validate_working_dir(self) -> None:
        wd = self.working_dir
        if wd and not wd.startswith("/") and posixpath.normpath(wd).split("/")[0] == "..":
            raise InvalidSpec("working_dir", f"{wd!r} leaves the job's own folder")

    def check_working_dir(self, allowed: tuple[str, ...]) -> None:
        """A process job's absolute working directory must be one the server allows."""
        wd = self.working_dir
        if self.provider != "process" or not wd.startswith("/"):
            return
        if not within(wd, allowed):
            hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
            raise InvalidSpec(
                "working_dir",
                f"{wd!r} is outside the job's folder and not allowed by --allow-workdir{hint}",
            )

    def with_defaults(self, *, provider: str, max_attempts: int, log_limit: int) -> JobSpec:
        """The spec as it will run: server defaults filled in, so a job's history says it all.

        `log_limit` is the server's: a job may keep less output, never more.
        """
        if self.log_limit_bytes > log_limit:
            raise InvalidSpec(
                "log_limit_bytes", f"at most {log_limit} bytes (the server's --log-limit)"
            )
        if (self.stdin or self.tty) and (self.max_attempts > 1 or self.retry_on_failure):
            # Its input was read once: another attempt would not get it again.
            raise InvalidSpec("max_attempts", "a job that reads input or a terminal runs once")
        return JobSpec(
            **{
                **self.as_dict(),
                "provider": self.provider or provider,
                "max_attempts": 1 if self.stdin or self.tty else self.max_attempts or max_attempts,
                "log_limit_bytes": self.log_limit_bytes or log_limit,
                "concurrency_limit": self.concurrency_limit or (1 if self.concurrency else 0),
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
            "log_limit_bytes": self.log_limit_bytes,
            "stdin": self.stdin,
            "tty": self.tty,
            "priority": self.priority,
            "concurrency": self.concurrency,
            "concurrency_limit": self.concurrency_limit,
            "cancel_in_progress": self.cancel_in_progress,
            "template": self.template,
            "template_version": self.template_version,
            "template_params": dict(self.template_params),
            "outputs": tuple(self.outputs),
            "inputs": [dict(i) for i in self.inputs],
        }


def _within(path: str) -> bool:
    """A path relative to the working directory that stays in it."""
    return bool(path.strip()) and not path.startswith("/") and ".." not in path.split("/")


def in_client_dir(spec: JobSpec, client_dir: str, folders: tuple[str, ...]) -> JobSpec:
    """The spec running in the client's directory (a relative working_dir, from there), if it
    is one of `folders`; else as it is, in a folder of its own."""
    if not client_dir.startswith("/") or "\0" in client_dir or not within(client_dir, folders):
        return spec
    where = posixpath.normpath(posixpath.join(client_dir, spec.working_dir))
    return dataclasses.replace(spec, working_dir=where)


def within(path: str, roots: tuple[str, ...]) -> bool:
    """Whether the absolute `path` is one of `roots` or inside one."""
    path = posixpath.normpath(path)
    normal = [posixpath.normpath(root) for root in roots]
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in normal)


def validate_secrets(secrets: dict[str, str]) -> None:
    """Secrets are env variables that no read of the job shows."""
    for name, value in secrets.items():
        if not name or "=" in name or "\0" in name:
            raise InvalidSpec("secrets", f"invalid variable name {name!r}")
        if "\0" in value:
            raise InvalidSpec("secrets", f"{name}: a NUL byte cannot be passed to a program")
    if sum(len(n) + len(v.encode()) for n, v in secrets.items()) > MAX_SECRET_BYTES:
        raise InvalidSpec("secrets", f"at most {MAX_SECRET_BYTES} bytes of secrets")


class InvalidSpec(ValueError):
    """A job specification field is not acceptable."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
