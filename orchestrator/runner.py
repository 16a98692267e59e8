"""The saga runner: drives each job's saga from submission to a released worker."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from laino.orchestrator import commands, faults
from laino.orchestrator.apps import JobsApp, JobView, SagasApp, WorkersApp
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.domain.jobs import State, retry_delay
from laino.orchestrator.domain.saga import BEGUN, COMPENSATION_FAILED, SUCCEEDED, ExecutionSaga
from laino.orchestrator.domain.workers import NotWarm, WorkerState, worker_name
from laino.orchestrator.group_commit import GroupCommit
from laino.orchestrator.hub import Hub, job_topic, logs_topic, wait
from laino.orchestrator.sessions import Sessions
from laino.orchestrator.settings import Settings
from laino.orchestrator.store.database import FAILURES, first_line
from laino.orchestrator.store.logstore import SYSTEM, Chunk, LogStore
from laino.orchestrator.store.secrets import SecretStore
from laino.orchestrator.teardown import TICK, Teardown
from laino.orchestrator.views import Views
from laino.providers import logfmt
from laino.providers.base import Handle, Provider, ProviderError, Status, WorkerSpec
from laino.providers.tracing import TRACEPARENT_ENV, Tracing, trace_id

log = logging.getLogger("laino.runner")
# How a worker whose stream closed was found, in words.
GONE = {Status.EXITED: "exited", Status.MISSING: "is gone", Status.BROKEN: "broke"}

PROVISION = "provision_worker"
DISPATCH = "dispatch_job"
RESEND = 1.0


@dataclass(kw_only=True, eq=False)
class SagaRunner:
    """Turns job events into side effects; resuming after a restart is the normal path.

    One per server, for the sagas of the partitions it holds (drivers.py), and for the warm
    pools while it holds the lease (pools.py)."""

    settings: Settings
    jobs: JobsApp
    workers: WorkersApp
    sagas: SagasApp
    views: Views
    logs: LogStore
    secrets: SecretStore
    providers: Mapping[str, Provider]
    sessions: Sessions
    hub: Hub
    tracing: Tracing
    installation: str
    agent_address: str
    # The PEM that agents verify the server with; empty without TLS.
    agents_ca: str = ""
    inputs_ca: str = ""
    # While the database is away, no saga calls it: each call would hold up the whole server
    # in the driver's retries, and keep it from saying it is not serving.
    availability: Availability = field(default_factory=Availability)
    started: float = field(default_factory=time.monotonic)
    # The warm pool worker kept for a job, now the job's (drivers.py sets it).
    warm: Callable[[UUID], UUID | None] = lambda job_id: None
    # When this runner learnt that a worker registered (see _await_registration).
    registered: dict[UUID, float] = field(default_factory=dict)
    # Each open saga, as its task has it: that task alone changes it while this server holds
    # its partition, so it is read once, not before every step (see _saga).
    held: dict[UUID, ExecutionSaga] = field(default_factory=dict)
    # When this runner began driving each saga (see drive).
    began: dict[UUID, float] = field(default_factory=dict)

    @functools.cached_property
    def grouped(self) -> GroupCommit:
        return GroupCommit(self.sagas)

    @functools.cached_property
    def teardown(self) -> Teardown:
        """The side effects of the compensations."""
        return Teardown(
            settings=self.settings,
            jobs=self.jobs,
            workers=self.workers,
            sessions=self.sessions,
            hub=self.hub,
            providers=self.providers,
        )

    async def drive(self, job_id: UUID) -> bool:
        """Drives one saga until it is finished, or until a failure stops it for a while;
        returns whether it is finished."""
        # A worker's silence counts from here at the earliest: a saga taken over from a server
        # that died may have a worker this one never heard yet.
        self.began[job_id] = time.monotonic()
        finished = False
        try:
            logfmt.bind(job=str(job_id), trace=trace_id(self.jobs.get_job(job_id).trace))
            with self.hub.watch(job_topic(job_id)) as wake:
                while True:
                    self.availability.check()
                    if await self._step(job_id):
                        finished = True
                        return True
                    await wait(wake, TICK)
        except FAILURES as err:  # away or full: a line, not a stack, and the next pass resumes
            log.warning("saga of job %s paused, the database failed: %s", job_id, first_line(err))
            await asyncio.sleep(1.0)
        except Exception:
            log.exception("saga of job %s stopped; it resumes on the next pass", job_id)
            await asyncio.sleep(1.0)
        finally:
            if self.held.pop(job_id, None) is not None and not finished:
                # Changed by this task, perhaps not saved: the next one reads it from the store.
                self.sagas.uncache(ExecutionSaga.create_id(job_id))
            self.began.pop(job_id, None)
        return False

    async def _step(self, job_id: UUID) -> bool:
        """Does the next thing the saga needs; returns True once the saga is finished."""
        job = self.jobs.get_job(job_id)
        saga = self._saga(job_id)
        if saga.finished:
            return True
        if job.state.terminal:
            with self.tracing.span("finish", parent=job.trace, outcome=job.state.value):
                await self._compensate(job, job.attempt)
                faults.point("finish:before")
                if job.has_secrets:  # before the saga ends: a crash here repeats it
                    self.secrets.forget(job_id)
                saga.finish(job.state)
                await self._save(saga)  # with the undoings: one transaction
            log.info("job %s after %d attempt(s); its saga is finished", job.state, job.attempt)
            return True
        if job.cancel_requested:
            await self._compensate(job, job.attempt)
            await self._save(saga)
            self.jobs.end_cancelled(job_id)
        elif job.state == State.QUEUED:
            await self._provision(job, 1)
        elif job.state == State.RETRYING:
            # Whatever the last attempt began goes before the next one starts: its worker
            # too, when the command itself failed (an infrastructure failure was undone already).
            await self._compensate(job, job.attempt)
            await self._save(saga)
            if time.time() >= job.retry_at:
                await self._provision(job, job.attempt + 1)
        elif job.state == State.PROVISIONING:
            if saga.status(PROVISION, job.attempt) != SUCCEEDED:
                await self._provision(job, job.attempt)
            else:
                await self._await_registration(job)
        else:
            await self._supervise(job)
        return False

    async def _provision(self, job: JobView, attempt: int) -> None:
        with self.tracing.span(PROVISION, parent=job.trace, attempt=attempt) as span:
            await self._provision_traced(job, attempt, span.traceparent)

    async def _provision_traced(self, job: JobView, attempt: int, traceparent: str) -> None:
        if await self._claim(job, attempt):
            return
        provider = self.providers.get(job.spec.provider)
        name = worker_name(job.id, attempt)
        worker = self.workers.provision(job.id, attempt, job.spec.provider, name)
        job = self.jobs.start_provisioning(job.id, attempt, worker.id)
        await self._begin(job.id, PROVISION, attempt)
        if provider is None:
            message = f"provider {job.spec.provider!r} is not enabled on this server"
            if job.spec.provider == "kubernetes":
                message += ": start it with --k8s-namespace NAMESPACE"
            await self._step_failed(job, PROVISION, message, retryable=False)
            return
        spec = WorkerSpec(
            name=name,
            worker_id=str(worker.id),
            job_id=str(job.id),
            attempt=attempt,
            server=self.agent_address,
            bootstrap_token=self.workers.bootstrap_token(worker.id),
            installation=self.installation,
            image=job.spec.image,
            cpu=job.spec.cpu,
            memory_bytes=job.spec.memory_bytes,
            gpus=job.spec.gpus,
            timeout_seconds=job.spec.timeout_seconds,
            env=self.worker_env(traceparent),
        )
        log.info("starting worker %s (%s) for attempt %d", name, provider.name, attempt)
        faults.point(f"{PROVISION}:before")
        try:
            handle = await asyncio.to_thread(provider.start, spec)
        except ProviderError as err:
            await self._step_failed(job, PROVISION, f"cannot start a worker: {err}", err.retryable)
            return
        faults.point(f"{PROVISION}:after")
        saga = self._saga(job.id)
        saga.succeed(PROVISION, attempt, dataclasses.asdict(handle))
        await self._save(saga)

    async def _claim(self, job: JobView, attempt: int) -> bool:
        """Takes the warm pool worker kept for the job, or the one it took before a restart;
        returns whether it did. Recorded on the job first: a crash between the two records
        leaves no claimed worker that no job destroys."""
        kept = None
        if job.state == State.PROVISIONING and job.attempt == attempt and job.worker_id:
            mine = self.workers.get_worker(job.worker_id)
            kept = mine.id if mine is not None and mine.pool else None
        kept = kept or self.warm(job.id)
        if kept is None:
            return False
        job = self.jobs.start_provisioning(job.id, attempt, kept)
        await self._begin(job.id, PROVISION, attempt)
        try:
            worker = self.workers.claim(kept, job.id, attempt)
        except (NotWarm, IntegrityError) as err:
            log.info("the pool worker kept for attempt %d is gone (%s): starting one", attempt, err)
            return False
        log.info("attempt %d takes pool worker %s (%s)", attempt, worker.name, worker.pool)
        saga = self._saga(job.id)
        handle = Handle(worker.provider, worker.name, {"pool": worker.pool})
        saga.succeed(PROVISION, attempt, dataclasses.asdict(handle))
        await self._save(saga)
        return True

    async def _await_registration(self, job: JobView) -> None:
        assert job.worker_id is not None
        worker = self.workers.get_worker(job.worker_id)
        assert worker is not None
        if worker.state == WorkerState.PROVISIONING:
            waited = self.sessions.silent_for(worker.id, self._since(job.id, worker.created_at))
            seen = await asyncio.to_thread(self._provider(job).status, self._handle(job))
            why = f": {seen.reason}" if seen.reason else ""
            if seen.status == Status.BROKEN:
                message = seen.reason or "the worker cannot start its agent"
                await self._worker_failed(job, message, retryable=False)
            elif seen.status != Status.RUNNING:
                await self._worker_failed(
                    job, f"the worker exited before its agent registered{why}"
                )
            elif waited > self.settings.register_timeout:
                message = f"the worker did not register in {waited:.0f}s{why}"
                await self._worker_failed(job, message)
            return
        if worker.state in (WorkerState.REGISTERED, WorkerState.BUSY):
            if self.sessions.connected(worker.id):
                with self.tracing.span(DISPATCH, parent=job.trace, attempt=job.attempt):
                    await self._begin(job.id, DISPATCH, job.attempt)
                    faults.point(f"{DISPATCH}:before")
                    self._send_run(job)
                    faults.point(f"{DISPATCH}:after")
                self.jobs.assign(job.id, job.attempt)
                self.workers.mark_busy(worker.id)
            else:
                # Registered through another server, whose word that the stream is open has not
                # come yet: the silence counts from the registration, not from this runner's start.
                since = self.registered.setdefault(worker.id, time.monotonic())
                await self._check_heartbeat(job, since=since)
        else:
            await self._step_failed(job, PROVISION, f"the worker is {worker.state}", retryable=True)

    async def _supervise(self, job: JobView) -> None:
        """An assigned or running job: re-send until accepted, and watch the heartbeat."""
        if job.state == State.ASSIGNED and time.time() - job.updated_at > RESEND:
            self._send_run(job)
        if job.state == State.RUNNING:
            # Saved with the saga's next record (see _save): should this server stop first,
            # the next one finds the job running and records it then.
            self._saga(job.id).succeed(DISPATCH, job.attempt, {})
        if not await self._check_gone(job):
            await self._check_heartbeat(job)

    async def _check_gone(self, job: JobView) -> bool:
        """A worker whose stream closed is asked of its provider at once: a killed container
        or agent is lost now, not after the heartbeat timeout. Returns whether it was."""
        assert job.worker_id is not None
        if self.sessions.connected(job.worker_id):
            return False
        seen = await asyncio.to_thread(self._provider(job).status, self._handle(job))
        if seen.status == Status.RUNNING:
            return False  # a passing disconnect: it will be back, or its heartbeat will tell
        why = f": {seen.reason}" if seen.reason else ""
        message = f"worker lost: it {GONE[seen.status]}{why}"
        self.workers.mark_lost(job.worker_id, message)
        await self._attempt_failed(job, message)
        return True

    async def _check_heartbeat(self, job: JobView, *, since: float = 0.0) -> None:
        assert job.worker_id is not None
        began = self.began.get(job.id, self.started)
        silent = self.sessions.silent_for(job.worker_id, max(began, since))
        if silent > self.settings.heartbeat_timeout:
            message = f"worker lost: no heartbeat for {silent:.1f}s"
            self.workers.mark_lost(job.worker_id, message)
            await self._attempt_failed(job, message)

    def _send_run(self, job: JobView) -> None:
        assert job.worker_id is not None
        first_seq = self.logs.last_seq(str(job.id)) + 1
        # To the worker at dispatch, never while it starts.
        secrets = self.secrets.get(job.id) if job.has_secrets else {}
        limit = self.settings.artifact_limit_bytes
        order = commands.run(job.id, job.attempt, job.spec, first_seq, secrets, limit)
        self.sessions.send(job.worker_id, order)

    async def _worker_failed(self, job: JobView, message: str, *, retryable: bool = True) -> None:
        """The worker died before registering: keep its last output, users need exactly that."""
        assert job.worker_id is not None
        output = await asyncio.to_thread(self._provider(job).logs, self._handle(job), 50)
        self.workers.mark_failed(job.worker_id, message)
        lines = [message] + [f"  worker: {line}" for line in output.splitlines()]
        self.system_lines(job, lines)
        await self._attempt_failed(job, message, retryable=retryable)

    async def _step_failed(self, job: JobView, step: str, message: str, retryable: bool) -> None:
        saga = self._saga(job.id)
        saga.fail(step, job.attempt, message, retryable=retryable)
        await self._save(saga)
        await self._attempt_failed(job, message, retryable=retryable)

    async def _attempt_failed(self, job: JobView, message: str, *, retryable: bool = True) -> None:
        """Records the failure, then undoes the attempt.

        In that order: an agent given up for lost may still be there, and the command's report
        of how undoing it ended it (cancelled) must find the attempt over, not end the job. A
        retry still never runs beside its predecessor: RETRYING undoes the last attempt before
        the next begins, here or, after a crash, wherever the saga resumes.
        """
        log.warning("attempt %d failed: %s", job.attempt, message)
        self.system_lines(job, [f"attempt {job.attempt} failed: {message}"])
        retry_at = time.time() + retry_delay(job.attempt)
        self.jobs.fail_attempt(job.id, job.attempt, message, retry_at=retry_at, retryable=retryable)
        await self._compensate(self.jobs.get_job(job.id), job.attempt)
        await self._save(self._saga(job.id))

    async def _compensate(self, job: JobView, attempt: int) -> None:
        """Undoes, latest first, every step of the attempt that began; the caller saves the
        records (see _save)."""
        saga = self._saga(job.id)
        for step in saga.to_compensate(attempt):
            if saga.status(step, attempt) == COMPENSATION_FAILED:
                continue
            try:
                with self.tracing.span(f"compensate {step}", parent=job.trace, attempt=attempt):
                    if step == DISPATCH:
                        await self.teardown.cancel_on_worker(job)
                    else:
                        worker_id = await self.teardown.destroy_worker(job, attempt)
                        self.registered.pop(worker_id, None)
            except ProviderError as err:
                saga.compensation_failed(step, attempt, str(err))
                self.system_lines(job, [f"could not undo {step}: {err}"])
            else:
                saga.compensated(step, attempt)

    def _saga(self, job_id: UUID) -> ExecutionSaga:
        """The job's saga, read when its task first asks. Should another runner have changed it
        meanwhile (a partition that moved and came back), the next save fails, the task ends, and
        the next one reads it afresh."""
        saga = self.held.get(job_id)
        if saga is None:
            saga = self.held[job_id] = self.sagas.get_saga(job_id)
        return saga

    async def _begin(self, job_id: UUID, step: str, attempt: int) -> None:
        saga = self._saga(job_id)
        if saga.status(step, attempt) != BEGUN:
            saga.begin(step, attempt)
            await self._save(saga)

    async def _save(self, saga: ExecutionSaga) -> None:
        """Saves what the saga recorded since its last save, in one transaction: with the
        other sagas' saves of this turn of the event loop when others are driven too
        (group_commit.py), at once when it is alone, whose step waiting for the next turn
        would only come later (a job from a warm pool, 2 ms later in a test of 8 pairs).

        A step is saved as begun before its side effect, and a provisioned worker's handle
        once known. A dispatch's success and each undoing wait for the saga's next save, at
        the latest its end: should the server stop first, the next one sees the job running
        again, or undoes the step again (undoing is idempotent)."""
        if not saga.pending_events:
            return
        if len(self.held) > 1:
            await self.grouped.save(saga)
        else:
            self.sagas.save(saga)

    def system_lines(self, job: JobView, lines: list[str]) -> None:
        first = self.logs.last_seq(str(job.id)) + 1
        now = time.time()
        notices = [
            Chunk(first + i, SYSTEM, now, f"laino: {line}\n".encode())
            for i, line in enumerate(lines)
        ]
        self.logs.append(str(job.id), notices, limit=0)  # notices only: no output to limit
        self.hub.changed(logs_topic(job.id))

    def worker_env(self, traceparent: str) -> dict[str, str]:
        """What the agent needs to continue the job's trace and log like the server."""
        env = {"LAINO_LOG_FORMAT": self.settings.log_format}
        if self.agents_ca:
            env["LAINO_TLS_CA_PEM"] = self.agents_ca  # public: a CA, never a key
        if self.inputs_ca:
            env["LAINO_INPUTS_CA_PEM"] = self.inputs_ca
        if traceparent:
            env[TRACEPARENT_ENV] = traceparent
            env.update({k: v for k, v in os.environ.items() if k.startswith("OTEL_")})
        return env

    def _provider(self, job: JobView) -> Provider:
        return self.providers[job.spec.provider]

    def _handle(self, job: JobView) -> Handle:
        return Handle(job.spec.provider, self.teardown.worker_of(job, job.attempt)[1])

    def _since(self, job_id: UUID, created_at: float) -> float:
        """A monotonic instant for a wall-clock time, never before this runner began driving
        the job's saga."""
        began = self.began.get(job_id, self.started)
        return max(began, time.monotonic() - (time.time() - created_at))
