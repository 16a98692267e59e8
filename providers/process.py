"""The process provider: each worker is a local agent process in a session of its own."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from laino.providers import sessions
from laino.providers.base import (
    NO_GPUS,
    Handle,
    Observed,
    PermanentProviderError,
    ProviderError,
    Status,
    WorkerSpec,
)
from laino.providers.forkserver import ForkServer, ForkServerError


class ProcessProvider:
    """Runs the agent as a child process; works on any machine, with no daemon."""

    name = "process"

    def __init__(self, state_dir: Path, *, installation: str, grace_seconds: float = 3.0):
        self.state_dir = state_dir
        self.installation = installation
        self.grace_seconds = grace_seconds
        self.forks = ForkServer(env=_agents_environment())
        state_dir.mkdir(parents=True, exist_ok=True)

    def start(self, spec: WorkerSpec) -> Handle:
        if spec.gpus:
            raise PermanentProviderError(NO_GPUS.format(provider=self.name))
        handle = Handle(self.name, spec.name, spec.labels)
        if self._alive(spec.name) is not None:
            return handle
        scratch = self._dir(spec.name)
        scratch.mkdir(exist_ok=True)
        env = _agents_environment()
        env.update(spec.env)
        env.update(LAINO_SERVER=spec.server, LAINO_WORKER_ID=spec.worker_id)
        # The token goes through the fork server's pipe: it never shows in /proc/PID/environ.
        try:
            pid, started = self.forks.spawn(
                env=env, cwd=str(scratch), log=str(self._log(spec.name)), token=spec.bootstrap_token
            )
        except ForkServerError as err:
            raise ProviderError(str(err)) from err
        record = {"pid": pid, "started": started, "labels": spec.labels}
        tmp = self._record(spec.name).with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self._record(spec.name))
        return handle

    def status(self, handle: Handle) -> Observed:
        if not self._record(handle.name).exists():
            return Observed(Status.MISSING)
        return Observed(Status.RUNNING if self._alive(handle.name) is not None else Status.EXITED)

    def logs(self, handle: Handle, tail: int) -> str:
        try:
            lines = self._log(handle.name).read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-tail:])

    def destroy(self, handle: Handle) -> None:
        """Ends every process of the worker's session: the agent and the job it runs."""
        # The agent may be dead while the job it ran lives on: end the session, not the leader.
        record = self._read(handle.name)
        if record is not None:
            sessions.end(int(record["pid"]), self.grace_seconds)
        self._record(handle.name).unlink(missing_ok=True)
        self._log(handle.name).unlink(missing_ok=True)
        shutil.rmtree(self._dir(handle.name), ignore_errors=True)

    def owned(self) -> list[Handle]:
        handles = []
        for path in sorted(self.state_dir.glob("*.json")):
            labels = json.loads(path.read_text()).get("labels", {})
            handles.append(Handle(self.name, path.stem, labels))
        return handles

    def _alive(self, name: str) -> int | None:
        """The session leader's pid, if the recorded process still runs (pids get reused)."""
        record = self._read(name)
        if record is None:
            return None
        pid = int(record["pid"])
        return pid if sessions.lives(pid, record["started"]) else None

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            record: dict[str, Any] = json.loads(self._record(name).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return record

    def _record(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def _log(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def _dir(self, name: str) -> Path:
        return self.state_dir / name


def _agents_environment() -> dict[str, str]:
    """The server's settings stay with the server; the agent's own (LAINO_AGENT_*) pass on."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LAINO_") or k.startswith("LAINO_AGENT_")
    }
