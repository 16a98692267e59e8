"""The process provider: each worker is a local agent process in a session of its own, and in
a control group of its own where the machine lets laino make them."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import stat
import tempfile
from functools import partial
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
from laino.providers.cgroups import Cgroups, CgroupsUnavailable
from laino.providers.forkserver import ForkServer, ForkServerError


class ProcessProvider:
    """Runs the agent as a child process; works on any machine, with no daemon."""

    name = "process"

    def __init__(
        self,
        state_dir: Path,
        *,
        installation: str,
        grace_seconds: float = 3.0,
        job_user: str = "",
    ):
        self.state_dir = state_dir
        self.installation = installation
        self.grace_seconds = grace_seconds
        # Only root can run a job as someone else; otherwise jobs run as the server's user.
        self.job_user = pwd.getpwnam(job_user) if job_user and os.geteuid() == 0 else None
        # Agents forked from it show its environment in /proc/PID/environ: the clean one.
        self.forks = ForkServer(env=_clean_environment())
        self.cgroups: Cgroups | None = None
        self.no_groups = ""  # why this machine has none laino may use, once looked for
        state_dir.mkdir(parents=True, exist_ok=True)

    def start(self, spec: WorkerSpec) -> Handle:
        if spec.gpus:
            raise PermanentProviderError(NO_GPUS.format(provider=self.name))
        handle = Handle(self.name, spec.name, spec.labels)
        if self._alive(spec.name) is not None:
            return handle
        limited = bool(spec.memory_bytes or spec.cpu)
        groups = self._limits() if limited else self._groups()
        if groups is not None:
            try:
                groups.create(spec.name, memory_bytes=spec.memory_bytes, cpu=spec.cpu)
            except CgroupsUnavailable as err:
                if limited:
                    raise PermanentProviderError(f"cannot limit the worker: {err}") from err
                groups = None
        scratch = self._job_folder(spec.name)
        env = {**_clean_environment(), **_agent_settings(), **spec.env}
        user = self.job_user.pw_name if self.job_user else pwd.getpwuid(os.geteuid()).pw_name
        env.update(HOME=str(scratch), USER=user, LOGNAME=user)
        if self.job_user is not None:
            env["LAINO_AGENT_JOB_USER"] = self.job_user.pw_name
        env.update(LAINO_SERVER=spec.server, LAINO_WORKER_ID=spec.worker_id)
        # The token goes through the fork server's pipe: it never shows in /proc/PID/environ.
        try:
            pid, started = self.forks.spawn(
                env=env, cwd=str(scratch), log=str(self._log(spec.name)), token=spec.bootstrap_token
            )
        except ForkServerError as err:
            raise ProviderError(str(err)) from err
        if groups is not None:
            try:  # before its registration, so before the job is sent to it
                groups.enter(spec.name, pid)
            except CgroupsUnavailable as err:
                if limited:
                    sessions.end(pid, 0)
                    raise PermanentProviderError(f"cannot limit the worker: {err}") from err
                groups.remove(spec.name)
                groups = None
        # In a group, every process the job starts stays findable, even one that leaves the
        # agent's session (setsid): destroy ends the group. Without one, it ends the session.
        record = {
            "pid": pid,
            "started": started,
            "labels": spec.labels,
            "group": groups is not None,
        }
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
        """Ends every process of the worker: the agent and all the job started."""
        # The agent may be dead while the job it ran lives on: end the group (or the session),
        # not the leader. A group's members are read from one file, not from all of /proc.
        record = self._read(handle.name)
        groups = self._groups()
        if record is not None and record.get("group") and groups is not None:
            sessions.end_each(partial(groups.members, handle.name), self.grace_seconds)
        elif record is not None:
            sessions.end(int(record["pid"]), self.grace_seconds)
        if groups is not None:
            groups.remove(handle.name)
        self._record(handle.name).unlink(missing_ok=True)
        self._log(handle.name).unlink(missing_ok=True)
        shutil.rmtree(self._dir(handle.name), ignore_errors=True)
        shutil.rmtree(self._runs() / handle.name, ignore_errors=True)

    def owned(self) -> list[Handle]:
        handles = []
        for path in sorted(self.state_dir.glob("*.json")):
            record = self._read(path.stem)
            if record is not None:  # not removed by a destroy since the listing
                handles.append(Handle(self.name, path.stem, record.get("labels", {})))
        return handles

    def _limits(self) -> Cgroups:
        """The control groups that enforce --memory and --cpu, or a refusal saying why."""
        groups = self._groups()
        if groups is None:
            raise PermanentProviderError(
                f"--memory and --cpu cannot be enforced for process jobs here: {self.no_groups}"
            )
        return groups

    def _groups(self) -> Cgroups | None:
        """laino's control groups, if this machine lets it make them (looked for once)."""
        if self.cgroups is None and not self.no_groups:
            try:
                self.cgroups = Cgroups.find(self.installation)
            except CgroupsUnavailable as err:
                self.no_groups = str(err)
        return self.cgroups

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

    def _runs(self) -> Path:
        """Where a job user's folders live: the server's home is not theirs to enter."""
        return Path(tempfile.gettempdir()) / f"laino-{self.installation}-jobs"

    def _job_folder(self, name: str) -> Path:
        """The job's own folder, its working directory and HOME, writable by its user only."""
        if self.job_user is None:
            folder = self._dir(name)
            folder.mkdir(exist_ok=True)
            return folder
        runs = self._runs()
        with contextlib.suppress(FileExistsError):
            runs.mkdir(mode=0o711)
        found = runs.lstat()
        # In a folder anyone may write to: it must be ours, not a link someone planted.
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid():
            raise PermanentProviderError(f"{runs} is not a folder of laino's: remove it")
        folder = runs / name
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        os.chown(folder, self.job_user.pw_uid, self.job_user.pw_gid, follow_symlinks=False)
        return folder


# A job's whole inherited environment (beside its own env and LAINO_JOB_ID/LAINO_ATTEMPT):
# nothing of the server's, whose environment may hold database passwords or cloud keys.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _clean_environment() -> dict[str, str]:
    env = {"PATH": SYSTEM_PATH, "LANG": os.environ.get("LANG") or "C.UTF-8"}
    if os.environ.get("TZ"):
        env["TZ"] = os.environ["TZ"]
    return env


def _agent_settings() -> dict[str, str]:
    """The agent's own settings (LAINO_AGENT_*), which it keeps from the job."""
    return {
        k: v
        for k, v in os.environ.items()
        if k.startswith("LAINO_AGENT_") and k != "LAINO_AGENT_JOB_USER"
    }
