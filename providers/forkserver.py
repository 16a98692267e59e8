"""A warm agent to fork from: starting Python and importing gRPC costs a process worker far more
than its job does, so the process provider forks each agent from one that has done it already.

The fork server is a child of the orchestrator that imports the agent and then only forks, on
request. It never makes a channel or a thread, so gRPC's core first starts in each agent: a
fork before that is safe. Each agent leads a session of its own, as one the provider started
directly would, and outlives the fork server and the orchestrator alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import traceback
from typing import Any

from laino.providers import sessions


class ForkServerError(Exception):
    """The fork server could not start an agent."""


class ForkServer:
    """The orchestrator's side: starts the fork server on first use and again if it died."""

    def __init__(self, *, env: dict[str, str]):
        # Each agent's /proc/PID/environ shows this, whatever its own environment: nothing of
        # the orchestrator's settings, such as a database password, belongs in it.
        self.env = env
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, *, env: dict[str, str], cwd: str, log: str, token: str) -> tuple[int, int]:
        """A new agent's pid and start time; its output is appended to `log`."""
        request = json.dumps({"env": env, "cwd": cwd, "log": log, "token": token}) + "\n"
        with self.lock:
            # A fork server that died since (killed, out of memory) is replaced once.
            for attempt in (1, 2):
                proc = self._running()
                assert proc.stdin is not None and proc.stdout is not None
                try:
                    proc.stdin.write(request.encode())
                    proc.stdin.flush()
                    reply = json.loads(proc.stdout.readline() or b"{}")
                except (OSError, ValueError):
                    reply = {}
                if "pid" in reply:
                    return int(reply["pid"]), int(reply["started"])
                if "error" in reply:
                    raise ForkServerError(reply["error"])
                self._stop()
                if attempt == 2:
                    raise ForkServerError("the fork server exited")
        raise AssertionError("unreachable")

    def _running(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "laino.providers.forkserver"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=self.env,
            )
        return self.proc

    def _stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def _fork(request: dict[str, Any]) -> int:
    """Forks one agent; in the child, never returns."""
    # Told of before it leads its own session, an agent could not be found by its session
    # (a destroy at once would miss it): the reply waits for the child's word.
    ready, told = os.pipe()
    pid = os.fork()
    if pid:
        os.close(told)
        os.read(ready, 1)  # a byte once it leads its session; nothing if it died first
        os.close(ready)
        return pid
    code = 70
    try:
        os.close(ready)
        os.setsid()
        # The forked image keeps the fork server's command line: `ps -e`, `top` and `pgrep`
        # show this name instead, as they do for the agent of a container.
        with open("/proc/self/comm", "w") as comm:
            comm.write("laino-agent")
        os.write(told, b".")
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        from laino.providers.agent import main as agent

        code = agent(token=request["token"])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _started(request: dict[str, Any]) -> dict[str, int]:
    # Until its start time is read, an agent that exits at once must stay a zombie, not be
    # reaped: its pid could be reused, and the start time is what tells the two apart.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        pid = _fork(request)
        return {"pid": pid, "started": sessions.start_time(pid) or 0}
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})


def _reap(signum: int, frame: object) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def main() -> None:
    import laino.providers.agent  # noqa: F401  (the import is what each fork saves)

    signal.signal(signal.SIGCHLD, _reap)
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    for line in requests:
        try:
            reply: dict[str, Any] = _started(json.loads(line))
        except (OSError, ValueError, KeyError) as err:
            reply = {"error": f"cannot start the agent: {err}"}
        replies.write(json.dumps(reply).encode() + b"\n")
        replies.flush()
    # The orchestrator has gone: its agents stay, in sessions of their own.


if __name__ == "__main__":
    main()
