"""A TCP port a test opens when it chooses, forwarding to a real server: until then, whoever
dials it is refused, as if the server were not there yet."""

from __future__ import annotations

import contextlib
import socket
import threading


class Door:
    """Listens on `port` once opened, and copies bytes both ways to the target it was opened
    with (HOST:PORT)."""

    def __init__(self, port: int):
        self.port = port
        self._listener: socket.socket | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def open(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._listener = socket.create_server(("127.0.0.1", self.port))
        args = (self._listener, (host, int(port)))
        threading.Thread(target=self._accept, args=args, daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()

    def _accept(self, listener: socket.socket, target: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):  # closed
            while True:
                inside, _ = listener.accept()
                outside = socket.create_connection(target)
                for a, b in ((inside, outside), (outside, inside)):
                    threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
