"""The worker agent: registers, runs the job it is sent, and ships its output back. This
module is the process: its environment, its token, its signals; session.py is the rest."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import time

from laino.providers import logfmt
from laino.providers.agent.session import Agent
from laino.providers.tracing import TRACEPARENT_ENV, Tracing, TracingUnavailable

log = logging.getLogger("laino.agent")

TOKEN_WAIT_SECONDS = 30.0
# prctl(2): whether a process may be dumped, or attached to, by others of its user.
PR_SET_DUMPABLE = 4


def _token() -> str:
    path = os.environ.get("LAINO_TOKEN_FILE")
    if path:
        # A provider may copy the file in just after the start: wait for it, whole, a while.
        deadline = time.monotonic() + TOKEN_WAIT_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError), open(path) as f:
                token = f.read().strip()
                if token:
                    # Single use: nobody after the agent needs it, least of all the job.
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                    return token
            time.sleep(0.01)
        return ""
    return os.environ.get("LAINO_BOOTSTRAP_TOKEN", "")


def _not_dumpable() -> None:
    """No process of the same user, the job included, may read this one's memory or environ.

    The job usually runs as the agent's user (in a pod, under a non-root server): the kernel
    then lets it attach to the agent unless the agent is marked non-dumpable. Exec resets the
    mark, so the job's own processes are unaffected.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def main(token: str | None = None) -> int:
    """Runs the agent set up by its environment; the token, if not given, as that says."""
    _not_dumpable()
    fmt = os.environ.get("LAINO_LOG_FORMAT", "text")
    logfmt.configure("agent", fmt if fmt in logfmt.FORMATS else "text")
    logfmt.bind(worker=os.environ["LAINO_WORKER_ID"])
    try:
        tracing = Tracing("laino-agent")
    except TracingUnavailable as err:
        log.warning("running without traces: %s", err)
        tracing = Tracing("laino-agent", env={})
    agent = Agent(
        os.environ["LAINO_SERVER"],
        os.environ["LAINO_WORKER_ID"],
        _token() if token is None else token,
        orphan_seconds=float(os.environ.get("LAINO_AGENT_ORPHAN_SECONDS", "300")),
        tracing=tracing,
        traceparent=os.environ.get(TRACEPARENT_ENV, ""),
    )
    try:
        return asyncio.run(_until_terminated(agent))
    finally:
        # The worker's destroy (SIGTERM, then SIGKILL after a grace) often follows the
        # shutdown at once: without the event loop's handler, SIGTERM would end the flush.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        tracing.shutdown()


async def _until_terminated(agent: Agent) -> int:
    """SIGTERM (a `docker stop`, a pod deletion) ends the job's processes before the agent."""
    serving = asyncio.create_task(agent.main())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, serving.cancel)
    try:
        return await serving
    except asyncio.CancelledError:
        log.info("terminated: the job's processes were stopped")
        return 143


__all__ = ["Agent", "main"]
