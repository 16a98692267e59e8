"""Printing a job's log as it happens: keeps its place, reconnects, and stops when the job ends."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

import grpc

from laino.cli.output import state_text
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

RETRY_FOR = 60.0
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Progress:
    """A one-line indicator on a terminal's stderr while the job waits for its worker."""

    def __init__(self, stub: rpc.JobServiceStub, job_id: str, *, enabled: bool = True):
        self.stub = stub
        self.job_id = job_id
        self.state = "QUEUED"
        self.done = threading.Event()
        self.enabled = enabled and sys.stderr.isatty()
        self.shown = False

    def start(self) -> None:
        if self.enabled:
            threading.Thread(target=self._watch, daemon=True).start()
            threading.Thread(target=self._spin, daemon=True).start()

    def stop(self) -> None:
        if not self.done.is_set():
            self.done.set()
            if self.shown:
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()

    def _watch(self) -> None:
        """The state, and while queued the place in the queue, which no event announces."""
        while not self.done.wait(0.5):
            try:
                job = self.stub.GetJob(pb.GetJobRequest(job_id=self.job_id), timeout=5)
            except grpc.RpcError:
                continue
            self.state = state_text(job)

    def _spin(self) -> None:
        started = time.monotonic()
        frame = 0
        while not self.done.wait(0.1):
            elapsed = time.monotonic() - started
            sys.stderr.write(
                f"\r\033[K{SPINNER[frame % 10]} job {self.job_id[:8]} {self.state} {elapsed:.1f}s"
            )
            sys.stderr.flush()
            self.shown = True
            frame += 1


class LogFollower:
    """Shows a job's log, each chunk once and in order, remembering where it got to."""

    def __init__(
        self,
        stub: rpc.JobServiceStub,
        job_id: str,
        *,
        show: Callable[[Sequence[pb.LogChunk]], None],
        tail: int = 0,
        since: float = 0.0,
        progress: Progress | None = None,
    ):
        self.stub = stub
        self.job_id = job_id
        self.show = show
        self.tail = tail
        self.since = since
        self.progress = progress
        self.next_seq = 0
        self.call: grpc.Future | None = None
        self.interrupted = False

    def follow(self, *, live: bool) -> pb.LogsEnd:
        """Prints until the end (the job's end, when `live`); returns the final message.

        Interrupted, or cut off by a restarting server, it carries on from where it stopped.
        Ctrl-C raises KeyboardInterrupt, as usual, but from here, between gRPC calls.
        """
        self.interrupted = False
        # A KeyboardInterrupt raised inside gRPC's own code may leave its call state half
        # changed, and the next call (the cancel that Ctrl-C asks for) hang: the handler only
        # cancels the stream, and the interrupt is raised below.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._interrupt) if main else None
        try:
            return self._follow(live)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)

    def _interrupt(self, signum: int, frame: object) -> None:
        self.interrupted = True
        if self.call is not None:
            self.call.cancel()

    def _follow(self, live: bool) -> pb.LogsEnd:
        deadline = time.monotonic() + RETRY_FOR
        while not self.interrupted:
            request = pb.StreamLogsRequest(
                job_id=self.job_id,
                from_seq=self.next_seq,
                follow=live,
                tail=self.tail,
                since=self.since,
            )
            try:
                self.call = self.stub.StreamLogs(request)
                if self.interrupted:  # Ctrl-C came while there was no call to cancel
                    self.call.cancel()
                for item in self.call:
                    if self.progress:
                        self.progress.stop()
                    if item.HasField("end"):
                        return item.end
                    chunks = item.page.chunks
                    self.show(chunks)
                    self.next_seq = chunks[-1].seq + 1
                    self.tail, self.since = 0, 0.0
                    deadline = time.monotonic() + RETRY_FOR
            except grpc.RpcError as error:
                if self.interrupted:
                    break
                if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
            finally:
                self.call = None
        raise KeyboardInterrupt
