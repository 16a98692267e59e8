"""The least a process worker can cost: a warm process that has imported the agent forks, and the
child dials the server over gRPC, makes one call and exits, as every agent must at the least.
Run by `just bench` in a process of its own, since a fork is safe only before gRPC has started.

Usage: python -m tests.agent_floor HOST:PORT COUNT
"""

from __future__ import annotations

import asyncio
import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

import laino.providers.agent  # noqa: F401  (what the fork server imports before forking)


async def dial_once(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        await health.Check(health_pb2.HealthCheckRequest(), timeout=10)


def main() -> None:
    address, count = sys.argv[1], int(sys.argv[2])
    before = os.times()
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                asyncio.run(dial_once(address))
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
