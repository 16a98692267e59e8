"""A network partition between this host's processes and one server's port: packets to and
from it are dropped, so nothing is refused and nothing answers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cut_off(port: int) -> Iterator[None]:
    """For the block; the firewall's rules are removed however it ends."""
    rules = [["--dport", str(port)], ["--sport", str(port)]]
    for rule in rules:
        _firewall("-A", *rule)
    try:
        yield
    finally:
        for rule in rules:
            _firewall("-D", *rule)


def _firewall(action: str, *match: str) -> None:
    rule = ["OUTPUT", "-o", "lo", "-p", "tcp", *match, "-j", "DROP"]
    subprocess.run(["iptables", action, *rule], check=True, capture_output=True)
