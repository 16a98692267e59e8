"""An agent whose stream breaks, even in the middle of a write, reconnects and keeps its job.

The orchestrator here is a fake of the agent door, over real gRPC: it ends every stream as
soon as the hello arrives, while the agent is still writing the lines it holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from laino.providers.agent import Agent
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc


class BreakingDoor(rpc.WorkerServiceServicer):
    """Registers anyone; ends each stream right after its hello, mid-write for the agent."""

    def __init__(self) -> None:
        self.streams = 0

    async def Register(self, request: pb.RegisterRequest, context: Any) -> pb.RegisterResponse:
        return pb.RegisterResponse(session_token="s", heartbeat_interval_seconds=0.05)

    async def Connect(
        self, requests: AsyncIterator[pb.AgentMessage], context: Any
    ) -> AsyncIterator[pb.ServerMessage]:
        await anext(aiter(requests))
        self.streams += 1
        return
        yield  # a generator that ends at once


async def _scenario() -> tuple[int, bool]:
    door = BreakingDoor()
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    rpc.add_WorkerServiceServicer_to_server(door, server)
    await server.start()
    agent = Agent(f"127.0.0.1:{port}", "w", "t", orphan_seconds=60)
    # Output the agent holds and must write first on every stream: 50 batches of 200 KB.
    for n in range(50):
        chunks = [pb.LogChunk(seq=n * 2000 + i + 1, data=b"x" * 100) for i in range(2000)]
        agent.unacked.append(pb.LogBatch(job_id="j", attempt=1, chunks=chunks))
    serving = asyncio.create_task(agent._serve())
    await asyncio.sleep(3)
    crashed = serving.done()
    agent.stopping = True
    serving.cancel()
    await asyncio.gather(serving, return_exceptions=True)
    await server.stop(0)
    return door.streams, crashed


def test_an_agent_survives_a_stream_that_breaks_while_it_writes() -> None:
    streams, crashed = asyncio.run(_scenario())
    assert not crashed  # it did not die of "RPC already finished"
    assert streams >= 3  # it came back, again and again
