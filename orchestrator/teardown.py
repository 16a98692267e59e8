"""The side effects that undo a saga's steps: stop the command on its worker, destroy the worker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from laino.orchestrator import commands, faults
from laino.orchestrator.apps import JobsApp, JobView, WorkersApp
from laino.orchestrator.domain.jobs import State
from laino.orchestrator.domain.workers import Worker, worker_name
from laino.orchestrator.hub import Hub, job_topic, wait
from laino.orchestrator.sessions import Sessions
from laino.orchestrator.settings import Settings
from laino.providers.base import Handle, Provider

log = logging.getLogger("laino.runner")
TICK = 0.5


@dataclass(kw_only=True, eq=False)
class Teardown:
    """Each is idempotent: a compensation begun before a crash is simply done again."""

    settings: Settings
    jobs: JobsApp
    workers: WorkersApp
    sessions: Sessions
    hub: Hub
    providers: Mapping[str, Provider]

    async def cancel_on_worker(self, job: JobView) -> None:
        """Asks the agent to stop the command, and waits for its report (bounded)."""
        grace = self.settings.cancel_grace
        if job.worker_id is None or not self.sessions.connected(job.worker_id):
            return
        if job.state == State.RETRYING:
            return  # the command of this attempt has ended already
        self.sessions.send(job.worker_id, commands.cancel(job.id, grace))
        asked = time.monotonic()
        deadline = asked + grace + 5.0
        # An agent that stopped answering (SIGSTOP, hung) will not report: destroy it instead.
        mute = 2 * self.settings.heartbeat_interval + 0.5
        with self.hub.watch(job_topic(job.id)) as wake:
            while time.monotonic() < deadline:
                if self.jobs.get_job(job.id).state.terminal:
                    return
                if self.sessions.silent_for(job.worker_id, asked) > mute:
                    log.warning("the agent does not answer the cancel: destroying its worker")
                    return
                await wait(wake, TICK)

    async def destroy_worker(self, job: JobView, attempt: int) -> UUID:
        """Destroys the attempt's worker; returns its id."""
        worker_id, name = self.worker_of(job, attempt)
        if not name:
            return worker_id
        self.sessions.send(worker_id, commands.shutdown())
        provider = self.providers.get(job.spec.provider)
        if provider is not None:
            handle = Handle(provider.name, name)
            faults.point("destroy_worker:before")
            await asyncio.to_thread(provider.destroy, handle)
            faults.point("destroy_worker:after")
        self.sessions.forget(worker_id)
        self.workers.mark_terminated(worker_id)
        return worker_id

    def worker_of(self, job: JobView, attempt: int) -> tuple[UUID, str]:
        """The attempt's worker, and its name at its provider; no name for a warm pool
        worker that the attempt did not claim, which is not the attempt's to destroy."""
        if attempt == job.attempt and job.worker_id is not None:
            worker = self.workers.get_worker(job.worker_id)
            if worker is not None and worker.pool:
                mine = worker.job_id == job.id and worker.attempt == attempt
                return worker.id, worker.name if mine else ""
        return Worker.create_id(job.id, attempt), worker_name(job.id, attempt)
