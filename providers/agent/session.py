"""The agent's session with the orchestrator: registration, a stream that survives
reconnects, the one job it is sent, and its output until acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import grpc

from laino.providers import logfmt
from laino.providers.agent.command import Outcome, Run
from laino.providers.agent.inputs import InputFailed, place
from laino.providers.agent.output import Batcher
from laino.providers.agent.outputs import Uploader
from laino.providers.agent.stdin import Input
from laino.providers.base import RETRY_AFTER
from laino.providers.dialing import RECONNECT
from laino.providers.tracing import Tracing
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

log = logging.getLogger("laino.agent")

# The orchestrator refused us for good: reconnecting would only repeat the refusal.
FATAL = {
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
}
# How a stream to the orchestrator ends when the connection goes: gRPC's own status, or, for a
# write into a call that has already finished, asyncio's and grpc.aio's. Each means: reconnect,
# keep the job running, and send again what was not acknowledged.
BROKEN = (grpc.aio.AioRpcError, asyncio.InvalidStateError, grpc.aio.UsageError)
# Unacknowledged bytes of output kept for a resend after a reconnect; past this the command
# waits.
WINDOW_BYTES = 16 * 1024 * 1024
# The longest a server may ask the agent to wait before calling again.
MOST_RETRY_MS = 2000


class Agent:
    """One worker's agent: a single job, a session that survives reconnects."""

    def __init__(
        self,
        server: str,
        worker_id: str,
        token: str,
        *,
        orphan_seconds: float,
        tracing: Tracing | None = None,
        traceparent: str = "",
    ):
        self.server = server
        self.tracing = tracing or Tracing("laino-agent", env={})
        # The provisioning step's context: the agent's spans are its children.
        self.traceparent = traceparent
        self.worker_id = worker_id
        self.token = token
        self.orphan_seconds = orphan_seconds
        self.session = ""
        self.heartbeat = 1.0
        self.unacked: deque[pb.LogBatch] = deque()
        self.unacked_bytes = 0
        self.window = asyncio.Event()
        self.window.set()
        self.wake = asyncio.Event()
        self.control: list[pb.AgentMessage] = []
        self.job: tuple[str, int] | None = None
        self.run: Run | None = None
        self.task: asyncio.Task[None] | None = None
        # The stub of the server the stream is open to: artifacts are sent there.
        self.stub: rpc.WorkerServiceStub | None = None
        self.result: pb.JobFinished | None = None
        self.input = Input(self._stdin_taken)
        self.stopping = False
        # When the orchestrator last answered; an agent alone too long ends its job and exits.
        self.last_heard = time.monotonic()

    async def main(self) -> int:
        try:
            return await self._serve()
        finally:
            # Never leave the job's processes behind, however the agent ends.
            if self.task is not None and not self.task.done():
                self._abandon()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.task, 10)

    async def _serve(self) -> int:
        # Several servers (HOST:PORT,HOST:PORT): a failed attempt moves on to the next one,
        # and any of them takes the session, since all share the database. One channel each,
        # for the agent's life, so gRPC's reconnect backoff paces the retries to each.
        addresses = [a.strip() for a in self.server.split(",") if a.strip()]
        async with contextlib.AsyncExitStack() as stack:
            stubs = []
            ca = os.environ.get("LAINO_TLS_CA_PEM", "")
            for address in addresses:
                if ca:  # the server proves itself with a certificate this CA signed
                    tls = grpc.ssl_channel_credentials(root_certificates=ca.encode())
                    channel = grpc.aio.secure_channel(address, tls, options=RECONNECT)
                else:
                    channel = grpc.aio.insecure_channel(address, options=RECONNECT)
                stubs.append(rpc.WorkerServiceStub(await stack.enter_async_context(channel)))
            delay, outage, turn = 0.05, False, 0
            while not self.stopping:
                stub = stubs[turn % len(stubs)]
                try:
                    if not self.session:
                        await self._register(stub)
                    self.stub = stub
                    await self._connect(stub)
                except BROKEN as err:
                    if isinstance(err, grpc.aio.AioRpcError) and err.code() in FATAL:
                        log.error("the orchestrator refused this agent: %s", err.details())
                        self._abandon()
                        return 2
                    if not outage:
                        where = addresses[turn % len(addresses)]
                        why = err.code().name if isinstance(err, grpc.aio.AioRpcError) else "broken"
                        log.warning("orchestrator unreachable at %s (%s), retrying", where, why)
                    outage = True
                    turn += 1
                    soon = _retry_after(err)
                    if soon is not None:  # the server is there, its database is not yet
                        delay = soon
                if time.monotonic() - self.last_heard < 1.0:
                    delay, outage = 0.05, False
                if time.monotonic() - self.last_heard > self.orphan_seconds:
                    log.error("no orchestrator for %.0fs: giving up", self.orphan_seconds)
                    self._abandon()
                    return 3
                if not self.stopping:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
        return 0

    async def _register(self, stub: rpc.WorkerServiceStub) -> None:
        request = pb.RegisterRequest(worker_id=self.worker_id, bootstrap_token=self.token)
        with self.tracing.span("agent.register", parent=self.traceparent):
            reply = await stub.Register(request, timeout=10)
        self.session = reply.session_token
        self.last_heard = time.monotonic()
        self.heartbeat = reply.heartbeat_interval_seconds or 1.0
        log.info("registered as worker %s", self.worker_id)

    async def _connect(self, stub: rpc.WorkerServiceStub) -> None:
        call = stub.Connect()
        hello = pb.Hello(worker_id=self.worker_id, session_token=self.session)
        await call.write(pb.AgentMessage(hello=hello))
        opened = time.monotonic()
        writer = asyncio.create_task(self._write(call))
        # A write into a stream that broke fails: end the stream, and the reconnect follows.
        writer.add_done_callback(lambda _: call.cancel())
        try:
            async for message in call:
                self.last_heard = time.monotonic()
                self._handle(message)
                if self.stopping:
                    break
        except asyncio.CancelledError:
            # Reading a call that the writer's failure cancelled raises CancelledError: that
            # is a broken stream, not this task being cancelled.
            if not (writer.done() and not writer.cancelled() and writer.exception()):
                raise
            log.info("the stream broke while writing: %s", writer.exception())
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, *BROKEN):
                await writer
            call.cancel()
            # A stream that stayed open was contact until it broke; one refused at once was not.
            if time.monotonic() - opened > 1.0:
                self.last_heard = time.monotonic()

    async def _write(self, call: grpc.aio.StreamStreamCall) -> None:
        """The one writer of the stream: lines first, the result after them, then heartbeats."""
        sent_upto = 0
        result_sent = False
        last_beat = time.monotonic()
        while True:
            # Clear before looking: whatever is shipped while we send wakes the next pass.
            self.wake.clear()
            for batch in list(self.unacked):
                if batch.chunks[-1].seq > sent_upto:
                    await call.write(pb.AgentMessage(logs=batch))
                    sent_upto = batch.chunks[-1].seq
            while self.control:
                await call.write(self.control.pop(0))
            if self.result is not None and not self.unacked and not result_sent:
                await call.write(pb.AgentMessage(finished=self.result))
                result_sent = True
            if time.monotonic() - last_beat >= self.heartbeat:
                await call.write(pb.AgentMessage(heartbeat=pb.Heartbeat()))
                last_beat = time.monotonic()
            # asyncio.timeout, not wait_for, which on 3.11 can swallow a SIGTERM's cancel.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat):
                    await self.wake.wait()

    def _handle(self, message: pb.ServerMessage) -> None:
        kind = message.WhichOneof("msg")
        if kind == "run":
            self._start(message.run)
        elif kind == "cancel" and self.run is not None:
            self.run.cancel(message.cancel.grace_seconds)
        elif kind == "log_ack":
            self._acked(message.log_ack.up_to_seq)
        elif kind == "finished_ack":
            self.result = None
        elif kind == "stdin":
            self.input.put(message.stdin)
        elif kind == "shutdown":
            self.stopping = True
            self._abandon()

    def _start(self, order: pb.RunJob) -> None:
        job = (order.job_id, order.attempt)
        if self.job is not None and self.job != job:
            log.warning("already running job %s; ignoring job %s", self.job[0], order.job_id)
            return
        accepted = pb.JobAccepted(job_id=order.job_id, attempt=order.attempt)
        self.control.append(pb.AgentMessage(accepted=accepted))
        self.wake.set()
        if self.job is None:
            self.job = job
            batcher = Batcher(
                self._ship,
                self._room,
                first_seq=order.first_seq or 1,
                limit=order.spec.log_limit_bytes,
                settled=self._settled,
            )
            self.run = Run(
                order.spec,
                batcher,
                job_id=order.job_id,
                attempt=order.attempt,
                secrets=order.secrets,
                stdin=self.input,
            )
            self.task = asyncio.get_running_loop().create_task(self._execute(self.run, order))

    async def _execute(self, run: Run, order: pb.RunJob) -> None:
        logfmt.bind(job=order.job_id)
        with self.tracing.span("agent.run", parent=self.traceparent, job=order.job_id) as span:
            try:
                await self._place_inputs(order)
                outcome = await run.execute()
            except InputFailed as err:
                run.batcher.add(pb.SYSTEM, f"laino: {err}\n".encode())
                run.batcher.flush()
                outcome = Outcome(125, error=str(err), infrastructure=True)
            except Exception as err:  # the agent must always report, whatever went wrong
                log.exception("the run failed")
                outcome = Outcome(125, error=f"agent error: {err}")
            span.set(exit_code=outcome.exit_code)
            if outcome.error:
                span.error(outcome.error)
            # Whatever the exit code, before the job is said to end; not for a job cancelled
            # (its user is not waiting for them), nor one whose inputs were not placed.
            if order.spec.outputs and not (outcome.cancelled or outcome.infrastructure):
                await self._send_outputs(run, order)
        self.result = pb.JobFinished(
            job_id=order.job_id,
            attempt=order.attempt,
            exit_code=outcome.exit_code,
            timed_out=outcome.timed_out,
            cancelled=outcome.cancelled,
            error=outcome.error,
            infrastructure=outcome.infrastructure,
        )
        self.wake.set()

    async def _place_inputs(self, order: pb.RunJob) -> None:
        if not order.spec.inputs:
            return

        async def fetch(index: int) -> AsyncIterator[bytes]:
            if self.stub is None:
                raise InputFailed("no orchestrator to fetch it from")
            request = pb.FetchInputRequest(
                worker_id=self.worker_id,
                session_token=self.session,
                job_id=order.job_id,
                attempt=order.attempt,
                index=index,
            )
            async for piece in self.stub.FetchInput(request, timeout=600):
                yield piece.data

        root = Path(order.spec.working_dir or os.getcwd())
        await place(list(order.spec.inputs), root, fetch, order.artifact_limit_bytes)

    async def _send_outputs(self, run: Run, order: pb.RunJob) -> None:
        def note(line: str) -> None:
            run.batcher.add(pb.SYSTEM, line.encode() + b"\n")
            run.batcher.flush()

        uploader = Uploader(
            stub=lambda: self.stub,
            worker_id=self.worker_id,
            session=lambda: self.session,
            job_id=order.job_id,
            attempt=order.attempt,
            note=note,
            patience=self.orphan_seconds,
        )
        root = Path(order.spec.working_dir or os.getcwd())
        try:
            await uploader.send(list(order.spec.outputs), root, order.artifact_limit_bytes)
        except OSError as err:
            note(f"laino: the outputs could not be read: {err}")

    def _stdin_taken(self, written: int, closed: bool) -> None:
        if self.job is None:
            return
        job_id, attempt = self.job
        taken = pb.StdinTaken(job_id=job_id, attempt=attempt, written=written, closed=closed)
        self.control.append(pb.AgentMessage(stdin_taken=taken))
        self.wake.set()

    async def _room(self) -> None:
        while self.unacked_bytes >= WINDOW_BYTES:
            self.window.clear()
            await self.window.wait()

    async def _settled(self) -> None:
        """Until the orchestrator has acknowledged every batch."""
        while self.unacked:
            self.window.clear()
            await self.window.wait()

    def _ship(self, chunks: list[pb.LogChunk]) -> None:
        assert self.job is not None
        self.unacked.append(pb.LogBatch(job_id=self.job[0], attempt=self.job[1], chunks=chunks))
        self.unacked_bytes += sum(len(c.data) for c in chunks)
        self.wake.set()

    def _acked(self, up_to: int) -> None:
        while self.unacked and self.unacked[0].chunks[-1].seq <= up_to:
            self.unacked_bytes -= sum(len(c.data) for c in self.unacked.popleft().chunks)
        self.window.set()
        self.wake.set()

    def _abandon(self) -> None:
        if self.run is not None:
            self.run.cancel(1.0)


def _retry_after(err: BaseException) -> float | None:
    """How soon a live server asked to be called again, in seconds; None if it did not."""
    if not isinstance(err, grpc.aio.AioRpcError):
        return None
    for key, value in err.trailing_metadata() or ():
        said = str(value)
        # ASCII digits only, and not converted when past the cap: int() of a few thousand
        # digits raises, and would end the agent and its job.
        if key == RETRY_AFTER and said.isascii() and said.isdigit():
            return min(int(said) if len(said) <= 4 else MOST_RETRY_MS, MOST_RETRY_MS) / 1000
    return None
