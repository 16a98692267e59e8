"""The jobs admission let go, each until its saga is finished: what the server holding a job's
partition drives (orchestrator/drivers.py), and what a new lease holder counts as taking room."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Engine, bindparam, delete, insert, select, text

from laino.orchestrator.store.tables import admitted

# Made once: each server reads it at every wake-up for its partitions, and building the
# statement each time took some 40% of the read's CPU.
SINCE = text(
    "SELECT n, job_id, worker_id FROM admitted WHERE n > :n AND part IN :parts ORDER BY n"
).bindparams(bindparam("parts", expanding=True))


@dataclass(frozen=True)
class AdmittedJob:
    n: int
    job_id: UUID
    # The warm pool worker admission kept for the job, if any.
    worker_id: UUID | None


class AdmittedTable:
    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, jobs: Mapping[UUID, tuple[int, UUID | None]]) -> None:
        """Lets the jobs go, each with its partition and the warm pool worker kept for it; in
        one transaction. A job let go already (by an earlier lease holder) stays as it was."""
        if not jobs:
            return
        ids = [str(job_id) for job_id in jobs]
        with self.engine.begin() as conn:
            found = conn.execute(select(admitted.c.job_id).where(admitted.c.job_id.in_(ids)))
            there = {UUID(job) for (job,) in found}
            rows = [
                {"job_id": str(job_id), "part": part, "worker_id": str(worker or "")}
                for job_id, (part, worker) in jobs.items()
                if job_id not in there
            ]
            if rows:
                conn.execute(insert(admitted), rows)

    def since(self, n: int, parts: Collection[int]) -> list[AdmittedJob]:
        """The jobs of those partitions let go after the n-th, in order."""
        if not parts:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(SINCE, {"n": n, "parts": sorted(parts)}).all()
        return [
            AdmittedJob(n, UUID(job), UUID(worker) if worker else None) for n, job, worker in rows
        ]

    def jobs(self) -> set[UUID]:
        """Every job let go whose saga was not known finished."""
        with self.engine.connect() as conn:
            return {UUID(job) for (job,) in conn.execute(select(admitted.c.job_id))}

    def remove(self, job_ids: Collection[UUID]) -> None:
        """Their sagas are finished."""
        if job_ids:
            ids = [str(job_id) for job_id in job_ids]
            with self.engine.begin() as conn:
                conn.execute(delete(admitted).where(admitted.c.job_id.in_(ids)))
