"""The gRPC API as clients and probes see it: health, reflection, watching, paging."""

from __future__ import annotations

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from laino.v1 import laino_pb2 as pb
from tests.conftest import Server


def test_health_reports_serving(server: Server) -> None:
    health = health_pb2_grpc.HealthStub(server.channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service=""))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(server: Server) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(stub.ServerReflectionInfo(iter([request])))
    names = {s.name for s in reply.list_services_response.service}
    assert {"laino.v1.JobService", "laino.v1.TokenService", "grpc.health.v1.Health"} <= names
    assert "laino.v1.WorkerService" not in names  # the agent door's alone


def test_watch_sends_each_state_and_ends_on_the_terminal_one(server: Server) -> None:
    job_id = server.submit("sh", "-c", "sleep 0.5; exit 2")
    states = [
        pb.JobState.Name(job.state)
        for job in server.jobs.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=30)
    ]
    assert states[-1] == "FAILED"
    assert "RUNNING" in states
    assert len(states) == len(set(states))


def test_list_pages_through_every_job_once(server: Server) -> None:
    ids = {server.submit("true") for _ in range(5)}
    seen: list[str] = []
    token = ""
    while True:
        page = server.jobs.ListJobs(pb.ListJobsRequest(page_size=2, page_token=token))
        seen += [job.id for job in page.jobs]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(ids)
