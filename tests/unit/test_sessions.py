"""Agents' silence, counted only while the server could hear them."""

from __future__ import annotations

import asyncio
import time
import uuid

from laino.orchestrator.sessions import STALL, Sessions


def test_a_stalled_event_loop_does_not_count_as_the_agents_silence() -> None:
    worker = uuid.uuid4()

    async def scenario() -> None:
        sessions = Sessions()
        keeping = asyncio.create_task(sessions.keep_time())
        sessions.beat(worker)
        await asyncio.sleep(0.3)
        time.sleep(STALL + 0.8)  # a call hung in the database driver's retries
        # Asked at once, before the loop's timekeeper turned: nothing could be heard.
        assert sessions.silent_for(worker, since=0.0) < 0.1
        time.sleep(STALL + 0.8)
        await asyncio.sleep(0.6)  # the timekeeper noticed this stall first
        after_stall = sessions.silent_for(worker, since=0.0)
        assert after_stall < STALL + 0.5  # counted, both stalls would make it over 4 s
        await asyncio.sleep(0.6)  # a silence while the loop turns counts
        assert sessions.silent_for(worker, since=0.0) >= after_stall + 0.5
        keeping.cancel()

    asyncio.run(scenario())
