"""Read models for listing jobs and workers and finding open sagas, kept by following the logs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application
from sqlalchemy import Connection, Engine, text

from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp, WorkerView
from laino.orchestrator.domain.jobs import State
from laino.orchestrator.domain.saga import ExecutionSaga
from laino.orchestrator.domain.workers import WorkerState

SECTION = 500

# Made once; a section's rows go in one executemany a table.
POSITION = text("SELECT position FROM view_position WHERE app = :app")
MOVE_POSITION = text(
    "INSERT INTO view_position VALUES (:app, :position) ON CONFLICT (app)"
    " DO UPDATE SET position = excluded.position"
)
UPSERT_JOB = text(
    "INSERT INTO job_view"
    " (id, state, attempt, exit_code, created_at, updated_at, priority,"
    " logs_expired_at, provider) VALUES (:id, :state, :attempt, :exit_code,"
    " :created_at, :updated_at, :priority, :logs_expired_at, :provider)"
    " ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
    " attempt = excluded.attempt, exit_code = excluded.exit_code,"
    " updated_at = excluded.updated_at, logs_expired_at = excluded.logs_expired_at,"
    " provider = excluded.provider"
)
INSERT_LABEL = text("INSERT INTO job_label VALUES (:job, :k, :v) ON CONFLICT DO NOTHING")
UPSERT_WORKER = text(
    "INSERT INTO worker_view (id, job_id, attempt, state, provider, name,"
    " message, created_at, pool) VALUES (:id, :job_id, :attempt, :state,"
    " :provider, :name, :message, :created_at, :pool) ON CONFLICT (id) DO UPDATE"
    " SET state = excluded.state, message = excluded.message,"
    " job_id = excluded.job_id, attempt = excluded.attempt"
)
CLOSE_SAGA = text("DELETE FROM open_saga WHERE job_id = :job")
OPEN_SAGA = text("INSERT INTO open_saga VALUES (:job) ON CONFLICT DO NOTHING")


@dataclass
class Queue:
    """One provider's line, as the views see it."""

    running: int = 0  # jobs past the queue, not ended: each holds a place
    queued: int = 0
    oldest_queued_at: float = 0.0
    pooled: int = 0  # idle pool workers, warm or starting: places a matching job takes over


