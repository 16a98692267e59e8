"""Secrets: in the job's environment, masked in its log, and nowhere else a person could look."""

from __future__ import annotations

import hashlib
import json
import subprocess

import grpc
import psycopg
import pytest

from laino.v1 import laino_pb2 as pb
from tests.conftest import LAINO, Server, assert_eventually, containers

VALUE = "s3cr3t-Value-4242"
# Checks the value without naming it: the command itself is no secret.
DIGEST = hashlib.sha256(VALUE.encode()).hexdigest()
SCRIPT = (
    'echo "got $TOKEN"; test "$(printf %s "$TOKEN" | sha256sum | cut -c1-64)" = '
    f"{DIGEST} && echo match"
)


def _everything_stored(server: Server) -> bytes:
    """Every byte the server keeps: its home's files, and its database's rows."""
    found = b"".join(p.read_bytes() for p in server.home.rglob("*") if p.is_file())
    url = server.flags.get("database")
    if url:
        with psycopg.connect(str(url)) as conn:
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
            for (table,) in tables:
                rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
                found += repr(rows).encode()
    return found


def test_a_secret_reaches_the_job_masked_and_is_shown_nowhere(server: Server) -> None:
    done = server.cli("job", "run", "--secret", f"TOKEN={VALUE}", "--", "sh", "-c", SCRIPT)
    assert (done.returncode, done.stdout) == (0, "got ***\nmatch\n"), done.stderr
    (job,) = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)
    shown = [
        server.cli("job", "logs", job["id"], check=True).stdout,
        server.cli("job", "get", job["id"], "-o", "json", check=True).stdout,
        server.cli("job", "events", job["id"], check=True).stdout,
        server.cli("job", "trace", job["id"]).stdout,
        server.log(),
    ]
    nats = server.flags.get("nats")
    if nats:

        def relayed() -> str:
            done = subprocess.run(
                [LAINO, "events", "--nats", str(nats)], capture_output=True, text=True, timeout=30
            )
            return done.stdout if "Finished" in done.stdout and job["id"] in done.stdout else ""

        shown.append(assert_eventually(relayed, timeout=20))  # once the relay published it all
    assert shown[0] == "got ***\nmatch\n"
    for text in shown:
        assert VALUE not in text
    assert VALUE.encode() not in _everything_stored(server)  # sealed at rest, then removed


def test_a_secret_can_come_from_the_clis_own_environment(server: Server) -> None:
    done = server.cli_env(
        {"TOKEN": VALUE}, "job", "run", "--secret-env", "TOKEN", "--", "sh", "-c", SCRIPT
    )
    assert (done.returncode, done.stdout) == (0, "got ***\nmatch\n"), done.stderr
    missing = server.cli("job", "run", "--secret-env", "NOT_SET_ANYWHERE", "--", "true")
    assert missing.returncode == 2 and "$NOT_SET_ANYWHERE is not set" in missing.stderr


def test_a_docker_jobs_secret_is_not_in_docker_inspect(docker_server: Server) -> None:
    script = f"{SCRIPT}; sleep 30"
    job_id = docker_server.submit(
        "sh", "-c", script, options=("--provider", "docker", "--secret", f"TOKEN={VALUE}")
    )
    names = assert_eventually(lambda: containers(f"laino.job={job_id}"), timeout=20)
    assert_eventually(lambda: "match" in docker_server.cli("job", "logs", job_id).stdout)
    inspected = subprocess.run(["docker", "inspect", *names], capture_output=True, text=True)
    assert inspected.returncode == 0 and names[0] in inspected.stdout
    assert VALUE not in inspected.stdout
    docker_server.cli("job", "cancel", job_id, check=True)


def test_a_malformed_secret_is_refused_without_echoing_it(server: Server) -> None:
    done = server.cli("job", "run", "--secret", VALUE, "--", "true")
    assert done.returncode == 2 and VALUE not in done.stderr
    spec = pb.JobSpec(command=["true"])
    for secrets, says in [({"": "x"}, "invalid variable name ''"), ({"A": "x\0"}, "NUL byte")]:
        request = pb.SubmitJobRequest(spec=spec, secrets=secrets)
        with pytest.raises(grpc.RpcError) as refused:
            server.jobs.SubmitJob(request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert says in refused.value.details()
    assert server.jobs.ListJobs(pb.ListJobsRequest()).jobs == []
