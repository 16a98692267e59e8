"""A job's whole history: its events, its saga's and its workers', in the order they happened."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp
from laino.orchestrator.domain.saga import ExecutionSaga
from laino.orchestrator.domain.workers import Worker

HIDDEN = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "session_hash",
    "secret_hash",
}


@dataclass(frozen=True)
class Entry:
    source: str
    version: int
    type: str
    timestamp: float
    data: dict[str, Any]


def job_history(job_id: UUID, jobs: JobsApp, workers: WorkersApp, sagas: SagasApp) -> list[Entry]:
    """A warm pool worker's events count from its claim: those before were the pool's."""
    attempts = jobs.get_job(job_id).attempt  # JobNotFound for an unknown job
    entries = [entry("job", event) for event in jobs.events.get(job_id)]
    entries += [entry("saga", e) for e in sagas.events.get(ExecutionSaga.create_id(job_id))]
    ids = [Worker.create_id(job_id, n) for n in range(1, attempts + 1)]
    ids += [UUID(e.data["worker_id"]) for e in entries if e.type == "ProvisioningStarted"]
    for worker_id in dict.fromkeys(ids):
        events = [entry("worker", event) for event in workers.events.get(worker_id)]
        claimed = [i for i, e in enumerate(events) if e.type == "Claimed"]
        entries += events[claimed[0] :] if claimed else events
    return sorted(entries, key=lambda e: e.timestamp)


def entry(source: str, event: Any) -> Entry:
    """One domain event as people read it: its type and its plain data."""
    return Entry(
        source=source,
        version=event.originator_version,
        type=type(event).__qualname__.split(".")[-1],
        timestamp=event.timestamp.timestamp(),
        data={k: _plain(v) for k, v in vars(event).items() if k not in HIDDEN},
    )


def _plain(value: Any) -> Any:
    if isinstance(value, UUID | datetime):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return json.loads(json.dumps(value, default=str))
