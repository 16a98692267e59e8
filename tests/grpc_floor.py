"""What a `true` job's gRPC traffic costs a server at the least: the calls and messages of a
job's life (SubmitJob; a new agent's connection, Register and its Connect stream: hello, the
order, accepted, finished, the ack) answered by a Python gRPC server that does nothing else, no
store, no saga, no provider. The part of the server's CPU per job that laino's choice of
Python's gRPC sets, whatever the rest of the server does.

Run by `just bench`; the server runs in a process of its own so that its CPU can be read.
Usage: python -m tests.grpc_floor serve PORT
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from laino.orchestrator.server import OPTIONS
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.agent_floor import agent
from tests.conftest import free_port

# As many agents at a time as a batch of `true` jobs keeps alive here.
AGENTS_AT_ONCE = 16


class Jobs(rpc.JobServiceServicer):
    async def SubmitJob(
        self, request: pb.SubmitJobRequest, context: object
    ) -> pb.SubmitJobResponse:
        return pb.SubmitJobResponse(job=pb.Job(id=str(uuid.uuid4()), spec=request.spec))


class Workers(rpc.WorkerServiceServicer):
    async def Register(self, request: pb.RegisterRequest, context: object) -> pb.RegisterResponse:
        return pb.RegisterResponse(session_token=uuid.uuid4().hex)

    async def Connect(
        self, requests: AsyncIterator[pb.AgentMessage], context: object
    ) -> AsyncIterator[pb.ServerMessage]:
        await anext(aiter(requests))  # the hello
        job_id = str(uuid.uuid4())
        spec = pb.JobSpec(command=["true"])
        yield pb.ServerMessage(run=pb.RunJob(job_id=job_id, attempt=1, spec=spec))
        async for message in requests:
            if message.HasField("finished"):
                yield pb.ServerMessage(finished_ack=pb.FinishedAck(job_id=job_id))
                return


async def serve(port: int) -> None:
    server = grpc.aio.server(options=OPTIONS)
    rpc.add_JobServiceServicer_to_server(Jobs(), server)
    rpc.add_WorkerServiceServicer_to_server(Workers(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("serving", flush=True)
    await server.wait_for_termination()


async def jobs(address: str, count: int) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        submit = rpc.JobServiceStub(channel).SubmitJob
        for _ in range(count):
            await submit(pb.SubmitJobRequest(spec=pb.JobSpec(command=["true"])))
    room = asyncio.Semaphore(AGENTS_AT_ONCE)

    async def one() -> None:
        async with room:
            await agent(address)

    await asyncio.gather(*(one() for _ in range(count)))


@contextlib.contextmanager
def bare_server() -> Iterator[tuple[str, int]]:
    """The server above in a process of its own: its address and pid."""
    port = free_port()
    command = [sys.executable, "-m", "tests.grpc_floor", "serve", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "serving"
        yield f"127.0.0.1:{port}", server.pid
    finally:
        server.kill()
        server.wait()


def grpc_floor(address: str, cpu_seconds: Callable[[], float], count: int) -> float:
    """The bare server's CPU ms per job, `cpu_seconds` reading what it has used so far."""
    asyncio.run(jobs(address, 20))  # its first calls warm it up
    before = cpu_seconds()
    asyncio.run(jobs(address, count))
    return (cpu_seconds() - before) * 1000 / count


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[2])))
