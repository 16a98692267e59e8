"""End to end: warm pools keep single-use workers ready, within capacity, and replace them."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.conftest import Server, assert_eventually

ENDED = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}


@pytest.fixture
def pooled(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "home").mkdir()
    server = Server(tmp_path / "home", warm="process=2")
    server.start()
    yield server
    server.stop()
    server.cleanup_workers()


def _workers(server: Server, *states: str) -> list[dict[str, Any]]:
    args = [a for s in states for a in ("--state", s)] or ["--all"]
    found: list[dict[str, Any]] = json.loads(
        server.cli("worker", "list", *args, "--limit", "1000", "-o", "json", check=True).stdout
    )
    return found


def _warm(server: Server, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    """Waits until the pool has exactly `count` WARM workers; returns them."""

    def settled() -> tuple[list[dict[str, Any]]] | None:
        warm = _workers(server, "WARM")
        return (warm,) if len(warm) == count else None  # a tuple: true even when empty

    return assert_eventually(settled, timeout=timeout)[0]  # type: ignore[no-any-return]


def _pid(server: Server, worker: dict[str, Any]) -> int:
    for record in (server.home / "workers").glob("laino-warm-*.json"):
        data = json.loads(record.read_text())
        if data.get("labels", {}).get("laino.worker") == worker["id"]:
            return int(data["pid"])
    raise AssertionError(f"no process record for worker {worker['id']}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_job_takes_a_warm_worker_and_the_pool_refills(pooled: Server) -> None:
    server = pooled
    before = {w["id"] for w in _warm(server, 2)}
    done = server.cli("job", "run", "--env", "GREETING=hello", "--", "sh", "-c", "echo $GREETING")
    assert (done.returncode, done.stdout) == (0, "hello\n")
    job_id = server.cli("job", "list", "-o", "json", check=True)
    job = json.loads(job_id.stdout)[0]
    trace = json.loads(server.cli("job", "trace", job["id"], "-o", "json", check=True).stdout)
    assert trace["pools"] == {"1": "process"}
    assert "none provisioned" in server.cli("job", "trace", job["id"], check=True).stdout
    events = json.loads(server.cli("job", "events", job["id"], "-o", "json", check=True).stdout)
    used = next(e["data"]["worker_id"] for e in events if e["type"] == "ProvisioningStarted")
    assert used in before  # no worker was provisioned on the job's path
    # Single use: the worker that ran the job is destroyed, and the pool is whole again.
    after = _warm(server, 2)
    assert used not in {w["id"] for w in after}
    ended = {w["id"]: w for w in _workers(server)}
    assert ended[used]["state"] == "TERMINATED" and ended[used]["job_id"] == job["id"]


def test_a_secret_reaches_a_job_on_a_pool_worker_at_dispatch(pooled: Server) -> None:
    server = pooled
    _warm(server, 2)  # registered before the job, its secret and its env existed
    check = 'test "$TOKEN" = s3cr3t-value && test "$MODE" = fast'
    done = server.cli(
        "job",
        "run",
        "--secret",
        "TOKEN=s3cr3t-value",
        "--env",
        "MODE=fast",
        "--",
        "sh",
        "-c",
        check,
    )
    assert done.returncode == 0, done.stderr
    job = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]
    trace = json.loads(server.cli("job", "trace", job["id"], "-o", "json", check=True).stdout)
    assert trace["pools"] == {"1": "process"}


def test_pool_workers_hold_capacity_and_give_way_to_a_job_they_cannot_serve(
    tmp_path: Path,
) -> None:
    (tmp_path / "home").mkdir()
    server = Server(tmp_path / "home", warm="process=2", capacity="process=2")
    server.start()
    try:
        _warm(server, 2)
        queues = server.cli("pool", "queues", check=True).stdout.splitlines()
        assert queues[0].split() == [
            "PROVIDER",
            "CAPACITY",
            "RUNNING",
            "POOLED",
            "QUEUED",
            "WAITING",
        ]
        assert queues[1].split() == ["process", "2", "0", "2", "0", "-"]
        # --cpu: a pool worker was started with no limits, so it cannot serve this job; the
        # pool gives back one of the two places it holds.
        job = server.submit("true", options=("--cpu", "1"))
        assert server.wait_state(job, ENDED, timeout=30)["state"] == "SUCCEEDED"
        sampled = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            live = _workers(server, "PROVISIONING", "WARM", "REGISTERED", "BUSY", "TERMINATING")
            sampled.append(len(live))
            time.sleep(0.1)
        assert max(sampled) <= 2  # never more than the capacity
        _warm(server, 2)  # refilled once the job was done
    finally:
        server.stop()
        server.cleanup_workers()


def test_pools_are_set_listed_and_deleted_at_run_time_by_an_admin(pooled: Server) -> None:
    server = pooled
    _warm(server, 2)
    listed = server.cli("pool", "list", check=True).stdout.split("\n")[1].split()
    assert listed == ["process", "(default)", "2", "2", "0"]
    too_big = server.cli("pool", "set", "process", "100000")
    assert too_big.returncode == 2 and "1000" in too_big.stderr  # the CLI's range
    over = server.cli("pool", "set", "process", "999")
    assert over.returncode == 1 and "more than process's capacity (64)" in over.stderr
    image = server.cli("pool", "set", "process:debian", "1")
    assert image.returncode == 1 and "process workers have no image" in image.stderr
    for bad in ("x" * 256, "debian bookworm"):
        refused = server.cli("pool", "set", f"docker:{bad}", "1")
        assert refused.returncode == 1 and "at most 255 characters" in refused.stderr, bad
    pools = rpc.PoolServiceStub(server.channel)  # a NUL byte cannot come through a command line
    with pytest.raises(grpc.RpcError) as nul:
        pools.SetPool(pb.SetPoolRequest(provider="docker", image="debian\0", size=1))
    assert nul.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    submitter = server.cli("token", "create", "ci", "--role", "submit", check=True).stdout.strip()
    refused = server.cli_env({"LAINO_TOKEN": submitter}, "pool", "set", "process", "1")
    assert refused.returncode == 1 and "this needs admin" in refused.stderr
    server.cli("pool", "set", "process", "3", check=True)
    kept = _warm(server, 3)
    pids = [_pid(server, w) for w in kept]
    server.cli("pool", "delete", "process", check=True)
    _warm(server, 0)
    assert_eventually(lambda: not any(_alive(pid) for pid in pids), timeout=10)
    gone = {w["id"]: w for w in _workers(server)}
    assert {gone[w["id"]]["message"] for w in kept} == {"its pool was deleted"}
    missing = server.cli("pool", "delete", "process")
    assert missing.returncode == 1 and "no pool process" in missing.stderr


def test_idle_pool_workers_past_their_time_to_live_are_replaced(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    server = Server(tmp_path / "home", warm="process=1", **{"warm-ttl": "2s"})
    server.start()
    try:
        first = _warm(server, 1)[0]
        assert_eventually(lambda: _warm(server, 1)[0]["id"] != first["id"], timeout=20)
        old = {w["id"]: w for w in _workers(server)}[first["id"]]
        assert old["state"] == "TERMINATED" and "time to live" in old["message"]
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_killed_pool_worker_is_replaced_at_once_and_no_job_takes_it(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    # A long heartbeat timeout: the loss must be noticed from the provider, not the silence.
    server = Server(tmp_path / "home", warm="process=2", **{"heartbeat-timeout": 60})
    server.start()
    try:
        victim = _warm(server, 2)[0]
        os.kill(_pid(server, victim), signal.SIGKILL)

        def replaced() -> bool:
            warm = {w["id"] for w in _workers(server, "WARM")}
            return len(warm) == 2 and victim["id"] not in warm

        assert_eventually(replaced, timeout=10)
        done = server.cli("job", "run", "--", "echo", "fine")
        assert (done.returncode, done.stdout) == (0, "fine\n")
        lost = {w["id"]: w for w in _workers(server)}[victim["id"]]
        assert lost["state"] == "TERMINATED" and lost["message"].startswith("lost: it exited")
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_restarted_server_keeps_the_pool_it_had_without_starting_more(pooled: Server) -> None:
    server = pooled
    before = {w["id"] for w in _warm(server, 2)}
    server.kill()
    server.start()
    time.sleep(3)  # a few of the new server's passes
    assert {w["id"] for w in _warm(server, 2)} == before
    assert len(_workers(server, "PROVISIONING", "WARM")) == 2
    done = server.cli("job", "run", "--", "echo", "after")
    assert (done.returncode, done.stdout) == (0, "after\n")


def test_deleting_a_pool_no_name_can_have_is_not_found(server: Server) -> None:
    stub = rpc.PoolServiceStub(server.channel)
    for provider, image in (("pro\0cess", ""), ("process", "a\0b")):
        with pytest.raises(grpc.RpcError) as refused:
            stub.DeletePool(pb.PoolRequest(provider=provider, image=image), timeout=10)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
