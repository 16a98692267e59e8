"""Saves asked for in one turn of the event loop, made together in one transaction.

Many sagas step in the same turn when a batch of jobs runs. Each step must be saved before its
side effect, so each waits for its save; waiting for the next turn lets the steps of that turn
share one transaction, where each took its own. A save that fails for a version conflict
(another server saved that aggregate first) fails only its own waiter: the others are saved
again, one by one, as if they had never been grouped. Any other failure (the database away)
fails every waiter at once, without trying each against the failing store.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError


@dataclass(eq=False)
class GroupCommit:
    app: Application[Any]
    waiting: list[tuple[Aggregate, asyncio.Future[None]]] = field(default_factory=list)

    async def save(self, aggregate: Aggregate) -> None:
        """Returns once what the aggregate recorded is saved; raises what its save raised."""
        loop = asyncio.get_running_loop()
        if not self.waiting:
            loop.call_soon(self._commit)
        saved: asyncio.Future[None] = loop.create_future()
        self.waiting.append((aggregate, saved))
        await saved

    def _commit(self) -> None:
        waiting, self.waiting = self.waiting, []
        aggregates = [aggregate for aggregate, _ in waiting]
        # A failed save has taken the events out of its aggregates: kept, to be put back.
        pending = [list(aggregate.pending_events) for aggregate in aggregates]
        try:
            self.app.save(*aggregates)
        except IntegrityError as err:
            if len(waiting) == 1:
                _tell(waiting[0][1], err)
                return
            for (aggregate, saved), events in zip(waiting, pending, strict=True):
                aggregate.pending_events[:] = events
                try:
                    self.app.save(aggregate)
                except Exception as alone:
                    _tell(saved, alone)
                else:
                    _tell(saved, None)
        except Exception as err:
            for _, saved in waiting:
                _tell(saved, err)
        else:
            for _, saved in waiting:
                _tell(saved, None)


def _tell(saved: asyncio.Future[None], err: Exception | None) -> None:
    if saved.done():
        return  # its waiter was cancelled: what it recorded is saved (or not) all the same
    if err is None:
        saved.set_result(None)
    else:
        saved.set_exception(err)
