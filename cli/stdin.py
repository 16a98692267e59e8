"""Sending this CLI's stdin to a job (`job run -i`), and with -t its terminal's keys and size."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator

import grpc

from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

READ_BYTES = 64 * 1024
# Input sent and not yet taken by the job, kept to be sent again if the call breaks.
WINDOW = 1024 * 1024
RETRY_FOR = 60.0


class StdinSender:
    """Reads stdin in a thread of its own and sends it as the job takes it, to its end."""

    def __init__(self, stub: rpc.JobServiceStub, job_id: str, *, terminal: bool):
        self.stub = stub
        self.job_id = job_id
        self.terminal = terminal
        self.held = bytearray()  # from `taken` on: sent, or read and about to be
        self.taken = 0
        self.ended = False  # stdin reached its end
        self.closed = threading.Event()  # the job's stdin is closed: nothing more to send
        self.room = threading.Condition()
        self.resized = terminal

    def start(self) -> None:
        if self.terminal:
            signal.signal(signal.SIGWINCH, lambda *_: setattr(self, "resized", True))
        threading.Thread(target=self._send, daemon=True).start()

    def _send(self) -> None:
        deadline = time.monotonic() + RETRY_FOR
        while not self.closed.is_set():
            try:
                for progress in self.stub.AttachStdin(self._requests()):
                    self._took(progress.written)
                    deadline = time.monotonic() + RETRY_FOR
                    if progress.closed:
                        self.closed.set()
                return
            except grpc.RpcError as error:
                # A server that restarts: resume from what the job took, on a new call.
                if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                    self._give_up(error)
                    return
                time.sleep(0.5)

    def _give_up(self, error: grpc.RpcError) -> None:
        """The job would wait for ever for input that cannot come: it is cancelled."""
        self.closed.set()
        sys.stderr.write(f"\r\nlaino: cannot send the job its input: {error.details()}\r\n")
        with contextlib.suppress(grpc.RpcError):
            self.stub.CancelJob(pb.CancelJobRequest(job_id=self.job_id))

    def _took(self, written: int) -> None:
        with self.room:
            done = max(0, min(written - self.taken, len(self.held)))
            del self.held[:done]
            self.taken += done
            self.room.notify_all()

    def _requests(self) -> Iterator[pb.StdinRequest]:
        with self.room:  # first, what was read and not taken
            offset, data = self.taken, bytes(self.held)
        yield pb.StdinRequest(
            job_id=self.job_id, offset=offset, data=data, eof=self.ended, **self._size()
        )
        offset += len(data)
        while not self.ended and not self.closed.is_set():
            with self.room:
                self.room.wait_for(lambda: len(self.held) < WINDOW or self.closed.is_set(), 1.0)
            ready, _, _ = select.select([0], [], [], 0.2)
            data = os.read(0, READ_BYTES) if ready else b""
            self.ended = bool(ready) and not data
            with self.room:
                self.held += data
            if data or self.ended or self.resized:
                yield pb.StdinRequest(offset=offset, data=data, eof=self.ended, **self._size())
                offset += len(data)

    def _size(self) -> dict[str, int]:
        if not self.resized:
            return {}
        self.resized = False
        try:
            size = os.get_terminal_size(0)
        except OSError:
            size = shutil.get_terminal_size()
        return {"rows": size.lines, "cols": size.columns}


@contextlib.contextmanager
def raw_terminal() -> Iterator[None]:
    """Keys go to the job as typed (Ctrl-C too); the terminal is as it was afterwards."""
    if not os.isatty(0):
        yield
        return
    saved = termios.tcgetattr(0)
    tty.setraw(0)
    try:
        yield
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, saved)
