"""End to end: `job run -i` gives the job this CLI's stdin; `-it` is an interactive shell."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from laino.v1 import laino_pb2 as pb
from tests.conftest import LAINO, Server, assert_eventually

DIGEST_INPUT = os.urandom(50 * 2**20)
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _digest_through(server: Server, provider: str) -> None:
    done = server.cli_bytes(
        "job", "run", "-i", "--provider", provider, "--", "sha256sum", stdin=DIGEST_INPUT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0].decode() == hashlib.sha256(DIGEST_INPUT).hexdigest()


def test_fifty_megabytes_of_stdin_reach_a_process_job_unchanged(server: Server) -> None:
    _digest_through(server, "process")


def test_fifty_megabytes_of_stdin_reach_a_container_unchanged(docker_server: Server) -> None:
    _digest_through(docker_server, "docker")


def test_without_i_the_job_reads_nothing_and_with_it_reads_to_the_end(server: Server) -> None:
    assert server.cli_bytes("job", "run", "--", "cat", stdin=b"hi\n").stdout == b""
    assert server.cli_bytes("job", "run", "-i", "cat", stdin=b"hi\n").stdout == b"hi\n"
    assert server.cli_bytes("job", "run", "-i", "cat", stdin=b"").stdout == b""


def test_a_job_that_stops_reading_early_ends_and_the_cli_with_it(server: Server) -> None:
    done = server.cli_bytes("job", "run", "-i", "--", "head", "-c", "5", stdin=DIGEST_INPUT)
    assert (done.returncode, done.stdout) == (0, DIGEST_INPUT[:5])


def test_input_survives_a_server_killed_while_it_is_sent(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.start()
    try:
        # The input comes slowly, and the server dies half way through it.
        feeder = "for i in $(seq 1 60); do echo line-$i; sleep 0.05; done"
        shell = f"{feeder} | {LAINO} job run -i -- sha256sum"
        run = subprocess.Popen(
            ["sh", "-c", shell], env=server.environ(), stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.5)
        server.kill()
        server.start()
        out, _ = run.communicate(timeout=60)
        expected = "".join(f"line-{i}\n" for i in range(1, 61)).encode()
        assert run.returncode == 0
        assert out.split()[0] == hashlib.sha256(expected).hexdigest()
    finally:
        server.stop()


def test_attaching_input_is_refused_clearly(server: Server) -> None:
    plain = server.submit("sleep", "30")
    spec = pb.JobSpec(command=["sleep", "30"], stdin=True)
    reads = server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec)).job.id
    calls = [
        ([pb.StdinRequest(job_id=plain, data=b"x")], grpc.StatusCode.FAILED_PRECONDITION),
        ([pb.StdinRequest(job_id=str(uuid.uuid4()))], grpc.StatusCode.NOT_FOUND),
        ([pb.StdinRequest(job_id="nope")], grpc.StatusCode.NOT_FOUND),
        ([pb.StdinRequest(job_id=reads, data=b"ab"), pb.StdinRequest(offset=7)], INVALID),
        ([pb.StdinRequest(job_id=reads, rows=70_000, cols=1)], INVALID),
        ([pb.StdinRequest(job_id=reads), pb.StdinRequest(job_id=plain)], INVALID),
    ]
    for requests, code in calls:
        with pytest.raises(grpc.RpcError) as raised:
            list(server.jobs.AttachStdin(iter(requests), timeout=10))
        assert raised.value.code() == code, raised.value.details()
    # One client at a time: a second one is told another is sending.
    release = threading.Event()

    def held_open() -> Iterator[pb.StdinRequest]:
        yield pb.StdinRequest(job_id=reads, data=b"x")
        release.wait(20)

    first = server.jobs.AttachStdin(held_open())
    assert next(first).written >= 0  # attached, and the job took what it could
    with pytest.raises(grpc.RpcError) as raised:
        list(server.jobs.AttachStdin(iter([pb.StdinRequest(job_id=reads)]), timeout=10))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "another client" in str(raised.value.details())
    release.set()
    first.cancel()
    for job_id in (plain, reads):
        server.cli("job", "cancel", job_id, check=True)


def test_a_job_reading_input_runs_once(server: Server) -> None:
    done = server.cli("job", "run", "-i", "--max-attempts", "3", "--", "cat")
    assert done.returncode != 0
    assert "a job that reads input or a terminal runs once" in done.stderr


def test_it_is_an_interactive_shell_on_a_terminal(server: Server, tmp_path: Path) -> None:
    session = f"laino-{uuid.uuid4().hex[:8]}"
    env = " ".join(
        f"{k}={shlex.quote(v)}" for k, v in server.environ().items() if k.startswith("LAINO_")
    )
    command = f"env {env} {LAINO} job run -it -- sh; echo EXITED-$?; sleep 60"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command], check=True
    )

    def screen() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True
        ).stdout

    def keys(*typed: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", session, *typed], check=True)

    try:
        assert_eventually(lambda: "$" in screen(), timeout=20)
        keys("echo answer-$((6*7)); stty size", "Enter")
        assert_eventually(lambda: "answer-42" in screen() and "30 100" in screen(), timeout=10)
        keys("sleep 600", "Enter")
        time.sleep(0.5)
        keys("C-c")  # Ctrl-C stops the job's foreground command, not the job
        keys("echo still-here; exit 7", "Enter")
        assert_eventually(lambda: "EXITED-7" in screen(), timeout=10)
        assert "still-here" in screen()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
