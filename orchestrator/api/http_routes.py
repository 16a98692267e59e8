"""The HTTP door's routes: the dashboard, then each gRPC call's path (docs/http.md)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from laino.orchestrator.api import dashboard
from laino.orchestrator.api.auth import Gate
from laino.orchestrator.api.http import HttpApi
from laino.orchestrator.cluster.health import Availability
from laino.v1 import laino_pb2 as pb


def build(services: dict[str, Any], gate: Gate, availability: Availability) -> Starlette:
    """`services`: the gRPC servicers by service name (JobService, ScheduleService, …)."""
    api = HttpApi(services, gate, availability)

    def schedule(request: Request) -> pb.ScheduleRequest:
        return pb.ScheduleRequest(name=request.path_params["name"])

    async def create_schedule(request: Request) -> Response:
        made = await api.posted(
            request, "ScheduleService.CreateSchedule", pb.CreateScheduleRequest()
        )
        return made if isinstance(made, Response) else api.json(made, 201)

    def on_schedule(method: str) -> Any:
        async def handle(request: Request) -> Response:
            return await api.unary(request, f"ScheduleService.{method}", schedule(request))

        return handle

    async def set_pool(request: Request) -> Response:
        found = await api.posted(request, "PoolService.SetPool", pb.SetPoolRequest())
        return found if isinstance(found, Response) else api.json(found)

    async def delete_pool(request: Request) -> Response:
        message = pb.PoolRequest(
            provider=request.path_params["provider"], image=request.query_params.get("image", "")
        )
        return await api.unary(request, "PoolService.DeletePool", message)

    async def list_of(request: Request) -> Response:
        method, message = LISTS[request.url.path]
        return await api.unary(request, method, message)

    return Starlette(
        routes=[
            *dashboard.routes(gate, availability),
            Route("/v1/jobs", api.submit, methods=["POST"]),
            Route("/v1/jobs", api.list_jobs, methods=["GET"]),
            Route("/v1/jobs/{job_id}", api.get_job, methods=["GET"]),
            Route("/v1/jobs/{job_id}/cancel", api.cancel, methods=["POST"]),
            Route("/v1/jobs/{job_id}/events", api.events, methods=["GET"]),
            Route("/v1/jobs/{job_id}/logs", api.logs, methods=["GET"]),
            Route("/v1/jobs/{job_id}/trace", api.trace, methods=["GET"]),
            Route("/v1/jobs/{job_id}/artifacts", api.artifacts, methods=["GET"]),
            Route("/v1/jobs/{job_id}/artifacts/{path:path}", api.artifact, methods=["GET"]),
            Route("/v1/workers", api.workers, methods=["GET"]),
            Route("/v1/schedules", create_schedule, methods=["POST"]),
            Route("/v1/schedules", list_of, methods=["GET"]),
            Route("/v1/schedules/{name}", on_schedule("GetSchedule"), methods=["GET"]),
            Route("/v1/schedules/{name}", on_schedule("DeleteSchedule"), methods=["DELETE"]),
            Route("/v1/schedules/{name}/pause", on_schedule("PauseSchedule"), methods=["POST"]),
            Route("/v1/schedules/{name}/resume", on_schedule("ResumeSchedule"), methods=["POST"]),
            Route("/v1/schedules/{name}/trigger", on_schedule("TriggerSchedule"), methods=["POST"]),
            Route("/v1/pools", set_pool, methods=["POST"]),
            Route("/v1/pools", list_of, methods=["GET"]),
            Route("/v1/pools/{provider}", delete_pool, methods=["DELETE"]),
            Route("/v1/queues", list_of, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ]
    )


LISTS = {
    "/v1/schedules": ("ScheduleService.ListSchedules", pb.ListSchedulesRequest()),
    "/v1/pools": ("PoolService.ListPools", pb.ListPoolsRequest()),
    "/v1/queues": ("PoolService.ListQueues", pb.ListQueuesRequest()),
}


async def openapi(request: Request) -> Response:
    from laino.orchestrator.api.openapi import DOCUMENT

    return JSONResponse(DOCUMENT)
