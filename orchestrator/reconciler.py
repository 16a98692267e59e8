"""The reconciler: removes workers that a provider still runs but no live worker accounts for.

Sagas destroy their workers on every outcome, but some escape them: the engine can start a
container even when the create call failed, a crash can come between a destroy and its record,
and an operator can wipe a state directory. Every provider lists what carries our labels.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from uuid import UUID

from laino.orchestrator.apps import WorkersApp, WorkerView
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.domain.workers import ACCOUNTED
from laino.providers.base import LABEL_WORKER, Handle, Provider, ProviderError

log = logging.getLogger("laino.reconciler")


@dataclass(kw_only=True, eq=False)
class Reconciler:
    """Destroys an unaccounted worker once it has stayed unaccounted for the grace period."""

    workers: WorkersApp
    providers: Callable[[], Iterable[Provider]]
    interval: float
    grace: float
    availability: Availability = field(default_factory=Availability)
    # When each unaccounted worker was first seen: provider name → worker name → instant.
    suspects: dict[str, dict[str, float]] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self.availability.database:
                continue  # each read of a worker would hold up the server in the driver
            for provider in self.providers():
                try:
                    await self.sweep(provider)
                except Exception as err:  # the database away, say: the next pass tries again
                    log.warning("cannot sweep the workers of %s: %s", provider.name, err)

    async def sweep(self, provider: Provider) -> list[Handle]:
        """One pass over one provider; returns what it removed."""
        try:
            handles = await asyncio.to_thread(provider.owned)
        except ProviderError as err:
            if provider.name not in self.unreachable:
                log.warning("cannot list the workers of %s: %s", provider.name, err)
                self.unreachable.add(provider.name)
            return []
        self.unreachable.discard(provider.name)
        now = time.monotonic()
        seen = self.suspects.get(provider.name, {})
        unaccounted = {}
        for handle in handles:
            worker_id = _uuid(handle.labels.get(LABEL_WORKER, ""))
            worker = None if worker_id is None else self.workers.get_worker(worker_id)
            if worker is None or worker.state not in ACCOUNTED:
                unaccounted[handle.name] = (handle, worker)
        self.suspects[provider.name] = {name: seen.get(name, now) for name in unaccounted}
        removed = []
        for name, (handle, worker) in unaccounted.items():
            if now - self.suspects[provider.name][name] >= self.grace:
                why = "no worker record" if worker is None else f"its worker is {worker.state}"
                if await self._remove(provider, handle, worker, f"orphan {name} removed: {why}"):
                    removed.append(handle)
        return removed

    async def _remove(
        self, provider: Provider, handle: Handle, worker: WorkerView | None, reason: str
    ) -> bool:
        try:
            await asyncio.to_thread(provider.destroy, handle)
        except ProviderError as err:
            log.warning("cannot remove orphan %s of %s: %s", handle.name, provider.name, err)
            return False
        log.info("%s (%s)", reason, provider.name)
        if worker is not None:
            self.workers.record_orphan_removed(worker.id, provider.name, reason)
        return True


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None