class Views:
    """A projection with tracking: each row update commits with the position it came from."""

    def __init__(self, engine: Engine, jobs: JobsApp, workers: WorkersApp, sagas: SagasApp):
        self.engine = engine
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

    def _follow(
        self, app: Application[UUID], project: Callable[[Connection, Sequence[UUID]], None]
    ) -> None:
        while True:
            with self.engine.begin() as conn:
                position = conn.execute(POSITION, {"app": app.name}).scalar()
                section = list(
                    app.notification_log.select(start=(position or 0) + 1, limit=SECTION)
                )
                if not section:
                    return
                project(conn, list(dict.fromkeys(UUID(str(n.originator_id)) for n in section)))
                conn.execute(MOVE_POSITION, {"app": app.name, "position": section[-1].id})
            if len(section) < SECTION:
                return  # the log's end: what comes later is read at the next catch-up

    def _jobs(self, conn: Connection, ids: Sequence[UUID]) -> None:
        rows, labels = [], []
        for job_id in ids:
            job = self.jobs.get_job(job_id)
            rows.append(
                {
                    "id": str(job.id),
                    "state": job.state.value,
                    "attempt": job.attempt,
                    "exit_code": job.exit_code,
                    "created_at": job.created_at,
                    "updated_at": job.updated_at,
                    "priority": job.spec.priority,
                    "logs_expired_at": job.logs_expired_at,
                    "provider": job.spec.provider,
                }
            )
            labels += [{"job": str(job.id), "k": k, "v": v} for k, v in job.spec.labels.items()]
        conn.execute(UPSERT_JOB, rows)
        if labels:
            conn.execute(INSERT_LABEL, labels)

    def _workers(self, conn: Connection, ids: Sequence[UUID]) -> None:
        rows = []
        for worker_id in ids:
            w = self.workers.get_worker(worker_id)
            assert w is not None
            rows.append(
                {
                    "id": str(w.id),
                    "job_id": "" if w.job_id is None else str(w.job_id),
                    "pool": w.pool,
                    "attempt": w.attempt,
                    "state": w.state.value,
                    "provider": w.provider,
                    "name": w.name,
                    "message": w.message,
                    "created_at": w.created_at,
                }
            )
        conn.execute(UPSERT_WORKER, rows)

    def _sagas(self, conn: Connection, ids: Sequence[UUID]) -> None:
        closed: list[dict[str, str]] = []
        opened: list[dict[str, str]] = []
        for saga_id in ids:
            # Read only (see apps.READ_ONLY).
            saga: ExecutionSaga = self.sagas.repository.get(saga_id, deepcopy_from_cache=False)
            (closed if saga.finished else opened).append({"job": str(saga.job_id)})
        if closed:
            conn.execute(CLOSE_SAGA, closed)
        if opened:
            conn.execute(OPEN_SAGA, opened)

    def list_jobs(
        self,
        states: Sequence[State],
        labels: dict[str, str],
        limit: int,
        before: int,
        since: float = 0.0,
    ) -> list[tuple[int, UUID]]:
        """Newest first, as (cursor, job id); pass the last cursor as `before` for the next page."""
        sql = "SELECT n, id FROM job_view WHERE n < :before AND created_at >= :since"
        args: dict[str, object] = {"before": before or 2**62, "limit": limit, "since": since}
        if states:
            names = [f"s{i}" for i in range(len(states))]
            sql += f" AND state IN ({', '.join(':' + n for n in names)})"
            args.update({n: str(s) for n, s in zip(names, states, strict=True)})
        for i, (key, value) in enumerate(labels.items()):
            sql += f" AND id IN (SELECT job_id FROM job_label WHERE key = :k{i} AND value = :v{i})"
            args.update({f"k{i}": key, f"v{i}": value})
        sql += " ORDER BY n DESC LIMIT :limit"
        with self.engine.connect() as conn:
            return [(n, UUID(i)) for n, i in conn.execute(text(sql), args)]

    def list_workers(self, states: Sequence[WorkerState], limit: int) -> list[WorkerView]:
        """Newest first; of every state when `states` is empty."""
        sql = (
            "SELECT id, job_id, attempt, state, provider, name, message, created_at, pool"
            " FROM worker_view"
        )
        args: dict[str, object] = {"limit": limit}
        if states:
            sql += f" WHERE state IN ({', '.join(f':s{i}' for i in range(len(states)))})"
            args.update({f"s{i}": s.value for i, s in enumerate(states)})
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY created_at DESC LIMIT :limit"), args).all()
        return [
            WorkerView(UUID(i), UUID(j) if j else None, a, WorkerState(s), p, n, m, c, pool)
            for i, j, a, s, p, n, m, c, pool in rows
        ]

    def pool_counts(self, pool: str) -> tuple[int, int]:
        """A pool's idle workers: how many are WARM, how many still starting."""
        self.catch_up()
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT state, COUNT(*) FROM worker_view WHERE pool = :pool AND job_id = ''"
                    " AND state IN (:warm, :starting) GROUP BY state"
                ),
                {
                    "pool": pool,
                    "warm": WorkerState.WARM.value,
                    "starting": WorkerState.PROVISIONING.value,
                },
            )
            counts = {state: int(count) for state, count in rows}
        return counts.get(WorkerState.WARM.value, 0), counts.get(WorkerState.PROVISIONING.value, 0)

    def queues(self) -> dict[str, Queue]:
        """By provider: its jobs that hold places, its queued jobs, and its idle pool workers."""
        self.catch_up()
        terminal = [s.value for s in State if s.terminal]
        found: dict[str, Queue] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT provider, state, COUNT(*), MIN(created_at) FROM job_view"
                    f" WHERE state NOT IN ({', '.join(f':t{i}' for i in range(len(terminal)))})"
                    " GROUP BY provider, state"
                ),
                {f"t{i}": t for i, t in enumerate(terminal)},
            )
            for provider, state, count, oldest in rows:
                queue = found.setdefault(provider, Queue())
                if state == State.QUEUED.value:
                    queue.queued, queue.oldest_queued_at = int(count), float(oldest)
                else:
                    queue.running += int(count)
            pooled = conn.execute(
                text(
                    "SELECT provider, COUNT(*) FROM worker_view WHERE pool != '' AND job_id = ''"
                    " AND state IN (:warm, :starting) GROUP BY provider"
                ),
                {"warm": WorkerState.WARM.value, "starting": WorkerState.PROVISIONING.value},
            )
            for provider, count in pooled:
                found.setdefault(provider, Queue()).pooled = int(count)
        return found

    def queue_position(self, job_id: UUID) -> int:
        """Its place among the queued jobs, from 1, as the listing view has it: by priority, then
        by age (admission.py may let another submitter's job of the same priority go first)."""
        with self.engine.connect() as conn:
            ahead = conn.execute(
                text(
                    "SELECT COUNT(*) FROM job_view AS q, job_view AS me WHERE me.id = :id"
                    " AND q.state = :queued AND (q.priority > me.priority"
                    " OR (q.priority = me.priority AND q.n < me.n))"
                ),
                {"queued": State.QUEUED.value, "id": str(job_id)},
            ).scalar()
        return int(ahead or 0) + 1

    def queue_positions(self) -> dict[UUID, int]:
        """Every queued job's place, from 1: for a page of the listing at once."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, ROW_NUMBER() OVER (ORDER BY priority DESC, n) FROM job_view"
                    " WHERE state = :queued"
                ),
                {"queued": State.QUEUED.value},
            )
            return {UUID(i): int(place) for i, place in rows}

    def expiring(self, ended_before: float, limit: int) -> list[UUID]:
        """Jobs that ended before then and still have their output, oldest first."""
        terminal = sorted(s.value for s in State if s.terminal)
        names = ", ".join(f":s{i}" for i in range(len(terminal)))
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT id FROM job_view WHERE state IN ({names}) AND logs_expired_at = 0"
                    " AND updated_at < :before ORDER BY updated_at LIMIT :limit"
                ),
                {"before": ended_before, "limit": limit}
                | {f"s{i}": s for i, s in enumerate(terminal)},
            )
            return [UUID(row[0]) for row in rows]

    def open_sagas(self) -> tuple[int, list[UUID]]:
        """Jobs whose saga is not finished, with the sagas' notification the list includes;
        only the sagas' view is brought up to date for it."""
        self._follow(self.sagas, self._sagas)
        with self.engine.connect() as conn:
            # The position first: the rows are at least that recent, and replaying what came
            # after it onto them gives each saga's latest word.
            position = conn.execute(POSITION, {"app": self.sagas.name}).scalar()
            rows = conn.exec_driver_sql("SELECT job_id FROM open_saga").all()
        return int(position or 0), [UUID(job) for (job,) in rows]

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Jobs and workers by state, every state included, for the metrics' gauges."""
        jobs = dict.fromkeys((s.value for s in State), 0)
        workers = dict.fromkeys((s.value for s in WorkerState), 0)
        with self.engine.connect() as conn:
            for table, counts in (("job_view", jobs), ("worker_view", workers)):
                statement = text(f"SELECT state, COUNT(*) FROM {table} GROUP BY state")
                counts.update({state: count for state, count in conn.execute(statement)})
        return jobs, workers
