"""The least a process worker can cost: a warm process that has imported the agent forks, and the
child dials the server over gRPC, makes one call and exits, as every agent must at the least.
With --protocol, the child instead does what an agent of a `true` job must: it registers, runs
the agent's stream (hello, the order, accepted, finished, the ack; tests/grpc_floor.py's bare
server answers) and starts `true`. Run by `just bench` in a process of its own, since a fork is
safe only before gRPC has started.

Usage: python -m tests.agent_floor HOST:PORT COUNT [--protocol]
"""

from __future__ import annotations

import asyncio
import os
import sys
from functools import partial

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

import laino.providers.agent  # noqa: F401  (what the fork server imports before forking)
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc


async def dial_once(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        await health.Check(health_pb2.HealthCheckRequest(), timeout=10)


async def agent(address: str, command: tuple[str, ...] = ()) -> None:
    """One agent's part: a channel of its own, as each worker's agent dials afresh; the job's
    command, if given, runs once the order is accepted."""
    async with grpc.aio.insecure_channel(address) as channel:
        workers = rpc.WorkerServiceStub(channel)
        await workers.Register(pb.RegisterRequest(worker_id="w", bootstrap_token="t"))
        call = workers.Connect()
        await call.write(pb.AgentMessage(hello=pb.Hello(worker_id="w", session_token="s")))
        order = (await call.read()).run
        await call.write(
            pb.AgentMessage(accepted=pb.JobAccepted(job_id=order.job_id, attempt=order.attempt))
        )
        if command:
            process = await asyncio.create_subprocess_exec(*command)
            await process.wait()
        finished = pb.JobFinished(job_id=order.job_id, attempt=order.attempt, exit_code=0)
        await call.write(pb.AgentMessage(finished=finished))
        await call.read()
        await call.done_writing()


def main() -> None:
    address, count = sys.argv[1], int(sys.argv[2])
    child = partial(agent, command=("true",)) if sys.argv[3:] == ["--protocol"] else dial_once
    before = os.times()
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                asyncio.run(child(address))
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the forked child could not dial"
    after = os.times()
    children = after.children_user + after.children_system
    children -= before.children_user + before.children_system
    parent = after.user + after.system - before.user - before.system
    print(f"{children * 1000 / count:.1f} {parent * 1000 / count:.1f}")


if __name__ == "__main__":
    main()
