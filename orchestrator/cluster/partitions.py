"""Partitions: the sagas split by job id, each partition driven by one server at a time.

On PostgreSQL each partition is a session advisory lock (class PARTITION, key the partition),
and each live server holds one more lock of class MEMBER, so that every server can count the
others. A server holds at most its fair share, PARTITIONS / servers rounded up: it takes free
partitions up to it and gives up those beyond it. When a server dies its connection closes and
PostgreSQL frees its locks at once; the others see fewer members and take its partitions at
their next turn, about a second later. All the locks of a server are on one connection of its
own, so that losing it loses them all together.

On the embedded SQLite one server owns a home, and holds every partition.
"""

from __future__ import annotations

import contextlib
import math
import random
from typing import Protocol
from uuid import UUID

from sqlalchemy import Connection, Engine, text

# Fixed: every server of an installation must split jobs the same way.
PARTITIONS = 32
# The advisory locks' classes (pg_advisory_lock(int, int)); the lease and migrations take
# single-key locks, which PostgreSQL keeps apart from these.
MEMBER = 7413
PARTITION = 7414

LOCKS = """
SELECT objid::int FROM pg_locks
WHERE locktype = 'advisory' AND classid = :class AND objsubid = 2 AND granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def partition_of(job_id: UUID) -> int:
    return job_id.int % PARTITIONS


class Partitions(Protocol):
    def rebalance(self) -> tuple[set[int], set[int]]:
        """Takes free partitions up to this server's share; returns the partitions it holds,
        and those of them beyond its share, for it to stop driving and give up. Raises when the
        database cannot be reached, having let every partition go."""

    def give_up(self, parts: set[int]) -> None: ...

    def release(self) -> None:
        """Lets every partition go."""


class AdvisoryPartitions:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.conn: Connection | None = None
        self.held: set[int] = set()

    def rebalance(self) -> tuple[set[int], set[int]]:
        try:
            conn = self.conn or self._join()
            servers = len(self._locks(conn, MEMBER))
            share = math.ceil(PARTITIONS / max(servers, 1))
            if len(self.held) < share:
                free = list(set(range(PARTITIONS)) - self._locks(conn, PARTITION))
                random.shuffle(free)  # servers taking at once mostly try different ones
                for part in free[: share - len(self.held)]:
                    taken = conn.execute(
                        text("SELECT pg_try_advisory_lock(:c, :k)"), {"c": PARTITION, "k": part}
                    )
                    if taken.scalar():
                        self.held.add(part)
        except Exception:
            self.release()  # the connection, and with it every lock, may be gone
            raise
        surplus = sorted(self.held, reverse=True)[: max(0, len(self.held) - share)]
        return set(self.held), set(surplus)

    def give_up(self, parts: set[int]) -> None:
        if self.conn is None:
            return
        try:
            for part in parts & self.held:
                unlock = text("SELECT pg_advisory_unlock(:c, :k)")
                self.conn.execute(unlock, {"c": PARTITION, "k": part})
                self.held.discard(part)
        except Exception:
            self.release()
            raise

    def _join(self) -> Connection:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        while True:
            member = random.randrange(1, 2**31)
            joined = conn.execute(
                text("SELECT pg_try_advisory_lock(:c, :k)"), {"c": MEMBER, "k": member}
            )
            if joined.scalar():
                self.conn = conn
                return conn

    @staticmethod
    def _locks(conn: Connection, kind: int) -> set[int]:
        return {key for (key,) in conn.execute(text(LOCKS), {"class": kind})}

    def release(self) -> None:
        self.held = set()
        if self.conn is not None:
            with contextlib.suppress(Exception):
                # Ending the session frees the locks; closing alone would pool them.
                self.conn.invalidate()
                self.conn.close()
            self.conn = None


class AllPartitions:
    """The embedded database's: its one server (startup.own_home) holds every partition."""

    def rebalance(self) -> tuple[set[int], set[int]]:
        return set(range(PARTITIONS)), set()

    def give_up(self, parts: set[int]) -> None:
        """Never asked: there is no other server to take them."""

    def release(self) -> None:
        """Nothing is held but the home."""
