"""Client tokens: nobody without a valid one can submit, read or cancel; roles limit the rest."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from laino.cli.client import Bearer
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.conftest import Server

SUBMIT = pb.SubmitJobRequest(spec=pb.JobSpec(command=["true"]))


def _as(server: Server, token: str) -> rpc.JobServiceStub:
    raw = grpc.insecure_channel(server.address)
    return rpc.JobServiceStub(grpc.intercept_channel(raw, Bearer(token)) if token else raw)


def _refused(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code(), caught.value.details()  # type: ignore[attr-defined]


def _create(server: Server, name: str, role: str, **terms: Any) -> str:
    request = pb.CreateTokenRequest(name=name, role=role, **terms)
    return str(server.tokens.CreateToken(request).secret)


def test_no_wrong_expired_or_revoked_token_gets_anything(server: Server) -> None:
    job_id = server.submit("true")
    short = _create(server, "short", "admin", ttl_seconds=1)
    gone = _create(server, "gone", "admin")
    server.tokens.RevokeToken(pb.RevokeTokenRequest(name="gone"))
    forged = server.token[:-4] + "AAAA"
    cases = {
        "": "a token is needed: give --token or LAINO_TOKEN",
        "laino_0_0": "the token is not valid",
        forged: "the token is not valid",
        gone: "token 'gone' was revoked",
    }
    reader = _as(server, short)
    assert reader.GetJob(pb.GetJobRequest(job_id=job_id)).id == job_id  # in force, for now
    cases[short] = "token 'short' expired"
    time.sleep(1.1)
    for token, says in cases.items():
        jobs = _as(server, token)
        calls = [
            lambda j=jobs: j.SubmitJob(SUBMIT),
            lambda j=jobs: j.GetJob(pb.GetJobRequest(job_id=job_id)),
            lambda j=jobs: j.ListJobs(pb.ListJobsRequest()),
            lambda j=jobs: j.CancelJob(pb.CancelJobRequest(job_id=job_id)),
            lambda j=jobs: list(j.StreamLogs(pb.StreamLogsRequest(job_id=job_id))),
            lambda j=jobs: j.GetJobEvents(pb.GetJobEventsRequest(job_id=job_id)),
            lambda j=jobs: j.ListWorkers(pb.ListWorkersRequest()),
        ]
        for call in calls:
            assert _refused(call) == (grpc.StatusCode.UNAUTHENTICATED, says)
    assert len(server.jobs.ListJobs(pb.ListJobsRequest()).jobs) == 1  # nothing was submitted


def test_a_read_token_reads_but_cannot_submit_cancel_or_issue_tokens(server: Server) -> None:
    job_id = server.submit("sleep", "600")
    reader = _as(server, _create(server, "reader", "read"))
    assert reader.GetJob(pb.GetJobRequest(job_id=job_id)).id == job_id
    assert len(reader.ListJobs(pb.ListJobsRequest()).jobs) == 1
    code, says = _refused(lambda: reader.SubmitJob(SUBMIT))
    assert (code, says) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "token 'reader' is read: this needs submit",
    )
    code, _ = _refused(lambda: reader.CancelJob(pb.CancelJobRequest(job_id=job_id)))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    submitter = _create(server, "ci", "submit")
    tokens = rpc.TokenServiceStub(
        grpc.intercept_channel(grpc.insecure_channel(server.address), Bearer(submitter))
    )
    code, _ = _refused(lambda: tokens.CreateToken(pb.CreateTokenRequest(name="x", role="admin")))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert server.job(job_id)["state"] != "CANCELLED"
    server.cli("job", "cancel", job_id, check=True)


def test_a_provider_limited_token_cannot_use_another_provider(server: Server) -> None:
    docker_only = _as(server, _create(server, "docker-ci", "submit", providers=["docker"]))
    for provider in ("process", ""):  # "" is the server's default, process
        request = pb.SubmitJobRequest(spec=pb.JobSpec(command=["true"], provider=provider))
        code, says = _refused(lambda r=request: docker_only.SubmitJob(r))
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert says == "token 'docker-ci' may use only docker, not process"
    assert server.jobs.ListJobs(pb.ListJobsRequest()).jobs == []


def test_each_job_records_the_token_that_submitted_it(server: Server) -> None:
    ci = _create(server, "ci", "submit")
    done = server.cli_env({"LAINO_TOKEN": ci}, "job", "run", "--", "true")
    assert done.returncode == 0, done.stderr
    (job,) = server.jobs.ListJobs(pb.ListJobsRequest()).jobs
    assert job.submitter == "ci"
    shown = server.cli("job", "get", job.id).stdout
    assert "submitter:      ci" in shown
    events = server.cli("job", "events", job.id).stdout
    assert '"submitter": "ci"' in events


def test_the_cli_needs_no_setup_for_the_user_who_started_the_server(server: Server) -> None:
    token = server.home / "admin-token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    done = server.cli("job", "run", "--", "echo", "hi")  # LAINO_HOME as the server's user has it
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr


def test_another_local_user_is_refused(server: Server) -> None:
    """`nobody` runs the same CLI (Debian's python with this venv's packages) and is refused."""
    packages = sysconfig.get_paths()["purelib"]
    program = (
        f"import site, sys; site.addsitedir({packages!r}); sys.argv = ['laino', *sys.argv[1:]];"
        " from laino.cli.main import main; main()"
    )
    done = subprocess.run(
        [
            shutil.which("runuser") or "runuser",
            "-u",
            "nobody",
            "--",
            "/usr/bin/python3",
            "-S",
            "-c",
            program,
            "job",
            "list",
        ],
        env={"LAINO_SERVER": server.address, "LAINO_HOME": str(server.home), "PATH": os.defpath},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "No module named" not in done.stderr, f"nobody cannot run the CLI: {done.stderr}"
    assert done.returncode == 1
    assert done.stderr.strip() == "laino: a token is needed: give --token or LAINO_TOKEN"


def test_a_revocation_is_seen_at_once_by_another_server_on_the_same_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Server(tmp_path / "a", database=postgres_url)
    b = Server(tmp_path / "b", database=postgres_url)
    a.start()
    b.start()
    try:
        ci = _create(a, "ci", "read")
        assert _as(b, ci).ListJobs(pb.ListJobsRequest()).jobs == []
        a.tokens.RevokeToken(pb.RevokeTokenRequest(name="ci"))
        refused = _refused(lambda: _as(b, ci).ListJobs(pb.ListJobsRequest()))
        assert refused == (grpc.StatusCode.UNAUTHENTICATED, "token 'ci' was revoked")
    finally:
        a.stop()
        b.stop()


def test_token_commands_create_list_and_revoke(server: Server) -> None:
    created = server.cli("token", "create", "ci", "--role", "read", "--expires", "30d", check=True)
    secret = created.stdout.strip()
    assert secret.startswith("laino_")
    listed = server.cli("token", "list", check=True).stdout
    assert "ci " in listed and "read" in listed and secret not in listed
    assert server.cli_env({"LAINO_TOKEN": secret}, "job", "list").returncode == 0
    server.cli("token", "revoke", "ci", check=True)
    refused = server.cli_env({"LAINO_TOKEN": secret}, "job", "list")
    assert (refused.returncode, refused.stderr) == (1, "laino: token 'ci' was revoked\n")
    again = server.cli("token", "create", "bad name")
    assert again.returncode == 1 and "token name 'bad name'" in again.stderr


def test_the_cli_reads_a_token_file_in_the_users_config_folder(
    server: Server, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    (config / "laino").mkdir(parents=True)
    (config / "laino" / "token").write_text(_create(server, "from-file", "read") + "\n")
    elsewhere = {"XDG_CONFIG_HOME": str(config), "LAINO_HOME": str(tmp_path / "not-a-home")}
    assert server.cli_env(elsewhere, "job", "list").returncode == 0
    submit = server.cli_env(elsewhere, "job", "submit", "--", "true")
    assert submit.stderr == "laino: token 'from-file' is read: this needs submit\n"
