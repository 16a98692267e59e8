"""Following a job: its log from any point, then live, and its state changes until it ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from uuid import UUID

from laino.orchestrator.apps import JobsApp, JobView
from laino.orchestrator.hub import Hub, job_topic, logs_topic, wait
from laino.orchestrator.store.logstore import PAGE_BYTES, Chunk, LogStore

# Fallback poll: notifications are only wake-ups, the stores decide what is sent.
POLL = 1.0
# The newest output of a followed job that this server keeps for its followers.
FEED_BYTES = 8 * 1024 * 1024


class Feed:
    """A followed job's newest output, read from the store once for all its followers here.

    One task reads what the job adds; each follower takes it from memory at its own pace. A
    follower further behind than the feed keeps reads the store itself, off the event loop,
    so that neither a thousand followers nor a slow one can hold up ingestion.
    """

    def __init__(self, job_id: UUID, jobs: JobsApp, logs: LogStore, hub: Hub):
        self.job_id = job_id
        self.jobs = jobs
        self.logs = logs
        self.hub = hub
        self.chunks: deque[Chunk] = deque()
        self.size = 0
        self.next_seq = logs.last_seq(str(job_id)) + 1
        # The job's final view, once it ended and its last chunk is here.
        self.ended: JobView | None = None
        self.changed = asyncio.Event()
        self.followers = 0
        self.task = asyncio.create_task(self._read())

    @property
    def first_seq(self) -> int:
        return self.chunks[0].seq if self.chunks else self.next_seq

    def after(self, seq: int) -> list[Chunk]:
        """What the feed holds from `seq` on, up to a page."""
        found: list[Chunk] = []
        size = 0
        for chunk in self.chunks:  # followers are near the end: most skip little
            if chunk.seq < seq:
                continue
            if found and size + len(chunk.data) > PAGE_BYTES:
                break
            found.append(chunk)
            size += len(chunk.data)
        return found

    async def _read(self) -> None:
        key = str(self.job_id)
        with self.hub.watch(logs_topic(self.job_id), job_topic(self.job_id)) as wake:
            while True:
                # State before chunks: a terminal state is recorded only after the job's last
                # chunk was stored, so an empty read after it means there is nothing more.
                job = self.jobs.get_job(self.job_id)
                chunks = await asyncio.to_thread(self.logs.read, key, self.next_seq)
                if chunks:
                    self._add(chunks)
                elif job.state.terminal:
                    self.ended = job
                    self._wake()
                    return
                else:
                    await wait(wake, POLL)

    def _add(self, chunks: list[Chunk]) -> None:
        self.chunks.extend(chunks)
        self.size += sum(len(c.data) for c in chunks)
        self.next_seq = chunks[-1].seq + 1
        while self.size > FEED_BYTES and len(self.chunks) > 1:
            self.size -= len(self.chunks.popleft().data)
        self._wake()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait(self) -> None:
        """Until the feed has more, or it ends; raises what ended its reading otherwise."""
        if self.task.done() and self.ended is None:
            self.task.result()
        changed = self.changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(POLL):
                await changed.wait()


class Followers:
    """Every follower reads at its own pace; the followers of one job share one feed."""

    def __init__(self, jobs: JobsApp, logs: LogStore, hub: Hub):
        self.jobs = jobs
        self.logs = logs
        self.hub = hub
        self.feeds: dict[UUID, Feed] = {}

    async def logs_of(
        self, job_id: UUID, *, from_seq: int, follow: bool, tail: int, since: float
    ) -> AsyncIterator[list[Chunk] | JobView]:
        """Yields pages of chunks in order, each once; the job's final view comes last.

        With `tail`, the first chunk may start part way: at the first of the last lines.
        """
        job = self.jobs.get_job(job_id)
        key = str(job_id)
        next_seq, skip = max(from_seq, 1), 0
        if since:
            next_seq = max(next_seq, self.logs.since(key, since))
        if tail:
            start, skip = self.logs.tail(key, tail)
            if start >= next_seq:
                next_seq = start
            else:
                skip = 0
        feed = self._feed(job_id) if follow else None
        try:
            while True:
                chunks: list[Chunk] = []
                if feed is None or next_seq < feed.first_seq:
                    chunks = await asyncio.to_thread(self.logs.read, key, next_seq)
                if feed is not None and not chunks:
                    chunks = feed.after(next_seq)
                if chunks:
                    if skip:
                        first = chunks[0]
                        chunks[0] = Chunk(first.seq, first.stream, first.at, first.data[skip:])
                        skip = 0
                    next_seq = chunks[-1].seq + 1
                    yield chunks
                elif feed is None:
                    # State before chunks, as the feed does: then one more read says it all.
                    job = self.jobs.get_job(job_id)
                    if not await asyncio.to_thread(self.logs.read, key, next_seq):
                        yield job
                        return
                elif feed.ended is not None:
                    yield feed.ended
                    return
                else:
                    await feed.wait()
        finally:
            if feed is not None:
                self._unfollow(feed)

    def _feed(self, job_id: UUID) -> Feed:
        feed = self.feeds.get(job_id)
        if feed is None or (feed.task.done() and feed.ended is None):
            feed = self.feeds[job_id] = Feed(job_id, self.jobs, self.logs, self.hub)
        feed.followers += 1
        return feed

    def _unfollow(self, feed: Feed) -> None:
        feed.followers -= 1
        if feed.followers == 0 and self.feeds.get(feed.job_id) is feed:
            del self.feeds[feed.job_id]
            feed.task.cancel()

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
