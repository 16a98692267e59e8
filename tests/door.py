"""A TCP port a test opens when it chooses, forwarding to a real server: until then, whoever
dials it is refused, as if the server were not there yet. Frozen, it carries nothing more on
the connections it has, as across a network partition."""

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
        self._frozen = threading.Event()

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
            # Wakes the accepting thread, which holds the socket listening until it returns.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()

    def freeze(self) -> None:
        """Whatever is sent either way on the connections made so far is lost, and they stay
        open: neither end hears of it. New connections are refused until the door is opened
        again, and those carry bytes as before."""
        frozen, self._frozen = self._frozen, threading.Event()
        frozen.set()
        self.close()

    def _accept(self, listener: socket.socket, target: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):  # closed
            while True:
                inside, _ = listener.accept()
                outside = socket.create_connection(target)
                for a, b in ((inside, outside), (outside, inside)):
                    args = (a, b, self._frozen)
                    threading.Thread(target=_pipe, args=args, daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket, frozen: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            if not frozen.is_set():
                sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
