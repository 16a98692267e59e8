"""End to end: the output of jobs that ended long ago is deleted, saying so; history stays."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import grpc
import psycopg
import pytest

from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.conftest import Server, assert_eventually

DAY = 86400


def _age(server: Server, job_id: str, seconds: float) -> None:
    """Makes a job look as if it ended `seconds` ago, as the listing view has it."""
    ended = time.time() - seconds
    url = server.flags.get("database")
    if url:
        with psycopg.connect(str(url)) as db:
            db.execute("UPDATE job_view SET updated_at = %s WHERE id = %s", (ended, job_id))
        return
    with sqlite3.connect(server.home / "laino.db") as db:
        db.execute("UPDATE job_view SET updated_at = ? WHERE id = ?", (ended, job_id))


def _event_types(server: Server, job_id: str) -> list[str]:
    done = server.cli("job", "events", job_id, "-o", "json", check=True)
    return [event["type"] for event in json.loads(done.stdout)]


def test_prune_deletes_the_output_of_old_jobs_only_and_says_so(server: Server) -> None:
    old = server.submit("echo", "from long ago")
    recent = server.submit("echo", "from today")
    server.wait_state(old, {"SUCCEEDED"})
    server.wait_state(recent, {"SUCCEEDED"})
    server.cli("job", "list", check=True)  # the listing view has both
    assert server.cli("job", "prune", "--older-than", "1d", check=True).stdout == (
        "deleted the output of 0 jobs\n"
    )
    _age(server, old, 8 * DAY)
    pruned = server.cli("job", "prune", "--older-than", "7d", check=True)
    assert pruned.stdout == "deleted the output of 1 job\n"
    logs = server.cli("job", "logs", old)
    assert logs.stdout == ""
    assert logs.stderr.startswith("laino: this job's output was deleted on ")
    assert logs.stderr.endswith(": it was pruned (laino job prune)\n")
    assert server.cli("job", "logs", recent).stdout == "from today\n"
    history = _event_types(server, old)
    assert history[0] == "Submitted" and history[-1] == "LogsExpired"
    assert "Ended" in history  # the history is kept
    assert server.job(old)["state"] == "SUCCEEDED"
    again = server.cli("job", "prune", "--older-than", "7d", check=True)
    assert again.stdout == "deleted the output of 0 jobs\n"


def test_the_server_deletes_output_past_its_retain_on_its_own(tmp_path: Path) -> None:
    server = Server(tmp_path, retain="3d")
    server.start()
    try:
        job_id = server.submit("echo", "kept a while")
        server.wait_state(job_id, {"SUCCEEDED"})
        server.cli("job", "list", check=True)
        _age(server, job_id, 4 * DAY)
        server.stop()
        server.start()  # the lease holder expires what is past --retain as it takes the lease

        def said() -> str:
            text = server.cli("job", "logs", job_id).stderr
            return text if "deleted" in text else ""

        text = assert_eventually(said, timeout=20)
        assert text.endswith(": it ended more than 3d ago (the server's --retain)\n")
    finally:
        server.stop()
        server.cleanup_workers()


def test_prune_needs_an_admin_token_and_a_duration(server: Server) -> None:
    secret = server.tokens.CreateToken(pb.CreateTokenRequest(name="ci", role="submit")).secret
    channel = grpc.insecure_channel(server.address)
    request = pb.PruneLogsRequest(older_than_seconds=0)
    with pytest.raises(grpc.RpcError) as refused:
        rpc.JobServiceStub(channel).PruneLogs(
            request, metadata=[("authorization", f"Bearer {secret}")]
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    channel.close()
    bad = server.jobs.PruneLogs
    with pytest.raises(grpc.RpcError) as invalid:
        bad(pb.PruneLogsRequest(older_than_seconds=float("nan")))
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    typo = server.cli("job", "prune", "--older-than", "a week")
    assert typo.returncode == 2
    assert "'a week' is not a duration like 30s, 10m, 1h30m or 7d" in typo.stderr
