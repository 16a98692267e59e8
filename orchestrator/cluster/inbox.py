"""Jobs submitted through NATS: a JSON job spec published to `laino.submit`.

The server holding the lease takes them from the LAINO_SUBMIT work queue and acknowledges each
only after the job's `Submitted` event is committed. A message delivered again (the server died
before its ack) names the same job: its idempotency key is its `Nats-Msg-Id`, else its stream
sequence. A message that cannot become a job, or keeps failing, goes to LAINO_DEAD with its
error, for an operator (`laino events --dead`), and leaves the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from laino.orchestrator.apps import JobsApp, KeyConflict
from laino.orchestrator.cluster.bus import DEAD_SUBJECT, Bus
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.domain.spec import InvalidSpec, JobSpec
from laino.orchestrator.settings import Settings
from laino.providers.tracing import TRACEPARENT, Tracing

log = logging.getLogger("laino.inbox")

# Deliveries before a message that keeps failing is set aside.
MAX_DELIVER = 5
BATCH = 100
WAIT = 1.0
RETRY_DELAY = 1.0


@dataclass(kw_only=True, eq=False)
class Inbox:
    settings: Settings
    jobs: JobsApp
    bus: Bus
    tracing: Tracing
    availability: Availability

    async def run(self) -> None:
        import nats.errors

        subscription = await self.bus.submissions()
        try:
            while True:
                if not self.availability.database:
                    # Left in the queue meanwhile: a delivery now would fail, and count
                    # towards setting the submission aside.
                    await asyncio.sleep(WAIT)
                    continue
                try:
                    for message in await subscription.fetch(BATCH, timeout=WAIT):
                        await self.take(message)
                except (nats.errors.TimeoutError, TimeoutError):  # nothing came
                    continue
                except Exception as err:  # NATS away: what was not acked comes again
                    log.warning("submissions paused: %r", err)
                    await asyncio.sleep(WAIT)
        finally:
            with contextlib.suppress(Exception):  # NATS may be away just now
                await subscription.unsubscribe()

    async def take(self, message: Any) -> None:
        try:
            spec = self.settings.complete(_spec(message.data))
            spec.check_working_dir(self.settings.allowed_workdirs)
        except (ValueError, TypeError) as err:
            await self._set_aside(message, f"not a job spec: {err}")
            return
        headers = message.headers or {}
        key = headers.get("Nats-Msg-Id") or f"nats:{message.metadata.sequence.stream}"
        parent = headers.get(TRACEPARENT, "")
        try:
            with self.tracing.span("SubmitJob", parent=parent) as span:
                # Whoever may publish to the NATS subject: NATS's own accounts decide that.
                job, created = self.jobs.submit(spec, key, span.traceparent or parent, "nats")
        except KeyConflict as err:  # never going to work: no retries
            await self._set_aside(message, str(err))
            return
        except Exception as err:  # the database away, say: try again, up to a point
            if message.metadata.num_delivered >= MAX_DELIVER:
                await self._set_aside(message, f"failed {MAX_DELIVER} times: {err}")
            else:
                log.warning("submission %s not taken yet: %s", key, err)
                await message.nak(delay=RETRY_DELAY)
            return
        log.info("job %s submitted through NATS (%s)", job.id, "new" if created else "again")
        await message.ack()

    async def _set_aside(self, message: Any, error: str) -> None:
        sequence = message.metadata.sequence.stream
        log.warning("submission %d set aside: %s", sequence, error)
        headers = {
            "Nats-Msg-Id": f"submit:{sequence}",
            "Laino-Error": error,
            "Laino-Deliveries": str(message.metadata.num_delivered),
        }
        await self.bus.js.publish(f"{DEAD_SUBJECT}.submit", message.data, headers=headers)
        await message.ack()


def _spec(data: bytes) -> JobSpec:
    fields = json.loads(data)
    if not isinstance(fields, dict):
        raise ValueError("a JSON object of job spec fields is expected")
    known = set(JobSpec.__dataclass_fields__)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidSpec(unknown[0], "no such field of a job spec")
    command = fields.get("command")
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        raise InvalidSpec("command", "a list of strings is expected")
    return JobSpec.parse(**fields)
