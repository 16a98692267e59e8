"""The lease: of all the orchestrators on one database, exactly one admits jobs, fires the
schedules and relays events (the sagas themselves are driven by partition: partitions.py).

On PostgreSQL it is a session advisory lock, held by one connection: when the holder dies, its
connection closes and PostgreSQL frees the lock at once. On the embedded SQLite it is a file
lock beside the database, freed the same way by the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text

from laino.orchestrator.store.database import FAILURES, first_line

log = logging.getLogger("laino.lease")

# pg_advisory_lock's key for the lease holder; migrations use another (7411).
RUNNER_KEY = 7412
CHECK = 1.0
AFTER_FAILURE = 2.0
# How long stopped work may take to end before it is reported as stuck.
STOP_WAIT = 5.0


class Lease(Protocol):
    def take(self) -> bool:
        """Takes the lease if it is free; True if this process holds it now."""

    def held(self) -> bool:
        """Whether this process still holds it."""

    def release(self) -> None: ...


class AdvisoryLease:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.conn: Connection | None = None

    def take(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        taken = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": RUNNER_KEY})
        if taken.scalar():
            self.conn = conn
            return True
        conn.close()
        return False

    def held(self) -> bool:
        if self.conn is None:
            return False
        try:
            self.conn.execute(text("SELECT 1"))
        except Exception:  # the connection, and with it the lock, is gone
            self.release()
            return False
        return True

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                # Ending the session frees the lock. Closing alone would hand the connection,
                # lock and all, back to the pool, and no other server could take the lease.
                self.conn.invalidate()
                self.conn.close()
            self.conn = None


class FileLease:
    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def take(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def held(self) -> bool:
        return self.fd is not None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


async def lead(lease: Lease, work: Callable[[], list[Awaitable[None]]]) -> None:
    """For ever: wait for the lease, run `work` while it is held, and stop it when it is lost.

    A failure of the work (a database gone away) gives the lease up, so that another
    orchestrator, or this one a little later, takes over from the recorded state. The lease is
    checked on a thread of its own: busy provider calls must not delay noticing its loss.
    """
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lease") as thread:

        async def call(method: Callable[[], bool]) -> bool:
            try:
                return await loop.run_in_executor(thread, method)
            except Exception as err:
                log.warning("cannot reach the lease: %s", err)
                return False

        while True:
            if not await call(lease.take):
                await asyncio.sleep(CHECK)
                continue
            log.info("holding the lease: this server admits jobs and fires schedules")
            tasks = [asyncio.ensure_future(w) for w in work()]
            try:
                while not any(t.done() for t in tasks) and await call(lease.held):
                    await asyncio.sleep(CHECK)
            finally:
                for task in tasks:
                    task.cancel()
                _, stuck = await asyncio.wait(tasks, timeout=STOP_WAIT)
                for task in stuck:
                    log.error("%s did not stop within %.0fs of losing the lease", task, STOP_WAIT)
                await loop.run_in_executor(thread, lease.release)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    failure = task.exception()
                    if isinstance(failure, FAILURES):  # away or full: a line, not a stack
                        said = first_line(failure)
                        log.warning("gave up the lease: the database failed: %s", said)
                    else:
                        log.error(
                            "gave up the lease after a failure: %r", failure, exc_info=failure
                        )
            log.warning("no longer holding the lease")
            await asyncio.sleep(AFTER_FAILURE)
