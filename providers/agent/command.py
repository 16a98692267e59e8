"""Runs one job's command in its own process group and turns its output into sequenced lines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from laino.v1 import laino_pb2 as pb

MAX_LINE = 64 * 1024
# The agent's settings (the server's address, tracing's exporter and its credentials): never
# the job's.
AGENT_ONLY = ("LAINO_", "OTEL_")
# Shorter secret values are not masked: "***" in place of every "a" would hide the log.
MASK_MIN = 4
BATCH_LINES = 2000
BATCH_BYTES = 512 * 1024
FLUSH_SECONDS = 0.02
# After the command exits, how long a background child may hold its output pipe open, silent.
DRAIN_SECONDS = 2.0

Emit = Callable[[list[pb.LogLine]], None]
Room = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    timed_out: bool = False
    cancelled: bool = False
    error: str = ""


class Batcher:
    """Numbers lines in the order they were read and hands them on in batches.

    Handing on never waits, so cancelling a reader or the ticker can lose no line: back
    pressure is applied by `room` before a reader takes more output from its pipe.
    """

    def __init__(self, emit: Emit, room: Room, first_seq: int = 1):
        self.emit = emit
        self.room = room
        self.next_seq = first_seq
        self.lines: list[pb.LogLine] = []
        self.size = 0

    def add(self, stream: int, text: str) -> None:
        self.lines.append(pb.LogLine(seq=self.next_seq, stream=stream, text=text))
        self.next_seq += 1
        self.size += len(text)
        if len(self.lines) >= BATCH_LINES or self.size >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        lines, self.lines, self.size = self.lines, [], 0
        if lines:
            self.emit(lines)

    async def tick(self) -> None:
        """Flushes on a short interval, so a slow trickle of output still shows at once."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()


