"""The HTTP/JSON API: the client API's calls over plain HTTP, for curl, scripts and webhooks.

Each route is one call of the gRPC servicers, on the same applications, behind the same gate
(bearer tokens and roles); errors are JSON, their gRPC code mapped to an HTTP status. A job's
output comes as its raw bytes, or followed as server-sent events that resume from
`Last-Event-ID`. The OpenAPI document is at /openapi.json (docs/http.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import grpc
import uvicorn
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from laino.orchestrator.api import convert, dashboard, logstream
from laino.orchestrator.api.auth import Gate
from laino.orchestrator.api.body import TooLarge, body_of
from laino.orchestrator.api.files import off_loop
from laino.orchestrator.api.interceptors import RETRY_MS, status_of
from laino.orchestrator.api.servicers import JobService
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.phases import phases, pools
from laino.orchestrator.settings import Settings
from laino.v1 import laino_pb2 as pb

# gRPC's codes as HTTP statuses (as Google's APIs map them).
STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.INTERNAL: 500,
}


class BadRequest(ValueError):
    """A request the HTTP layer cannot read: not JSON, or not the call's shape."""


@dataclass(frozen=True)
class Call:
    """What the servicers read of a call's context: its metadata and its peer."""

    metadata: tuple[tuple[str, str], ...]
    address: str

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def peer(self) -> str:
        return self.address


