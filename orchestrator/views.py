"""Read models for listing jobs and workers and finding open sagas, kept by following the logs."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.application import Application

from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp, WorkerView
from laino.orchestrator.jobs import State
from laino.orchestrator.saga import ExecutionSaga
from laino.orchestrator.workers import WorkerState

SECTION = 500


class Views:
    """A projection with tracking: each row update commits with the position it came from."""

    def __init__(
        self, conn: sqlite3.Connection, jobs: JobsApp, workers: WorkersApp, sagas: SagasApp
    ):
        self.conn = conn
        self.jobs = jobs
        self.workers = workers
        self.sagas = sagas

    def catch_up(self) -> None:
        for app, project in (
            (self.jobs, self._jobs),
            (self.workers, self._workers),
            (self.sagas, self._sagas),
        ):
            self._follow(app, project)

    def _follow(self, app: Application[UUID], project: object) -> None:
        while True:
            row = self.conn.execute(
                "SELECT position FROM view_position WHERE app = ?", (app.name,)
            ).fetchone()
            position = row[0] if row else 0
            section = list(app.notification_log.select(start=position + 1, limit=SECTION))
            if not section:
                return
            ids = list(dict.fromkeys(n.originator_id for n in section))
            with self.conn:
                project(ids)  # type: ignore[operator]
                self.conn.execute(
                    "INSERT INTO view_position VALUES (?, ?) ON CONFLICT (app)"
                    " DO UPDATE SET position = excluded.position",
                    (app.name, section[-1].id),
                )

    def _jobs(self, ids: Sequence[UUID]) -> None:
        for job_id in ids:
            job = self.jobs.get_job(job_id)
            self.conn.execute(
                "INSERT INTO job_view (id, state, attempt, exit_code, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
                " attempt = excluded.attempt, exit_code = excluded.exit_code,"
                " updated_at = excluded.updated_at",
                (
                    str(job.id),
                    job.state,
                    job.attempt,
                    job.exit_code,
                    job.created_at,
                    job.updated_at,
                ),
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO job_label VALUES (?, ?, ?)",
                [(str(job.id), k, v) for k, v in job.spec.labels.items()],
            )

    def _workers(self, ids: Sequence[UUID]) -> None:
        for worker_id in ids:
            w = self.workers.get_worker(worker_id)
            assert w is not None
            self.conn.execute(
                "INSERT OR REPLACE INTO worker_view VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(w.id),
                    str(w.job_id),
                    w.attempt,
                    w.state,
                    w.provider,
                    w.name,
                    w.message,
                    w.created_at,
                ),
            )

    def _sagas(self, ids: Sequence[UUID]) -> None:
        for saga_id in ids:
            saga: ExecutionSaga = self.sagas.repository.get(saga_id)
            if saga.finished:
                self.conn.execute("DELETE FROM open_saga WHERE job_id = ?", (str(saga.job_id),))
            else:
                self.conn.execute("INSERT OR IGNORE INTO open_saga VALUES (?)", (str(saga.job_id),))

    def list_jobs(
        self, states: Sequence[State], labels: dict[str, str], limit: int, before: int
    ) -> list[tuple[int, UUID]]:
        """Newest first, as (cursor, job id); pass the last cursor as `before` for the next page."""
        sql = "SELECT n, id FROM job_view WHERE n < ?"
        args: list[object] = [before or 2**62]
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += [str(s) for s in states]
        for key, value in labels.items():
            sql += " AND id IN (SELECT job_id FROM job_label WHERE key = ? AND value = ?)"
            args += [key, value]
        sql += " ORDER BY n DESC LIMIT ?"
        args.append(limit)
        return [(n, UUID(i)) for n, i in self.conn.execute(sql, args)]

    def list_workers(self) -> list[WorkerView]:
        rows = self.conn.execute(
            "SELECT id, job_id, attempt, state, provider, name, message, created_at"
            " FROM worker_view ORDER BY created_at DESC"
        )
        return [
            WorkerView(UUID(i), UUID(j), a, WorkerState(s), p, n, m, c)
            for i, j, a, s, p, n, m, c in rows
        ]

    def open_sagas(self) -> list[UUID]:
        return [UUID(row[0]) for row in self.conn.execute("SELECT job_id FROM open_saga")]