class Run:
    """One run of a command; `cancel` ends its whole process group."""

    def __init__(
        self,
        spec: pb.JobSpec,
        batcher: Batcher,
        *,
        job_id: str = "",
        attempt: int = 0,
        secrets: Mapping[str, str] | None = None,
    ):
        self.spec = spec
        self.batcher = batcher
        self.job_id = job_id
        self.attempt = attempt
        self.secrets = dict(secrets or {})
        # Each line of each value, longest first, so that no part of a longer one survives.
        parts = {p for v in self.secrets.values() for p in v.splitlines() if len(p) >= MASK_MIN}
        self.masks = sorted(parts, key=len, reverse=True)
        self.cancelled = asyncio.Event()
        self.grace = 3.0
        self.proc: asyncio.subprocess.Process | None = None
        self.last_read = time.monotonic()
        # Readers waiting for room (back pressure) are busy, not facing a silent pipe.
        self.waiting_for_room = 0

    def cancel(self, grace: float) -> None:
        self.grace = grace or self.grace
        self.cancelled.set()

    def environment(self) -> dict[str, str]:
        """The worker's environment less the agent's own settings, then the job's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(AGENT_ONLY)}
        env.update(self.spec.env)
        env.update(self.secrets)
        env.update(LAINO_JOB_ID=self.job_id, LAINO_ATTEMPT=str(self.attempt))
        return env

    async def execute(self) -> Outcome:
        env = self.environment()
        try:
            user = job_user()
        except KeyError as err:
            self.batcher.add(pb.SYSTEM, f"laino: no user to run the job as: {err}")
            self.batcher.flush()
            return Outcome(126, error=f"no user to run the job as: {err}")
        command = list(self.spec.command)
        if user is not None:
            # The job cannot read the agent's memory, its token or its files.
            command = [*_become(user), *command]
            env.update(USER=user.pw_name, LOGNAME=user.pw_name)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.spec.working_dir or None,
                env=env,
                process_group=0,
            )
        except OSError as err:
            self.batcher.add(pb.SYSTEM, f"laino: cannot start the command: {err}")
            self.batcher.flush()
            return Outcome(127 if isinstance(err, FileNotFoundError) else 126, error=str(err))
        if self.spec.memory_bytes:
            _oom_first(self.proc.pid)
        ticker = asyncio.create_task(self.batcher.tick())
        readers = [
            asyncio.create_task(self._pump(self.proc.stdout, pb.STDOUT)),
            asyncio.create_task(self._pump(self.proc.stderr, pb.STDERR)),
        ]
        outcome = await self._wait()
        # Read to the end; give up only when a pipe stays open but silent (a background child).
        pending = set(readers)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=DRAIN_SECONDS / 4)
            silent = time.monotonic() - self.last_read > DRAIN_SECONDS
            if pending and silent and not self.waiting_for_room:
                for task in pending:
                    task.cancel()
                break
        ticker.cancel()
        self.batcher.flush()
        return outcome

    async def _wait(self) -> Outcome:
        assert self.proc is not None
        waiter = asyncio.create_task(self._exited())
        cancel = asyncio.create_task(self.cancelled.wait())
        timeout = self.spec.timeout_seconds or None
        ooms = _oom_kills()
        done, _ = await asyncio.wait(
            {waiter, cancel}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        cancel.cancel()
        if waiter in done:
            code = _exit_code(waiter.result())
            if code == 128 + signal.SIGKILL and _oom_kills() > ooms:
                mib = self.spec.memory_bytes // 2**20
                limit = f" at its {mib} MiB limit" if mib else ""
                return Outcome(code, error=f"out of memory: the kernel killed the job{limit}")
            return Outcome(code)
        timed_out = not done
        note = "timed out" if timed_out else "cancelled"
        self.batcher.add(pb.SYSTEM, f"laino: {note}: stopping the job's processes")
        code = await self._kill_group(waiter)
        return Outcome(code, timed_out=timed_out, cancelled=not timed_out)

    async def _exited(self) -> int:
        """The exit status, as soon as the process exits.

        Not `Process.wait()`: it also waits for the pipes to close, which a background child
        of the command can hold open for ever.
        """
        assert self.proc is not None
        while self.proc.returncode is None:
            await asyncio.sleep(0.01)
        return self.proc.returncode

    async def _kill_group(self, waiter: asyncio.Task[int]) -> int:
        """SIGTERM the process group, SIGKILL it after the grace period."""
        assert self.proc is not None
        pgid = self.proc.pid
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), self.grace)
        # Children may outlive the leader: whatever is left of the group goes now.
        _signal_group(pgid, signal.SIGKILL)
        return _exit_code(await waiter)

    async def _pump(self, stream: asyncio.StreamReader | None, kind: int) -> None:
        assert stream is not None
        partial = b""
        while True:
            self.waiting_for_room += 1
            try:
                await self.batcher.room()
            finally:
                self.waiting_for_room -= 1
            self.last_read = time.monotonic()
            chunk = await stream.read(256 * 1024)
            if not chunk:
                break
            self.last_read = time.monotonic()
            *lines, partial = (partial + chunk).split(b"\n")
            for line in lines:
                self._line(kind, line)
            while len(partial) > MAX_LINE:
                self._line(kind, partial[:MAX_LINE])
                partial = partial[MAX_LINE:]
        if partial:
            self._line(kind, partial)

    def _line(self, kind: int, raw: bytes) -> None:
        text = raw[:MAX_LINE].decode("utf-8", errors="replace")
        for secret in self.masks:
            text = text.replace(secret, "***")
        self.batcher.add(kind, text)


def job_user() -> pwd.struct_passwd | None:
    """The user jobs run as when the agent can switch to it: LAINO_AGENT_JOB_USER, as an
    image's USER is written (`name`, `uid`, `uid:gid`); none for root."""
    name, _, group = os.environ.get("LAINO_AGENT_JOB_USER", "").partition(":")
    if not name or os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        if not name.isdigit():
            raise
        # An image may have no passwd entry for its uid.
        user = pwd.struct_passwd((name, "x", int(name), int(name), "", "/", "/bin/sh"))
    if group.isdigit():
        user = pwd.struct_passwd((*user[:3], int(group), *user[4:]))
    return None if user.pw_uid == 0 else user


def _become(user: pwd.struct_passwd) -> list[str]:
    """A command prefix that drops to `user`, then execs the job.

    Not subprocess's own user= and group=: they need a plain fork of this process, with
    gRPC's threads, and the child then crashed in about a third of runs. setpriv (util-linux)
    is quick; where an image lacks it, this agent's own Python does the same.
    """
    uid, gid = str(user.pw_uid), str(user.pw_gid)
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    drop = f"import os,sys;os.setgroups([]);os.setgid({gid});os.setuid({uid})"
    return [sys.executable, "-I", "-c", drop + ";os.execvp(sys.argv[1],sys.argv[1:])"]


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _exit_code(returncode: int) -> int:
    """A shell's convention: death by signal N is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _oom_first(pid: int) -> None:
    """Under a memory limit the kernel should kill the job, not the agent that reports it.

    Set from here, not in a `preexec_fn`: Python code in a child forked from a process with
    gRPC's threads can abort before it execs.
    """
    with contextlib.suppress(OSError), open(f"/proc/{pid}/oom_score_adj", "w") as f:
        f.write("1000")


def _oom_kills() -> int:
    """How many processes the kernel killed for memory in this cgroup (v2, then v1)."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        with contextlib.suppress(OSError), open(path) as f:
            for line in f:
                name, _, count = line.partition(" ")
                if name == "oom_kill":
                    return int(count)
    return 0
