"""Following a job: its log from any point, then live, and its state changes until it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

from laino.orchestrator.apps import JobsApp, JobView
from laino.orchestrator.hub import Hub, job_topic, logs_topic, wait
from laino.orchestrator.store.logstore import Line, LogStore

# Fallback poll: notifications are only wake-ups, the stores decide what is sent.
POLL = 1.0


class Followers:
    """Every follower reads the log store at its own pace, so none can slow ingestion."""

    def __init__(self, jobs: JobsApp, logs: LogStore, hub: Hub):
        self.jobs = jobs
        self.logs = logs
        self.hub = hub

    async def logs_of(
        self, job_id: UUID, *, from_seq: int, follow: bool, tail: int
    ) -> AsyncIterator[list[Line] | JobView]:
        """Yields batches of lines in order, each once; the job's final view comes last."""
        job = self.jobs.get_job(job_id)
        key = str(job_id)
        next_seq = max(from_seq, 1)
        if tail:
            next_seq = max(next_seq, self.logs.tail_start(key, tail))
        with self.hub.watch(logs_topic(job_id), job_topic(job_id)) as wake:
            while True:
                # State before lines: a terminal state is recorded only after the job's last
                # line was stored, so an empty read after it means there is nothing more.
                job = self.jobs.get_job(job_id)
                lines = self.logs.read(key, next_seq)
                if lines:
                    next_seq = lines[-1].seq + 1
                    yield lines
                elif job.state.terminal or not follow:
                    yield job
                    return
                else:
                    await wait(wake, POLL)

    async def changes_of(self, job_id: UUID) -> AsyncIterator[JobView]:
        """The job now, then each change, ending after a terminal state."""
        last = None
        with self.hub.watch(job_topic(job_id)) as wake:
            while True:
                job = self.jobs.get_job(job_id)
                seen = (job.state, job.attempt, job.cancel_requested)
                if seen != last:
                    last = seen
                    yield job
                if job.state.terminal:
                    return
                await wait(wake, POLL)