@dataclass(frozen=True)
class HttpApi:
    services: dict[str, Any]
    gate: Gate
    availability: Availability

    @property
    def service(self) -> JobService:
        service: JobService = self.services["JobService"]
        return service

    async def submit(self, request: Request) -> Response:
        # The token first: nobody without one gets a body read.
        key = request.headers.get("idempotency-key")
        reply = await self.posted(request, "JobService.SubmitJob", pb.SubmitJobRequest(), key)
        if isinstance(reply, Response):
            return reply
        assert isinstance(reply, pb.SubmitJobResponse)
        return _json_response(reply, 201 if reply.created else 200)

    async def posted(
        self, request: Request, method: str, message: Message, key: str | None = None
    ) -> Message | Response:
        """A call whose request is the body: the token first, so nobody without one gets a
        body read."""
        denied = self._admit(request, method)
        if denied is not None:
            return denied
        try:
            body = await _json(request)
            if key:
                body.setdefault("idempotency_key", key)
            message = _parse(body, message)
        except (BadRequest, TooLarge) as err:
            return failed(err)
        return await self._run(request, method, message)

    async def list_jobs(self, request: Request) -> Response:
        query = request.query_params
        try:
            labels = dict(label.split("=", 1) for label in query.getlist("label"))
            message = pb.ListJobsRequest(
                states=[pb.JobState.Value(s.upper()) for s in query.getlist("state")],
                labels=labels,
                page_size=int(query.get("page_size", 0)),
                page_token=query.get("page_token", ""),
            )
        except ValueError as err:
            return error(400, "INVALID_ARGUMENT", f"bad query: {err}")
        return await self.unary(request, "JobService.ListJobs", message)

    async def get_job(self, request: Request) -> Response:
        message = pb.GetJobRequest(job_id=request.path_params["job_id"])
        return await self.unary(request, "JobService.GetJob", message)

    async def cancel(self, request: Request) -> Response:
        message = pb.CancelJobRequest(job_id=request.path_params["job_id"])
        return await self.unary(request, "JobService.CancelJob", message)

    async def events(self, request: Request) -> Response:
        found = await self._history(request)
        return found if isinstance(found, Response) else JSONResponse({"events": found})

    async def trace(self, request: Request) -> Response:
        """Where the job's time went, phase by phase, as `laino job trace -o json` has it."""
        job_id = request.path_params["job_id"]
        job = await self.call(request, "JobService.GetJob", pb.GetJobRequest(job_id=job_id))
        if isinstance(job, Response):
            return job
        assert isinstance(job, pb.Job)
        events = await self._history(request)
        if isinstance(events, Response):
            return events
        return JSONResponse(
            {
                "trace_id": job.trace_id or None,
                "phases": [asdict(p) for p in phases(events, time.time())],
                "pools": {str(attempt): pool for attempt, pool in pools(events).items()},
            }
        )

    async def _history(self, request: Request) -> list[dict[str, Any]] | Response:
        message = pb.GetJobEventsRequest(job_id=request.path_params["job_id"])
        reply = await self.call(request, "JobService.GetJobEvents", message)
        if isinstance(reply, Response):
            return reply
        assert isinstance(reply, pb.GetJobEventsResponse)
        events = [{**_dict(e), "data": json.loads(e.data_json or "{}")} for e in reply.events]
        for event in events:
            event.pop("data_json", None)
        return events

    async def workers(self, request: Request) -> Response:
        query = request.query_params
        try:
            message = pb.ListWorkersRequest(
                states=[s.upper() for s in query.getlist("state")],
                limit=int(query.get("limit", 0)),
            )
        except ValueError as err:
            return error(400, "INVALID_ARGUMENT", f"bad query: {err}")
        return await self.unary(request, "JobService.ListWorkers", message)

    async def artifacts(self, request: Request) -> Response:
        message = pb.ListArtifactsRequest(job_id=request.path_params["job_id"])
        return await self.unary(request, "JobService.ListArtifacts", message)

    async def artifact(self, request: Request) -> Response:
        """One kept file, byte for byte, as an attachment."""
        job_id, path = request.path_params["job_id"], request.path_params["path"]
        denied = self._admit(request, "JobService.DownloadArtifact")
        if denied is not None:
            return denied
        try:
            # A missing file is a 404 before any byte is sent.
            pieces = self.service.artifacts.read(str(convert.job_id(job_id)), path)
            first = await asyncio.to_thread(next, pieces, b"")
        except Exception as err:
            return failed(err)

        async def body() -> AsyncIterator[bytes]:
            yield first
            async for piece in off_loop(pieces):
                yield piece

        name = path.rsplit("/", 1)[-1].replace('"', "")
        return StreamingResponse(
            body(),
            media_type="application/octet-stream",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    async def logs(self, request: Request) -> Response:
        """The output as raw bytes; with ?follow=true, server-sent events, one per chunk, with
        its sequence number as the event's id: a reconnect with Last-Event-ID resumes after it."""
        query = request.query_params
        follow = query.get("follow", "").lower() in ("1", "true", "yes")
        try:
            after = int(request.headers.get("last-event-id") or query.get("after", "0"))
            message = pb.StreamLogsRequest(
                job_id=request.path_params["job_id"], from_seq=after + 1, follow=follow
            )
        except ValueError:
            return error(400, "INVALID_ARGUMENT", "Last-Event-ID: not a sequence number")
        denied = self._admit(request, "JobService.StreamLogs")
        if denied is not None:
            return denied
        try:
            self.service.jobs.get_job(convert.job_id(message.job_id))  # a 404, not an empty 200
        except Exception as err:
            return failed(err)
        stream = logstream.decoded(self.service.StreamLogs(message, self._context(request)))
        if follow:
            return StreamingResponse(logstream.events(stream), media_type="text/event-stream")
        return StreamingResponse(logstream.raw(stream), media_type="application/octet-stream")

    async def unary(
        self, request: Request, method: str, message: Message, status: int = 200
    ) -> Response:
        """One call, SERVICE.METHOD, its reply as JSON."""
        reply = await self.call(request, method, message)
        return reply if isinstance(reply, Response) else self.json(reply, status)

    @staticmethod
    def json(message: Message, status: int = 200) -> JSONResponse:
        return _json_response(message, status)

    async def call(self, request: Request, method: str, message: Message) -> Message | Response:
        denied = self._admit(request, method)
        return denied if denied is not None else await self._run(request, method, message)

    async def _run(self, request: Request, method: str, message: Message) -> Message | Response:
        """An admitted call; its failure as the response."""
        service, _, name = method.partition(".")
        call: Callable[..., Awaitable[Message]] = getattr(self.services[service], name)
        try:
            return await call(message, self._context(request))
        except Exception as err:
            return failed(err)

    def _admit(self, request: Request, method: str) -> Response | None:
        """The gate's check, as for a gRPC call of that method; the caller is set for the call."""
        try:
            self.availability.check()
            dashboard.check_csrf(request)
            service, _, name = method.partition(".")
            self.gate.admit(f"/laino.v1.{service}/{name}", self._context(request).metadata)
        except Exception as err:
            return failed(err)
        return None

    @staticmethod
    def _context(request: Request) -> Call:
        """The call's bearer token: its Authorization header, or the dashboard's session."""
        host = request.client.host if request.client else ""
        return Call(
            dashboard.credentials(request), f"ipv6:[{host}]" if ":" in host else f"ipv4:{host}"
        )


async def _json(request: Request) -> dict[str, Any]:
    raw = await body_of(request)
    try:
        body = json.loads(raw or b"{}")
    except ValueError as err:
        raise BadRequest(f"the body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _parse(body: dict[str, Any], message: Message) -> Message:
    try:
        return ParseDict(body, message)
    except ParseError as err:
        raise BadRequest(str(err)) from None


def _dict(message: Message) -> dict[str, Any]:
    return MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _json_response(message: Message, status: int = 200) -> JSONResponse:
    return JSONResponse(_dict(message), status_code=status)


def failed(err: Exception) -> Response:
    if isinstance(err, TooLarge):
        return error(413, "INVALID_ARGUMENT", str(err))
    if isinstance(err, BadRequest):
        return error(400, "INVALID_ARGUMENT", str(err))
    if isinstance(err, dashboard.CsrfRefused):
        return error(403, "PERMISSION_DENIED", str(err))
    code, said = status_of(err)
    response = error(STATUS.get(code, 500), code.name, said)
    if code == grpc.StatusCode.UNAVAILABLE:
        response.headers["retry-after"] = str(max(1, RETRY_MS // 1000))
    return response


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class HttpServer(uvicorn.Server):
    """uvicorn in the server's own event loop, on a socket bound beforehand; the server's
    signal handling stays the server's."""

    def __init__(self, app: Starlette, sock: socket.socket, settings: Settings):
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            # A follower of a long job must not hold up the server's stop.
            timeout_graceful_shutdown=1,
            # The same TLS as the gRPC door's, client certificates included.
            ssl_certfile=settings.tls_cert or None,
            ssl_keyfile=settings.tls_key or None,
            ssl_ca_certs=settings.tls_client_ca or None,
            ssl_cert_reqs=ssl.CERT_REQUIRED if settings.tls_client_ca else ssl.CERT_NONE,
        )
        super().__init__(config)
        self.sock = sock

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def run_here(self) -> None:
        await self.serve(sockets=[self.sock])

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])
