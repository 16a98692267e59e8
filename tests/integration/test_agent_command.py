"""The agent's run of a command: every byte read, in order, however slowly it is taken."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from laino.providers.agent import output
from laino.providers.agent.command import DRAIN_SECONDS, Run
from laino.providers.agent.output import Batcher
from laino.v1 import laino_pb2 as pb


async def _nothing() -> None:
    pass


def _run(
    command: list[str], *, secrets: dict[str, str] | None = None, limit: int = 0
) -> tuple[int, list[pb.LogChunk]]:
    got: list[pb.LogChunk] = []

    async def run() -> int:
        batcher = Batcher(got.extend, _nothing, limit=limit)
        spec = pb.JobSpec(command=command)
        outcome = await Run(spec, batcher, secrets=secrets).execute()
        return outcome.exit_code

    return asyncio.run(run()), got


def _stream(chunks: list[pb.LogChunk], stream: int) -> bytes:
    return b"".join(c.data for c in chunks if c.stream == stream)


def test_back_pressure_longer_than_the_drain_limit_loses_no_byte() -> None:
    got: list[pb.LogChunk] = []
    stalled = False

    async def room() -> None:
        # The orchestrator falls behind once, for longer than a silent pipe is waited for.
        nonlocal stalled
        # Near the end, so the command can write the rest into the pipe and exit meanwhile.
        taken = sum(len(c.data) for c in got) + batcher.size
        if taken > 1_930_000 and not stalled:
            stalled = True
            await asyncio.sleep(DRAIN_SECONDS + 1)

    batcher = Batcher(got.extend, room)

    async def run() -> int:
        outcome = await Run(pb.JobSpec(command=["seq", "1", "300000"]), batcher).execute()
        return outcome.exit_code

    assert asyncio.run(run()) == 0
    assert stalled
    assert [c.seq for c in got] == list(range(1, len(got) + 1))
    expected = "".join(f"{n}\n" for n in range(1, 300_001)).encode()
    assert _stream(got, pb.STDOUT) == expected


def test_bytes_come_as_written_and_streams_in_the_order_they_were_read() -> None:
    script = (
        "import os, sys, time\n"
        "os.write(1, bytes(range(256)))\n"
        "for i in range(5):\n"
        "    os.write(1, b'out%d ' % i); time.sleep(0.03)\n"
        "    os.write(2, b'err%d ' % i); time.sleep(0.03)\n"
        "os.write(1, b'no newline')\n"
    )
    code, got = _run(["python3", "-c", script])
    assert code == 0
    assert _stream(got, pb.STDOUT) == bytes(range(256)) + b"out0 out1 out2 out3 out4 no newline"
    assert _stream(got, pb.STDERR) == b"err0 err1 err2 err3 err4 "
    shown = b"".join(c.data for c in got)
    assert shown.endswith(b"out0 err0 out1 err1 out2 err2 out3 err3 out4 err4 no newline")
    assert all(c.time > 0 for c in got)


def test_a_secret_split_between_two_writes_is_masked_and_characters_stay_whole() -> None:
    script = (
        "import os, time\n"
        "os.write(1, b'key=s3cr'); time.sleep(0.1); os.write(1, b'3t-value\\n')\n"
        "os.write(1, '\u20ac'.encode()[:1]); time.sleep(0.1); os.write(1, '\u20ac'.encode()[1:])\n"
    )
    code, got = _run(["python3", "-c", script], secrets={"TOKEN": "s3cr3t-value"})
    assert code == 0
    assert _stream(got, pb.STDOUT) == "key=***\n\u20ac".encode()
    for chunk in got:  # every chunk is text on its own: no character cut in two
        chunk.data.decode()


def test_output_past_the_limit_is_read_dropped_and_said() -> None:
    code, got = _run(["sh", "-c", "head -c 3000000 /dev/zero; echo done"], limit=1000)
    assert code == 0  # the job was not blocked on its full pipe
    assert _stream(got, pb.STDOUT) == b"\0" * 1000
    assert b"log truncated" in _stream(got, pb.SYSTEM)


def test_output_that_fills_the_limit_exactly_is_kept_and_more_is_said_once() -> None:
    got: list[pb.LogChunk] = []
    batcher = Batcher(got.extend, _nothing, limit=10)
    batcher.add(pb.STDOUT, b"0123456789")
    batcher.add(pb.STDERR, b"more")
    batcher.add(pb.STDOUT, b"and more")
    batcher.flush()
    assert _stream(got, pb.STDOUT) == b"0123456789"
    assert _stream(got, pb.STDERR) == b""
    assert _stream(got, pb.SYSTEM).count(b"log truncated") == 1


def test_a_ten_megabyte_line_is_one_line() -> None:
    code, got = _run(["python3", "-c", "print('x' * 10_000_000)"])
    assert code == 0
    assert _stream(got, pb.STDOUT) == b"x" * 10_000_000 + b"\n"
    assert max(len(c.data) for c in got) <= 256 * 1024


def test_the_job_gets_no_stdin() -> None:
    code, got = _run(["sh", "-c", "cat; echo end"])
    assert code == 0 and _stream(got, pb.STDOUT) == b"end\n"


def test_output_goes_at_once_to_a_quiet_stream_and_gathers_while_a_batch_is_on_its_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Far longer than the test waits: no batch may wait for an interval to pass.
    monkeypatch.setattr(output, "FLUSH_SECONDS", 60.0)
    batches: list[list[bytes]] = []
    acked = asyncio.Event()
    acked.set()

    async def settled() -> None:
        await acked.wait()

    def emit(chunks: list[pb.LogChunk]) -> None:
        batches.append([c.data for c in chunks])
        acked.clear()  # on its way until the orchestrator says it has it

    async def scenario() -> None:
        batcher = Batcher(emit, _nothing, settled=settled)
        ticker = asyncio.create_task(batcher.tick())
        batcher.add(pb.STDOUT, b"first\n")
        await asyncio.wait_for(_until(lambda: len(batches) == 1), 5)
        for line in (b"second\n", b"third\n"):  # read while the first is unacknowledged
            batcher.add(pb.STDOUT, line)
            await asyncio.sleep(0.05)
        assert len(batches) == 1
        acked.set()
        await asyncio.wait_for(_until(lambda: len(batches) == 2), 5)
        ticker.cancel()

    asyncio.run(scenario())
    assert batches == [[b"first\n"], [b"second\nthird\n"]]


async def _until(done: Callable[[], bool]) -> None:
    while not done():
        await asyncio.sleep(0.01)
