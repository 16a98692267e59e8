"""The process provider: each worker is a local agent process in a session of its own."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from laino.providers.base import (
    NO_GPUS,
    Handle,
    Observed,
    PermanentProviderError,
    ProviderError,
    Status,
    WorkerSpec,
)


class ProcessProvider:
    """Runs the agent as a child process; works on any machine, with no daemon."""

    name = "process"

    def __init__(self, state_dir: Path, *, installation: str, grace_seconds: float = 3.0):
        self.state_dir = state_dir
        self.installation = installation
        self.grace_seconds = grace_seconds
        state_dir.mkdir(parents=True, exist_ok=True)

    def start(self, spec: WorkerSpec) -> Handle:
        if spec.gpus:
            raise PermanentProviderError(NO_GPUS.format(provider=self.name))
        handle = Handle(self.name, spec.name, spec.labels)
        if self._alive(spec.name) is not None:
            return handle
        scratch = self._dir(spec.name)
        scratch.mkdir(exist_ok=True)
        # The server's settings stay with the server; the agent's own (LAINO_AGENT_*) pass on.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("LAINO_") or k.startswith("LAINO_AGENT_")
        }
        env.update(spec.env)
        env.update(LAINO_SERVER=spec.server, LAINO_WORKER_ID=spec.worker_id, LAINO_TOKEN_STDIN="1")
        try:
            with open(self._log(spec.name), "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "laino.providers.agent"],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=scratch,
                    env=env,
                    start_new_session=True,
                )
        except OSError as err:
            raise ProviderError(f"cannot start the agent: {err}") from err
        # The token goes through a pipe: it never shows in /proc/PID/environ.
        assert proc.stdin is not None
        proc.stdin.write(spec.bootstrap_token.encode() + b"\n")
        proc.stdin.close()
        record = {"pid": proc.pid, "started": _start_time(proc.pid), "labels": spec.labels}
        tmp = self._record(spec.name).with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self._record(spec.name))
        # Reap the child when it exits, so it never lingers as a zombie.
        threading.Thread(target=proc.wait, daemon=True).start()
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
            _end_session(int(record["pid"]), self.grace_seconds)
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
        return pid if _lives(pid, record["started"]) else None

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


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def _lives(pid: int, started: int | None) -> bool:
    """Whether `pid` is still the process that started at `started`, and not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == started


def _session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is `sid`."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and fields[0] != "Z" and int(fields[3]) == sid:
                members.append(int(entry))
    return members


def _end_session(sid: int, grace: float) -> None:
    """SIGTERM every process of the session, then SIGKILL whatever is left after the grace."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        # Finding members reads all of /proc: do it once per signal, then watch only them. The
        # next round's search finds anything forked meanwhile.
        members = {pid: _start_time(pid) for pid in _session_members(sid)}
        if not members:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while any(_lives(pid, t) for pid, t in members.items()) and time.monotonic() < deadline:
            time.sleep(0.02)
