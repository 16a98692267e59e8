"""Following a job: its log from any point, then live, and its state changes until it ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from laino.orchestrator.apps import JobsApp, JobView
from laino.orchestrator.hub import Hub, job_topic, logs_topic, wait
from laino.orchestrator.store.logstore import Chunk, LogStore

# Fallback poll: notifications are only wake-ups, the stores decide what is sent.
POLL = 1.0
# The newest output of a followed job that this server keeps for its followers.
FEED_BYTES = 8 * 1024 * 1024
# What one message to a follower carries at most (past its first page): what each follower's
# stream may hold in the server's memory while its client reads.
SEND_BYTES = 256 * 1024
# After each read, a feed waits this long per follower (at most PACE_MAX), so that many
# followers get fewer, larger messages: a message costs about as much whatever it carries.
PACE_PER_FOLLOWER = 0.0001
PACE_MAX = 0.1


@dataclass(eq=False)
class Page:
    """Chunks in order, as one read found them; encoded once, for every follower sent it."""

    chunks: list[Chunk]
    encoded: bytes = b""

    @property
    def first(self) -> int:
        return self.chunks[0].seq

    @property
    def next(self) -> int:
        return self.chunks[-1].seq + 1

    @property
    def size(self) -> int:
        return sum(len(c.data) for c in self.chunks)


class Feed:
    """A followed job's newest output, read from the store once for all its followers here.

    One task reads what the job adds, a page per read; each follower takes the pages from
    memory at its own pace, all it has not had at once. A follower further behind than the
    feed keeps reads the store itself, off the event loop, so that neither a thousand
    followers nor a slow one can hold up ingestion.
    """

    def __init__(self, job_id: UUID, jobs: JobsApp, logs: LogStore, hub: Hub):
        self.job_id = job_id
        self.jobs = jobs
        self.logs = logs
        self.hub = hub
        self.pages: deque[Page] = deque()
        self.size = 0
        self.next_seq = logs.last_seq(str(job_id)) + 1
        # The job's final view, once it ended and its last chunk is here.
        self.ended: JobView | None = None
        self.changed = asyncio.Event()
        self.followers = 0
        self.task = asyncio.create_task(self._read())

    @property
    def first_seq(self) -> int:
        return self.pages[0].first if self.pages else self.next_seq

    def after(self, seq: int) -> list[Page]:
        """The pages the feed holds from `seq` on, SEND_BYTES at most (one page at least).

        A follower part way into a page gets the rest of it as a page of its own.
        """
        found: list[Page] = []
        size = 0
        for page in reversed(self.pages):  # followers are near the end
            if page.next <= seq:
                break
            found.append(page)
        found.reverse()
        if found and found[0].first < seq:
            found[0] = Page([c for c in found[0].chunks if c.seq >= seq])
        for n, page in enumerate(found):
            size += page.size
            if n and size > SEND_BYTES:
                return found[:n]
        return found

    async def _read(self) -> None:
        key = str(self.job_id)
        with self.hub.watch(logs_topic(self.job_id), job_topic(self.job_id)) as wake:
            while True:
                # State before chunks: a terminal state is recorded only after the job's last
                # chunk was stored, so an empty read after it means there is nothing more.
                job = self.jobs.get_job(self.job_id)
                read = self.logs.read
                chunks = await asyncio.to_thread(read, key, self.next_seq, SEND_BYTES)
                if chunks:
                    self._add(Page(chunks))
                    await asyncio.sleep(min(PACE_MAX, self.followers * PACE_PER_FOLLOWER))
                elif job.state.terminal:
                    self.ended = job
                    self._wake()
                    return
                else:
                    await wait(wake, POLL)

    def _add(self, page: Page) -> None:
        self.pages.append(page)
        self.size += page.size
        self.next_seq = page.next
        while self.size > FEED_BYTES and len(self.pages) > 1:
            self.size -= self.pages.popleft().size
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
    ) -> AsyncIterator[list[Page] | JobView]:
        """Yields pages of chunks in order, each chunk once; the job's final view comes last.

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
                pages: list[Page] = []
                if feed is None or next_seq < feed.first_seq:
                    chunks = await asyncio.to_thread(self.logs.read, key, next_seq, SEND_BYTES)
                    pages = [Page(chunks)] if chunks else []
                if feed is not None and not pages:
                    pages = feed.after(next_seq)
                if pages:
                    if skip:
                        first, *rest = pages[0].chunks
                        cut = Chunk(first.seq, first.stream, first.at, first.data[skip:])
                        pages[0] = Page([cut, *rest])
                        skip = 0
                    next_seq = pages[-1].next
                    yield pages
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
