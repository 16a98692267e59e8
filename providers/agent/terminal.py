"""A pseudo-terminal for a job run with a tty: one stream out, keystrokes in, a window size."""

from __future__ import annotations

import asyncio
import fcntl
import os
import struct
import sys
import termios
from typing import Any

# Runs the command as the leader of a session of its own, with the terminal as its controlling
# terminal, so that Ctrl-C, Ctrl-Z and window changes reach its foreground processes. Python,
# not a `preexec_fn`: code in a child forked from a process with gRPC's threads can abort.
CONTROLLING = [
    sys.executable,
    "-I",
    "-c",
    "import os,sys,fcntl,termios;os.setsid();fcntl.ioctl(0,termios.TIOCSCTTY,0);"
    "os.execvp(sys.argv[1],sys.argv[1:])",
]
# What a terminal reads as the end of input, at the start of a line.
EOT = b"\x04"


class Terminal:
    """The agent holds the terminal's master side; the job gets its other side as stdio."""

    def __init__(self, rows: int = 24, cols: int = 80):
        self.master, self.slave = os.openpty()
        self.resize(rows, cols)

    def stdio(self) -> dict[str, Any]:
        return {"stdin": self.slave, "stdout": self.slave, "stderr": self.slave}

    def started(self) -> None:
        """Once the job has its side: the job's end then ends the output (EIO)."""
        os.close(self.slave)

    async def output(self) -> asyncio.StreamReader:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(os.dup(self.master), "rb", buffering=0)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        return reader

    def resize(self, rows: int, cols: int) -> None:
        """The kernel tells the job's foreground processes (SIGWINCH)."""
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = await asyncio.to_thread(os.write, self.master, view)
            view = view[written:]

    def end_input(self) -> None:
        os.write(self.master, EOT)

    def close(self) -> None:
        os.close(self.master)
