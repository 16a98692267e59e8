"""A crowd of followers of one job, as raw gRPC streams: what each got, and how late."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import grpc

from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

# Streams per connection: as many CLIs on as many connections would be.
PER_CHANNEL = 50


@dataclass
class Follower:
    data: bytearray = field(default_factory=bytearray)
    # Seconds from the agent reading a chunk to this follower receiving it.
    delays: list[float] = field(default_factory=list)
    ended: bool = False
    error: str = ""


def follow(address: str, token: str, job_id: str, count: int) -> list[Follower]:
    """`count` followers of the job from its first byte until it ends; waits for all."""
    return asyncio.run(_crowd(address, token, job_id, count))


async def _crowd(address: str, token: str, job_id: str, count: int) -> list[Follower]:
    channels = [grpc.aio.insecure_channel(address) for _ in range(0, count, PER_CHANNEL)]
    followers = [Follower() for _ in range(count)]
    try:
        stubs = [rpc.JobServiceStub(channel) for channel in channels]
        metadata = (("authorization", f"Bearer {token}"),)
        await asyncio.gather(
            *(
                _follow(stubs[i // PER_CHANNEL], metadata, job_id, f)
                for i, f in enumerate(followers)
            )
        )
    finally:
        await asyncio.gather(*(channel.close() for channel in channels))
    return followers


async def _follow(
    stub: rpc.JobServiceStub, metadata: tuple[tuple[str, str], ...], job_id: str, into: Follower
) -> None:
    request = pb.StreamLogsRequest(job_id=job_id, follow=True)
    try:
        async for item in stub.StreamLogs(request, metadata=metadata, timeout=300):
            if item.HasField("end"):
                into.ended = True
                return
            now = time.time()
            for chunk in item.page.chunks:
                into.data += chunk.data
                into.delays.append(now - chunk.time)
    except grpc.aio.AioRpcError as err:
        into.error = f"{err.code().name}: {err.details()}"
