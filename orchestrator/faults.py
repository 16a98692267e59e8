"""Test-only crash points for the chaos suite (`just chaos`).

`LAINO_FAULT=step:when[,…]` (for example `provision_worker:after`) makes the server die, as a
SIGKILL would, each time it reaches that point of a saga step. It is for tests: never set it in
production. The points are listed in docs/reliability.md.
"""

from __future__ import annotations

import functools
import os

# The exit status of a crash at a fault point, as a SIGKILL's.
CRASHED = 137


@functools.cache
def _armed() -> frozenset[str]:
    return frozenset(p.strip() for p in os.environ.get("LAINO_FAULT", "").split(",") if p.strip())


def point(name: str) -> None:
    """Dies here when LAINO_FAULT names this point; does nothing otherwise."""
    if name in _armed():
        os.write(2, f"laino: fault point {name}: crashing\n".encode())
        os._exit(CRASHED)
