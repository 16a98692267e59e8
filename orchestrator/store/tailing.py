"""A repository whose cache follows its events table's log, for stores several servers share.

eventsourcing's cache on a shared store asks the store, at every read of a cached aggregate,
for the events saved after it (fast-forwarding): one round trip a read, though another server
seldom saved any. This cache instead reads, once per turn of the event loop at most, which
aggregates were saved since it last looked (one query for all of them) and drops each one it
holds at an older version; a read of any other is answered from memory.

A read is then at most a turn of the loop behind the store: whatever another server commits
after a look is seen at the next one, as if the read had come a moment earlier. The
log is complete in id order because each save locks the table (pgevents), as the logs'
followers rely on. A command still saves only over the version it read: a read that was stale
loses the race, is dropped from the cache, and decides again on what is there now
(notifying.py). This server's own saves are put in the cache as they are made.

Its reads and saves are made on the event loop's thread: one made in another thread could
put in the cache what a look in between had already passed over.

A server's repositories on one database look together (Together): the first read of a turn
asks, in one query, what was saved in each of their tables, where each took a query of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache, Repository

# The aggregates saved after a notification id: (notification id, aggregate id, version).
Saved = Sequence[tuple[int, UUID, int]]
Tail = Callable[[int], Saved]
# Several tables' at once: for each position given, what its table saved after it.
Tails = Callable[[Sequence[int]], Sequence[Saved]]
# Past this many saves since the last look, the whole cache is dropped rather than sifted.
SIFTED = 1000


class Turns:
    """Whether this turn of the event loop has looked already; outside a loop, never."""

    def __init__(self) -> None:
        self.looked: asyncio.AbstractEventLoop | None = None

    def first(self) -> bool:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return True  # a command-line tool's read: each one looks
        if self.looked is loop:
            return False
        self.looked = loop
        loop.call_soon(self._turned)
        return True

    def _turned(self) -> None:
        self.looked = None


class TailingRepository(Repository[UUID]):
    def __init__(
        self, *, tail: Tail, last_id: Callable[[], int], cache_maxsize: int, **kwargs: Any
    ) -> None:
        super().__init__(cache_maxsize=cache_maxsize, fastforward=False, **kwargs)
        self.tail = tail
        self.last_id = last_id
        self.maxsize = cache_maxsize
        # The last notification id looked at; None until the first look.
        self.position: int | None = None
        self.turns = Turns()
        # The repositories this one looks with, if any.
        self.together: Together | None = None

    def get(self, aggregate_id: UUID, *, version: int | None = None, **kwargs: Any) -> Any:
        if version is None:
            self.catch_up()
        return super().get(aggregate_id, version=version, **kwargs)

    def catch_up(self) -> None:
        """Drops what another server saved since the last look: once per turn of the event
        loop, or at each read outside one (a command-line tool's)."""
        if self.together is not None:
            self.together.catch_up()
        elif self.turns.first() and self.started():
            self.sift(self.tail(self.position or 0))

    def started(self) -> bool:
        """Whether it has a position to look from; at the first look it takes one."""
        if self.position is None:
            # Taken before anything is cached from here on; what was cached before is dropped.
            self.position = self.last_id()
            self.cache = LRUCache(maxsize=self.maxsize)
            return False
        return True

    def sift(self, saved: Saved) -> None:
        if len(saved) >= SIFTED:
            self.position = None
            self.started()
            return
        assert self.cache is not None
        for notification_id, aggregate_id, version in saved:
            self.position = notification_id
            try:
                cached = self.cache.get(aggregate_id)
            except KeyError:
                continue
            if cached.version < version:
                self.cache.get(aggregate_id, evict=True)


class Together:
    """Repositories on one database that look in one query, once per turn for all."""

    def __init__(self, repositories: Sequence[TailingRepository], tails: Tails):
        self.repositories = repositories
        self.tails = tails
        self.turns = Turns()
        for repository in repositories:
            repository.together = self

    def catch_up(self) -> None:
        if not self.turns.first():
            return
        for repository in self.repositories:
            repository.started()  # each one without a position takes one first
        positions = [repository.position or 0 for repository in self.repositories]
        for repository, saved in zip(self.repositories, self.tails(positions), strict=True):
            repository.sift(saved)
