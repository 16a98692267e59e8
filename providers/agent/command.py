"""Runs one job's command in a process group of its own (or on a terminal), feeds it its input,
and hands its output on as it is read."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from laino.providers import sessions
from laino.providers.agent.output import Batcher, Held
from laino.providers.agent.stdin import Input
from laino.providers.agent.terminal import CONTROLLING, Terminal
from laino.providers.cgroups import oom_kills
from laino.v1 import laino_pb2 as pb

# The agent's settings (the server's address, tracing's exporter and its credentials): never
# the job's.
AGENT_ONLY = ("LAINO_", "OTEL_")
# Shorter secret values are not masked: "***" in place of every "a" would hide the log.
MASK_MIN = 4
READ_BYTES = 64 * 1024
# After the command exits, how long a background child may hold its output pipe open, silent.
DRAIN_SECONDS = 2.0


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    timed_out: bool = False
    cancelled: bool = False
    error: str = ""
    # The error was laino's (an input not placed), not the command's.
    infrastructure: bool = False


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
        stdin: Input | None = None,
    ):
        self.spec = spec
        self.input = stdin
        self.terminal: Terminal | None = None
        self.batcher = batcher
        self.job_id = job_id
        self.attempt = attempt
        self.secrets = dict(secrets or {})
        # Each line of each value, longest first, so that no part of a longer one survives.
        parts = {p for v in self.secrets.values() for p in v.splitlines() if len(p) >= MASK_MIN}
        self.masks = [p.encode() for p in sorted(parts, key=len, reverse=True)]
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
            self.batcher.add(pb.SYSTEM, f"laino: no user to run the job as: {err}\n".encode())
            self.batcher.flush()
            return Outcome(126, error=f"no user to run the job as: {err}")
        command = list(self.spec.command)
        if user is not None:
            # The job cannot read the agent's memory, its token or its files.
            command = [*_become(user), *command]
            env.update(USER=user.pw_name, LOGNAME=user.pw_name)
        if self.spec.tty:
            self.terminal = Terminal()
            command = [*CONTROLLING, *command]
            stdio = self.terminal.stdio()
        else:  # a process group of its own, which cancel and timeout end whole
            reads = asyncio.subprocess.PIPE if self.spec.stdin else asyncio.subprocess.DEVNULL
            pipe = asyncio.subprocess.PIPE
            stdio = {"stdin": reads, "stdout": pipe, "stderr": pipe, "process_group": 0}
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *command, cwd=self.spec.working_dir or None, env=env, **stdio
            )
        except OSError as err:
            if self.terminal is not None:
                self.terminal.close()
            self.batcher.add(pb.SYSTEM, f"laino: cannot start the command: {err}\n".encode())
            self.batcher.flush()
            return Outcome(127 if isinstance(err, FileNotFoundError) else 126, error=str(err))
        finally:
            if self.terminal is not None:
                self.terminal.started()
        if self.spec.memory_bytes:
            _oom_first(self.proc.pid)
        held = [Held(kind, self.batcher, self.masks) for kind in (pb.STDOUT, pb.STDERR)]
        ticker = asyncio.create_task(self.batcher.tick(*held))
        if self.terminal is not None:
            readers = [asyncio.create_task(self._pump(await self.terminal.output(), held[0]))]
        else:
            readers = [
                asyncio.create_task(self._pump(self.proc.stdout, held[0])),
                asyncio.create_task(self._pump(self.proc.stderr, held[1])),
            ]
        feeding = self._feed()
        outcome = await self._wait()
        if feeding is not None:
            feeding.cancel()
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
        for stream in held:
            stream.release()
        self.batcher.flush()
        if self.terminal is not None:
            self.terminal.close()
        return outcome

    def _feed(self) -> asyncio.Task[None] | None:
        """Writes the input sent for the job into its stdin, when it reads one."""
        assert self.proc is not None
        if self.input is None or not self.spec.stdin:
            return None
        if self.terminal is not None:
            self.input.resize = self.terminal.resize
            feed = self.input.feed(self.terminal.write, self.terminal.end_input)
            return asyncio.create_task(feed)
        stdin = self.proc.stdin
        assert stdin is not None

        async def write(data: bytes) -> None:
            stdin.write(data)
            await stdin.drain()

        return asyncio.create_task(self.input.feed(write, stdin.close))

    async def _wait(self) -> Outcome:
        assert self.proc is not None
        waiter = asyncio.create_task(self._exited())
        cancel = asyncio.create_task(self.cancelled.wait())
        timeout = self.spec.timeout_seconds or None
        ooms = oom_kills()
        done, _ = await asyncio.wait(
            {waiter, cancel}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        cancel.cancel()
        if waiter in done:
            code = _exit_code(waiter.result())
            if code == 128 + signal.SIGKILL and oom_kills() > ooms:
                mib = self.spec.memory_bytes // 2**20
                limit = f" at its {mib} MiB limit" if mib else ""
                return Outcome(code, error=f"out of memory{limit}: the kernel killed the job")
            return Outcome(code)
        timed_out = not done
        note = "timed out" if timed_out else "cancelled"
        self.batcher.add(pb.SYSTEM, f"laino: {note}: stopping the job's processes\n".encode())
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
        """SIGTERM the process group, SIGKILL it after the grace period.

        On a terminal, the job leads a session of its own (a shell's jobs are groups in it):
        the whole session goes.
        """
        assert self.proc is not None
        pgid = self.proc.pid
        if self.terminal is not None:
            await asyncio.to_thread(sessions.end, pgid, self.grace)
            return _exit_code(await waiter)
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), self.grace)
        # Children may outlive the leader: whatever is left of the group goes now.
        _signal_group(pgid, signal.SIGKILL)
        return _exit_code(await waiter)

    async def _pump(self, pipe: asyncio.StreamReader | None, stream: Held) -> None:
        assert pipe is not None
        while True:
            self.waiting_for_room += 1
            try:
                await self.batcher.room()
            finally:
                self.waiting_for_room -= 1
            self.last_read = time.monotonic()
            try:
                data = await pipe.read(READ_BYTES)
            except OSError:  # a terminal whose job ended: EIO
                return
            if not data:
                return
            self.last_read = time.monotonic()
            stream.feed(data)


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
