"""The agent's run of a command: every line read, however slowly the orchestrator takes them."""

from __future__ import annotations

import asyncio

from laino.providers.agent.command import DRAIN_SECONDS, Batcher, Run
from laino.v1 import laino_pb2 as pb


def test_back_pressure_longer_than_the_drain_limit_loses_no_line() -> None:
    got: list[pb.LogLine] = []
    stalled = False

    async def room() -> None:
        # The orchestrator falls behind once, for longer than a silent pipe is waited for.
        nonlocal stalled
        # Near the end, so the command can write the rest into the pipe and exit meanwhile.
        if len(got) > 285_000 and not stalled:
            stalled = True
            await asyncio.sleep(DRAIN_SECONDS + 1)

    async def run() -> int:
        batcher = Batcher(got.extend, room)
        outcome = await Run(pb.JobSpec(command=["seq", "1", "300000"]), batcher).execute()
        return outcome.exit_code

    assert asyncio.run(run()) == 0
    assert stalled
    assert [line.seq for line in got] == list(range(1, 300_001))
    assert got[-1].text == "300000"
