"""End to end: the bytes a job writes are the bytes `job run` and `job logs` print."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from datetime import datetime

import psycopg
import pytest

from tests.conftest import Server

# Each writes its bytes with os.write: what the job wrote, exactly, with no buffering between.
RANDOM = "import os, random; random.seed(7); os.write(1, random.randbytes(1 << 20))"
LONG_LINE = "import sys; sys.stdout.write('x' * 10_000_000 + '\\n')"
INVALID_UTF8 = "import os; os.write(1, b'ok \\xff\\xfe \\xe2\\x82 half a euro\\n\\xc3')"
ALTERNATING = (
    "import os, time\n"
    "for i in range(5):\n"
    "    os.write(1, b'out%d\\n' % i); time.sleep(0.05)\n"
    "    os.write(2, b'err%d\\n' % i); time.sleep(0.05)\n"
)


def _expected_random() -> bytes:
    random.seed(7)
    return random.randbytes(1 << 20)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (RANDOM, _expected_random()),
        (LONG_LINE, b"x" * 10_000_000 + b"\n"),
        ("import os; os.write(1, b'no-newline')", b"no-newline"),
        (INVALID_UTF8, b"ok \xff\xfe \xe2\x82 half a euro\n\xc3"),
    ],
    ids=["1MB-random", "10MB-line", "no-final-newline", "invalid-utf8"],
)
def test_run_and_logs_print_exactly_the_bytes_written(
    server: Server, script: str, expected: bytes
) -> None:
    run = server.cli_bytes("job", "run", "--", "python3", "-c", script)
    assert run.returncode == 0, run.stderr
    assert run.stdout == expected
    job_id = json.loads(server.cli("job", "list", "-o", "json", "--limit", "1").stdout)[0]["id"]
    logs = server.cli_bytes("job", "logs", job_id)
    assert logs.stdout == expected
    assert logs.stderr == b""


def test_alternating_streams_keep_their_order_each_and_together(server: Server) -> None:
    run = server.cli_bytes("job", "run", "--", "python3", "-c", ALTERNATING)
    assert run.stdout == b"".join(b"out%d\n" % i for i in range(5))
    assert run.stderr == b"".join(b"err%d\n" % i for i in range(5))
    job_id = json.loads(server.cli("job", "list", "-o", "json", "--limit", "1").stdout)[0]["id"]
    chunks = [
        json.loads(line)
        for line in server.cli("job", "logs", "-o", "json", job_id).stdout.splitlines()
    ]
    assert [c["seq"] for c in chunks] == list(range(1, len(chunks) + 1))
    together = "".join(c["text"] for c in chunks)
    assert together == "".join(f"out{i}\nerr{i}\n" for i in range(5))
    assert {c["stream"] for c in chunks} == {"stdout", "stderr"}


def test_quick_alternating_writes_keep_each_streams_order(server: Server) -> None:
    # Writes closer together than the agent can read may come in either order across the two
    # streams (as in `docker logs`); within each stream, never.
    script = "for i in $(seq 1 500); do echo out$i; echo err$i >&2; done"
    run = server.cli_bytes("job", "run", "--", "sh", "-c", script)
    assert run.stdout == b"".join(b"out%d\n" % i for i in range(1, 501))
    assert run.stderr == b"".join(b"err%d\n" % i for i in range(1, 501))


def test_json_logs_carry_bytes_that_are_not_utf8_as_base64(server: Server) -> None:
    job_id = server.submit("python3", "-c", INVALID_UTF8)
    server.wait_state(job_id, {"SUCCEEDED"})
    chunks = [
        json.loads(line)
        for line in server.cli("job", "logs", "-o", "json", job_id).stdout.splitlines()
    ]
    data = b"".join(
        base64.b64decode(c["base64"]) if "base64" in c else c["text"].encode() for c in chunks
    )
    assert data == b"ok \xff\xfe \xe2\x82 half a euro\n\xc3"


def test_the_command_line_after_the_command_belongs_to_the_command(server: Server) -> None:
    done = server.cli("job", "run", "ls", "-la", "/")
    assert done.returncode == 0, done.stderr
    assert "total" in done.stdout.splitlines()[0] and " proc" in done.stdout
    done = server.cli("job", "run", "echo", "hello", "-e", "X=1", "--timeout", "5")
    assert done.stdout == "hello -e X=1 --timeout 5\n"
    job = json.loads(server.cli("job", "list", "-o", "json", "--limit", "1").stdout)[0]
    assert job["spec"].get("timeout_seconds", 0) == 0
    # Options before the command are laino's; a mistyped one is an error, not a command.
    done = server.cli("job", "run", "--timeoutt", "5", "echo", "hi")
    assert done.returncode == 2 and "No such option" in done.stderr


def test_timestamps_and_since_follow_the_times_output_was_read(server: Server) -> None:
    job_id = server.submit("sh", "-c", "echo a; sleep 1.5; echo b; sleep 1.5; printf c")
    server.wait_state(job_id, {"SUCCEEDED"})
    stamped = server.cli("job", "logs", "--timestamps", job_id).stdout.split("\n")
    stamps = [datetime.fromisoformat(line.split(" ")[0]) for line in stamped]
    assert [line.split(" ", 1)[1] for line in stamped] == ["a", "b", "c"]
    assert 1.3 < (stamps[1] - stamps[0]).total_seconds() < 3
    assert 1.3 < (stamps[2] - stamps[1]).total_seconds() < 3
    since_b = stamped[1].split(" ")[0]
    assert server.cli("job", "logs", "--since", since_b, job_id).stdout == "b\nc"
    assert server.cli("job", "logs", "--since", "1h", job_id).stdout == "a\nb\nc"
    time.sleep(1.1)
    assert server.cli("job", "logs", "--since", "1s", job_id).stdout == ""
    bad = server.cli("job", "logs", "--since", "yesterday", job_id)
    assert bad.returncode == 2 and "duration like 10m" in bad.stderr


def test_output_past_the_log_limit_is_cut_with_a_notice(server: Server) -> None:
    done = server.cli_bytes(
        "job", "run", "--log-limit", "1m", "--", "sh", "-c", "head -c 3000000 /dev/zero; echo end"
    )
    assert done.returncode == 0
    assert done.stdout == b"\0" * 2**20
    assert b"laino: log truncated: the job wrote more than 1048576 bytes" in done.stderr
    too_much = server.cli("job", "run", "--log-limit", "1t", "--", "true")
    assert too_much.returncode != 0
    assert "log_limit_bytes: at most" in too_much.stderr and "INTERNAL" not in too_much.stderr


def _stored_bytes(server: Server) -> int:
    """What the logs take on disk: the SQLite file, or PostgreSQL's log table with its index
    and TOAST."""
    url = server.flags.get("database")
    if not url:
        return (server.home / "laino.db").stat().st_size
    with psycopg.connect(str(url)) as conn:
        row = conn.execute("SELECT pg_total_relation_size('log_chunk')").fetchone()
    assert row is not None
    return int(row[0])


def test_the_store_keeps_output_compactly(server: Server) -> None:
    before = _stored_bytes(server)
    # 20 MB of short lines: a row per line would take several times that.
    script = "import sys\nfor i in range(2_000_000): sys.stdout.write('%09d\\n' % i)"
    run = server.cli_bytes("job", "run", "--", "python3", "-c", script)
    expected = b"".join(b"%09d\n" % i for i in range(2_000_000))
    assert hashlib.sha256(run.stdout).digest() == hashlib.sha256(expected).digest()
    grown = _stored_bytes(server) - before
    assert grown < 1.5 * len(expected), f"{grown} bytes on disk for 20 MB of output"
