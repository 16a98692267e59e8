"""Local process sessions as /proc shows them: who is in one, whether a pid is still the process
it was (pids get reused), and ending one whole (or any set of processes, found again each
round)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from functools import partial


def _stat(pid: int) -> list[bytes] | None:
    # Plain os calls: a destroy reads every process's stat, and pathlib's layers cost it 3x.
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    try:
        raw = os.read(fd, 4096)
    except ProcessLookupError:
        return None
    finally:
        os.close(fd)
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(b")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot: with the pid, it names one process."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def lives(pid: int, started: int | None) -> bool:
    """Whether `pid` is still the process that started at `started`, and not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != b"Z" and int(fields[19]) == started


def members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is `sid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and fields[0] != b"Z" and int(fields[3]) == sid:
                found.append(int(entry))
    return found


def end(sid: int, grace: float) -> None:
    """SIGTERM every process of the session, then SIGKILL whatever is left after the grace."""
    end_each(partial(members, sid), grace)


def end_each(find: Callable[[], list[int]], grace: float) -> None:
    """SIGTERM every process `find` names, then SIGKILL whatever is left after the grace."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        # Finding members may read all of /proc: do it once per signal, then watch only them.
        # The next round's search finds anything forked meanwhile.
        pids = {pid: start_time(pid) for pid in find()}
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
                # A stopped process (SIGSTOP, ^Z) acts on SIGTERM only once it runs again.
                os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + wait
        while any(lives(pid, t) for pid, t in pids.items()) and time.monotonic() < deadline:
            time.sleep(0.02)
