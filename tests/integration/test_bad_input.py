"""Bad input from clients and agents: a clear error, and nothing else changes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import uuid
from pathlib import Path

import grpc
import pytest

from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.conftest import LAINO, Server, assert_eventually


def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code()  # type: ignore[attr-defined, no-any-return]


def _job_count(server: Server) -> int:
    return len(server.jobs.ListJobs(pb.ListJobsRequest()).jobs)


def test_invalid_specs_are_refused_with_the_field_and_store_nothing(server: Server) -> None:
    for spec, field in [
        (pb.JobSpec(command=[]), "spec.command"),
        (pb.JobSpec(command=["true"], timeout_seconds=-1), "spec.timeout_seconds"),
        (pb.JobSpec(command=["true"], provider="mainframe"), "spec.provider"),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details().startswith(field)
    assert _job_count(server) == 0


def test_unknown_job_ids_are_not_found_everywhere(server: Server) -> None:
    jobs = server.jobs
    for job_id in (str(uuid.uuid4()), "not-an-id"):
        calls = [
            lambda i=job_id: jobs.GetJob(pb.GetJobRequest(job_id=i)),
            lambda i=job_id: jobs.CancelJob(pb.CancelJobRequest(job_id=i)),
            lambda i=job_id: list(jobs.StreamLogs(pb.StreamLogsRequest(job_id=i, follow=True))),
            lambda i=job_id: jobs.GetJobEvents(pb.GetJobEventsRequest(job_id=i)),
        ]
        assert [_code(call) for call in calls] == [grpc.StatusCode.NOT_FOUND] * 4
    done = server.cli("job", "get", "nope")
    assert done.returncode == 1 and "no job 'nope'" in done.stderr


def test_cancelling_an_ended_job_is_a_failed_precondition(server: Server) -> None:
    server.cli("job", "run", "--", "true", check=True)
    job = server.jobs.ListJobs(pb.ListJobsRequest()).jobs[0]
    request = pb.CancelJobRequest(job_id=job.id)
    assert _code(lambda: server.jobs.CancelJob(request)) == grpc.StatusCode.FAILED_PRECONDITION
    assert server.job(job.id)["state"] == "SUCCEEDED"


def test_server_unreachable_is_one_clear_line(server: Server) -> None:
    server.stop()
    done = server.cli("job", "list")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"laino: cannot reach the laino server at {server.address} (is `laino server` running?)"
    )


def _token(server: Server, worker_id: str) -> str:
    secret = bytes.fromhex((server.home / "secret").read_text().strip())
    return hmac.new(secret, uuid.UUID(worker_id).bytes, hashlib.sha256).hexdigest()


def test_a_bootstrap_token_works_once_only(server: Server) -> None:
    job_id = server.submit("sleep", "4246")
    worker_id = server.wait_state(job_id, {"RUNNING"})["worker_id"]
    again = pb.RegisterRequest(worker_id=worker_id, bootstrap_token=_token(server, worker_id))
    with pytest.raises(grpc.RpcError) as caught:
        server.workers.Register(again)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "already used" in caught.value.details()
    wrong = pb.RegisterRequest(worker_id=worker_id, bootstrap_token="0" * 64)
    assert _code(lambda: server.workers.Register(wrong)) == grpc.StatusCode.UNAUTHENTICATED
    assert server.job(job_id)["state"] == "RUNNING"


def test_malformed_agent_frames_end_the_stream_and_change_nothing(server: Server) -> None:
    job_id = server.submit("sleep", "4247")
    server.wait_state(job_id, {"RUNNING"})
    # A stream must open with a hello.
    frames = iter([pb.AgentMessage(heartbeat=pb.Heartbeat())])
    assert _code(lambda: list(server.workers.Connect(frames))) == grpc.StatusCode.INVALID_ARGUMENT
    # A hello with a made-up session.
    hello = pb.Hello(worker_id=str(uuid.uuid4()), session_token="forged")
    frames = iter([pb.AgentMessage(hello=hello)])
    assert _code(lambda: list(server.workers.Connect(frames))) == grpc.StatusCode.UNAUTHENTICATED
    # An unparsable worker id.
    frames = iter([pb.AgentMessage(hello=pb.Hello(worker_id="x"))])
    assert _code(lambda: list(server.workers.Connect(frames))) == grpc.StatusCode.INVALID_ARGUMENT
    assert server.job(job_id)["state"] == "RUNNING"
    assert_eventually(lambda: server.job(job_id)["attempt"] == 1)


def test_a_provider_this_server_does_not_run_fails_the_job_at_once(server: Server) -> None:
    done = server.cli("job", "run", "--provider", "kubernetes", "--max-attempts", "3", "--", "true")
    assert done.returncode == 125
    assert "provider 'kubernetes' is not enabled on this server" in done.stderr
    job_id = server.cli("job", "list", "-o", "json").stdout.split('"id": "')[1][:36]
    assert server.job(job_id)["attempt"] == 1  # refused for good: not retried


def test_a_dead_docker_engine_fails_docker_jobs_clearly_and_nothing_else(tmp_path: Path) -> None:
    server = Server(tmp_path, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    server.start()
    try:
        done = server.cli("job", "run", "--provider", "docker", "--max-attempts", "2", "--", "true")
        assert done.returncode == 125
        assert "docker engine unreachable" in done.stderr
        assert "attempt 1 failed" in done.stderr  # an engine can come back: it was retried
        assert server.cli("job", "run", "--", "echo", "still here").stdout == "still here\n"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("flags", "env", "says"),
    [
        (
            ["--database", "mysql://db/laino"],
            {},
            "'mysql://db/laino': only postgresql:// URLs are supported",
        ),
        ([], {"LAINO_LOG_FORMAT": "xml"}, "log format 'xml' is not one of text, json"),
        ([], {"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER: unknown exporter 'zipkin'"),
        (
            ["--database", "mysql://laino:hunter2@db/laino"],
            {},
            "'mysql://laino:***@db/laino': only postgresql:// URLs are supported",
        ),
        (
            ["--nats", "nats://laino:hunter2@127.0.0.1:9"],
            {},
            "cannot reach NATS at nats://laino:***@127.0.0.1:9: nats: no servers available for"
            " connection",
        ),
        (
            [],
            {"LAINO_JOB_USER": "no-such-user-here"},
            "--job-user 'no-such-user-here': no such user",
        ),
    ],
)
def test_a_server_with_bad_settings_says_what_in_one_line(
    tmp_path: Path, flags: list[str], env: dict[str, str], says: str
) -> None:
    done = subprocess.run(
        [LAINO, "server", "--home", str(tmp_path), "--listen", "127.0.0.1:0", *flags],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"Error: {says}"]  # one line, no traceback
    assert "hunter2" not in done.stderr


def test_a_password_in_a_url_is_never_printed() -> None:
    url = "postgresql://laino:hunter2@127.0.0.1:9/laino"
    for command in (["db", "status", "--database", url], ["db", "migrate", "--database", url]):
        done = subprocess.run([LAINO, *command], capture_output=True, text=True, timeout=30)
        assert done.returncode == 1 and "cannot reach the database" in done.stderr
        assert "hunter2" not in done.stdout + done.stderr
    done = subprocess.run(
        [LAINO, "events", "--nats", "nats://laino:hunter2@127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stderr.strip().splitlines() == [
        "Error: cannot reach NATS at nats://laino:***@127.0.0.1:9: nats: no servers available"
        " for connection"
    ]


def test_bad_listing_and_log_requests_are_invalid_argument_not_internal(server: Server) -> None:
    job_id = server.submit("true")
    bad = [
        pb.ListJobsRequest(page_token="abc"),
        pb.ListJobsRequest(page_token=str(2**70)),
        pb.ListJobsRequest(states=[99]),
        pb.ListJobsRequest(page_size=-1),
        pb.ListJobsRequest(labels={f"k{i}": "v" for i in range(1000)}),
        pb.ListJobsRequest(created_since=float("nan")),
        pb.ListJobsRequest(created_since=-1),
    ]
    for request in bad:
        assert _code(lambda r=request: server.jobs.ListJobs(r)) == grpc.StatusCode.INVALID_ARGUMENT
    for workers in (pb.ListWorkersRequest(states=["BOGUS"]), pb.ListWorkersRequest(limit=5000)):
        call = lambda r=workers: server.jobs.ListWorkers(r)  # noqa: E731
        assert _code(call) == grpc.StatusCode.INVALID_ARGUMENT
    logs = pb.StreamLogsRequest(job_id=job_id, from_seq=2**63)
    assert _code(lambda: list(server.jobs.StreamLogs(logs))) == grpc.StatusCode.INVALID_ARGUMENT
    listed = server.cli("job", "list", "--state", "BOGUS")
    assert listed.returncode != 0 and "SUCCEEDED" in listed.stderr  # says which states exist


def test_jobs_with_large_commands_do_not_break_the_list_for_everyone(server: Server) -> None:
    big = "x" * (250 * 1024)  # just under a spec's limit; 24 of them pass gRPC's 4 MiB
    ids = {server.jobs.SubmitJob(_big_job(big)).job.id for _ in range(24)}
    listed = server.cli("job", "list", "--limit", "100", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert {job["id"] for job in json.loads(listed.stdout)} == ids  # paged by size, all there
    first = server.jobs.ListJobs(pb.ListJobsRequest(page_size=100))
    assert 0 < len(first.jobs) < 24 and first.next_page_token


def _big_job(text: str) -> pb.SubmitJobRequest:
    # Never provisioned: a provider this server does not run fails it at once.
    spec = pb.JobSpec(command=["echo", text], provider="kubernetes")
    return pb.SubmitJobRequest(spec=spec)


def test_bad_schedule_requests_are_invalid_argument_or_not_found(server: Server) -> None:
    schedules = rpc.ScheduleServiceStub(server.channel)
    spec = pb.JobSpec(command=["true"])
    bad = [
        pb.CreateScheduleRequest(name="a", every_seconds=float("nan"), spec=spec),
        pb.CreateScheduleRequest(name="a", every_seconds=float("inf"), spec=spec),
        pb.CreateScheduleRequest(name="a", every_seconds=-5, spec=spec),
        pb.CreateScheduleRequest(name="a", cron="x" * 100_000, spec=spec),
        pb.CreateScheduleRequest(name="a", cron="* * * * *", timezone="\0", spec=spec),
        pb.CreateScheduleRequest(
            name="a", cron="* * * * *", timezone="../../etc/passwd", spec=spec
        ),
        pb.CreateScheduleRequest(name="", every_seconds=60, spec=spec),
        pb.CreateScheduleRequest(name="a", every_seconds=60, catchup="maybe", spec=spec),
        pb.CreateScheduleRequest(name="a", every_seconds=60, spec=pb.JobSpec(command=[])),
        pb.CreateScheduleRequest(
            name="a", every_seconds=60, spec=pb.JobSpec(command=["cat"], stdin=True)
        ),
    ]
    for request in bad:
        call = lambda r=request: schedules.CreateSchedule(r)  # noqa: E731
        assert _code(call) == grpc.StatusCode.INVALID_ARGUMENT, request
    assert not schedules.ListSchedules(pb.ListSchedulesRequest()).schedules
    for method in ("GetSchedule", "PauseSchedule", "ResumeSchedule", "DeleteSchedule"):
        call = lambda m=method: getattr(schedules, m)(pb.ScheduleRequest(name="nope"))  # noqa: E731
        assert _code(call) == grpc.StatusCode.NOT_FOUND
    trigger = lambda: schedules.TriggerSchedule(pb.ScheduleRequest(name="nope"))  # noqa: E731
    assert _code(trigger) == grpc.StatusCode.NOT_FOUND


def test_a_number_too_large_for_the_spec_is_a_usage_error_not_a_crash(server: Server) -> None:
    for option in ("--priority", "--gpus", "--max-attempts"):
        refused = server.cli("job", "submit", option, "99999999999999999999", "--", "true")
        assert refused.returncode == 2, (option, refused.stderr)
        assert f"Invalid value for '{option}'" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert _job_count(server) == 0
