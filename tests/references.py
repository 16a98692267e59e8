"""Reference points `just bench` measures beside laino: how soon a CLI's first call leaves
it, the least any gRPC client in Python spends first, and a Celery-style round trip (a broker,
and a worker that is already running)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import nats

from tests.conftest import free_port
from tests.nats import Nats

# A worker that is already running: it takes each task from the broker and answers it.
WORKER = """
import asyncio, sys, nats
async def main():
    broker = await nats.connect(sys.argv[1])
    async def answer(msg):
        await msg.respond(b"done")
    await broker.subscribe("tasks", cb=answer)
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def cli_first_call(runs: int) -> list[float]:
    """From starting `laino job list` to its first bytes on the wire, at a socket that only
    listens: everything the CLI does before its first RPC."""
    times = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        for _ in range(runs):
            started = time.perf_counter()
            command = [sys.executable, "-m", "laino.cli.main", "job", "list", "--server", address]
            cli = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            connection, _ = listener.accept()
            with connection:
                connection.recv(1)
                times.append(time.perf_counter() - started)
            cli.kill()
            cli.wait()
    return times


def grpc_import(runs: int) -> list[float]:
    """A Python that imports gRPC and laino's generated stubs, then exits: what any CLI on
    gRPC spends before its first call, with nothing of its own."""
    times = []
    command = [sys.executable, "-c", "import grpc, laino.v1.laino_pb2_grpc"]
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True)
        times.append(time.perf_counter() - started)
    return times


def broker_round_trip(runs: int) -> list[float]:
    """A task sent through NATS to a running worker process, until its answer is back."""
    broker = Nats(free_port())
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, broker.url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        return asyncio.run(_requests(broker.url, runs))
    finally:
        worker.kill()
        worker.wait()
        broker.destroy()


async def _requests(url: str, runs: int) -> list[float]:
    client = await nats.connect(url)
    try:
        for _ in range(20):  # a warm connection
            await client.request("tasks", b"warm up", timeout=5)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            await client.request("tasks", b"true", timeout=5)
            times.append(time.perf_counter() - started)
        return times
    finally:
        await client.close()
