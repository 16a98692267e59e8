"""The applications' common base: saved events told to an in-process listener, saves that
decide again after losing a race, and a cache that never keeps what a failed save left."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application, LocalNotificationLog, Repository
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Notification

from laino.orchestrator.store.pgevents import OneStatementRecorder, saved_since_together
from laino.orchestrator.store.tailing import TailingRepository, Together

# Several orchestrators may change one aggregate at once; the loser of a race tries again.
SAVE_ATTEMPTS = 5


Listener = Callable[[list[DomainEventProtocol[UUID]]], None]
A = TypeVar("A", bound=Aggregate)


class NotifyingApplication(Application[UUID]):
    """Tells an in-process listener about every saved event, so waiters wake at once."""

    listener: Listener | None = None
    log_section_size = 500

    def construct_repository(self) -> Repository[UUID]:
        """On a shared store (PostgreSQL), a cache that follows the store's log (tailing.py)."""
        size = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        if not isinstance(self.recorder, OneStatementRecorder) or not size:
            return super().construct_repository()
        return TailingRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(size),
            tail=self.recorder.saved_since,
            last_id=self.recorder.last_id,
        )

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        try:
            return super().save(*objs, **kwargs)
        except Exception:
            # The cache holds the aggregates saved (the embedded database's, and one that follows
            # a shared store's log), and one changed since may be among these, read before
            # another server's save: it is read again from the store.
            for obj in objs:
                if isinstance(obj, Aggregate):
                    self.uncache(obj.id)
            raise

    def uncache(self, aggregate_id: UUID) -> None:
        if self.repository.cache is not None:
            with contextlib.suppress(KeyError):
                self.repository.cache.get(aggregate_id, evict=True)

    def notify(self, new_events: list[DomainEventProtocol[UUID]]) -> None:
        if self.listener is not None and new_events:
            self.listener(new_events)

    def save_changed(self, change: Callable[[], A | None]) -> A | None:
        """Saves what `change` made of an aggregate it read; when another orchestrator saved
        that aggregate first, `change` decides again on what it is now. None: nothing to save."""
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            aggregate = change()
            if aggregate is None:
                return None
            try:
                self.save(aggregate)
            except IntegrityError:
                if attempt == SAVE_ATTEMPTS:
                    raise
                continue
            return aggregate
        raise AssertionError("unreachable")


def look_together(apps: Sequence[NotifyingApplication]) -> None:
    """A server's applications on one shared store ask what was saved since in one query a
    turn, not each in its own (tailing.py)."""
    following = [app for app in apps if isinstance(app.repository, TailingRepository)]
    if len(following) > 1:
        recorders = [app.recorder for app in following]
        assert all(isinstance(recorder, OneStatementRecorder) for recorder in recorders)
        Together(
            [app.repository for app in following],  # type: ignore[misc]
            saved_since_together(recorders),  # type: ignore[arg-type]
        )


def notifications_after(log: LocalNotificationLog, position: int) -> Iterator[Notification]:
    """Every notification after that id, a section at a time, up to the log's end as it is
    now: a section shorter than a full one is the last, and no empty read follows it."""
    while notes := log.select(start=position + 1, limit=log.section_size):
        yield from notes
        if len(notes) < log.section_size:
            return
        position = notes[-1].id
