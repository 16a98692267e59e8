"""Retention: the output and artifacts of jobs that ended long ago are deleted; their history is
kept.

The lease holder does it for jobs that ended more than `--retain` ago, on taking the lease and
every minute after; `laino job prune --older-than` does it at once. Each job gets a
`LogsExpired` event first, then its chunks go, leaving one notice in their place: a crash in
between finds the job again (its chunks are still there) and finishes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from laino.orchestrator.apps import JobsApp
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.hub import Hub, logs_topic
from laino.orchestrator.store.artifacts import ArtifactStore
from laino.orchestrator.store.logstore import LogStore
from laino.orchestrator.views import Views

log = logging.getLogger("laino.retention")

EVERY = 60.0
# Jobs per batch: a long backlog is worked through without holding up the server.
BATCH = 100


@dataclass(kw_only=True, eq=False)
class Retention:
    jobs: JobsApp
    views: Views
    logs: LogStore
    artifacts: ArtifactStore
    hub: Hub

    def expire(self, older_than: float, why: str) -> int:
        """Deletes the output of up to BATCH jobs that ended more than `older_than` seconds ago;
        returns how many."""
        now = time.time()
        self.views.catch_up()
        expiring = self.views.expiring(now - older_than, BATCH)
        day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M UTC")
        for job_id in expiring:
            self.jobs.expire_logs(job_id, now)
            self.logs.expire(str(job_id), f"laino: this job's output was deleted on {day}: {why}\n")
            self.artifacts.forget(str(job_id))
            self.hub.changed(logs_topic(job_id))
        return len(expiring)

    async def run(self, retain: float, availability: Availability) -> None:
        """For ever, while this server holds the lease."""
        why = f"it ended more than {_duration(retain)} ago (the server's --retain)"
        while True:
            if availability.database:
                expired = self.expire(retain, why)
                if expired:
                    log.info("deleted the output of %d job(s) past --retain", expired)
                    await asyncio.sleep(0)  # the next batch, after a turn of the event loop
                    continue
            await asyncio.sleep(EVERY)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
