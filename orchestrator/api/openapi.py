"""The HTTP API's OpenAPI document, served at /openapi.json."""

from __future__ import annotations

from typing import Any

ERROR = {
    "description": "an error: INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,"
    " NOT_FOUND 404, ALREADY_EXISTS 409, UNAVAILABLE 503 (with Retry-After)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                },
            }
        }
    },
}
JSON = {"content": {"application/json": {"schema": {"type": "object"}}}}
BODY = {"required": True, **JSON}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
PROVIDER = {"name": "provider", "in": "path", "required": True, "schema": {"type": "string"}}


def _operation(summary: str, role: str, **more: Any) -> dict[str, Any]:
    return {
        "summary": f"{summary} (role: {role})",
        "responses": {"200": {"description": "done", **JSON}, "default": ERROR},
        **more,
    }


def _on_schedule(summary: str) -> dict[str, Any]:
    return {"post": _operation(summary, "submit", parameters=[NAME])}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "laino",
        "version": "1",
        "description": "Jobs on ephemeral workers: the gRPC JobService's calls over HTTP/JSON,"
        " ScheduleService's and PoolService's too."
        " Every call takes `Authorization: Bearer TOKEN`. Messages are the protobuf messages"
        " of proto/laino/v1/laino.proto in their JSON form, field names as written there.",
    },
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/v1/jobs": {
            "post": _operation(
                "Submit a job: a SubmitJobRequest; 201 when new, 200 for a repeated"
                " Idempotency-Key",
                "submit",
                parameters=[
                    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}
                ],
                requestBody=BODY,
            ),
            "get": _operation(
                "List jobs, newest first; repeat `state` and `label` (KEY=VALUE) to filter;"
                " `page_size` and `page_token` page",
                "read",
                parameters=[
                    {"name": name, "in": "query", "schema": {"type": "string"}}
                    for name in ("state", "label", "page_size", "page_token")
                ],
            ),
        },
        "/v1/jobs/{job_id}": {"get": _operation("A job", "read", parameters=[JOB_ID])},
        "/v1/jobs/{job_id}/cancel": {
            "post": _operation("Cancel a job", "submit", parameters=[JOB_ID])
        },
        "/v1/jobs/{job_id}/events": {
            "get": _operation(
                "The job's, its saga's and its workers' events, in order",
                "read",
                parameters=[JOB_ID],
            )
        },
        "/v1/jobs/{job_id}/trace": {
            "get": _operation(
                "Where the job's time went: its phases (name, attempt, start and seconds after"
                " submission, ongoing), the pools its attempts' workers came from, its trace id",
                "read",
                parameters=[JOB_ID],
            )
        },
        "/v1/jobs/{job_id}/artifacts": {
            "get": _operation(
                "The files the job kept (its outputs): path, size, sha256",
                "read",
                parameters=[JOB_ID],
            )
        },
        "/v1/jobs/{job_id}/artifacts/{path}": {
            "get": {
                "summary": "One file the job kept, byte for byte (role: read)",
                "parameters": [
                    JOB_ID,
                    {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "the file", "content": {"application/octet-stream": {}}},
                    "default": ERROR,
                },
            }
        },
        "/v1/jobs/{job_id}/logs": {
            "get": {
                "summary": "The job's output as its raw bytes; with follow=true, server-sent"
                " events (`chunk`, each with its sequence number as id, then `end`) that resume"
                " after Last-Event-ID (role: read)",
                "parameters": [
                    JOB_ID,
                    {"name": "follow", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "Last-Event-ID", "in": "header", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": {
                        "description": "the output",
                        "content": {
                            "application/octet-stream": {},
                            "text/event-stream": {},
                        },
                    },
                    "default": ERROR,
                },
            }
        },
        "/v1/workers": {
            "get": _operation(
                "Workers, newest first; repeat `state` to filter",
                "read",
                parameters=[
                    {"name": name, "in": "query", "schema": {"type": "string"}}
                    for name in ("state", "limit")
                ],
            )
        },
        "/v1/schedules": {
            "post": _operation(
                "Create a schedule: a CreateScheduleRequest; 201", "submit", requestBody=BODY
            ),
            "get": _operation("Every schedule", "read"),
        },
        "/v1/schedules/{name}": {
            "get": _operation("A schedule, with its recent runs", "read", parameters=[NAME]),
            "delete": _operation("Delete a schedule", "submit", parameters=[NAME]),
        },
        "/v1/schedules/{name}/pause": _on_schedule("Pause a schedule"),
        "/v1/schedules/{name}/resume": _on_schedule("Resume a schedule"),
        "/v1/schedules/{name}/trigger": _on_schedule("Run a schedule's job now; the Job"),
        "/v1/pools": {
            "post": _operation(
                "Create a warm pool or set its size: a SetPoolRequest", "admin", requestBody=BODY
            ),
            "get": _operation("The warm pools", "read"),
        },
        "/v1/pools/{provider}": {
            "delete": _operation(
                "Delete a warm pool; `image` names a pool of another image than the default",
                "admin",
                parameters=[
                    PROVIDER,
                    {"name": "image", "in": "query", "schema": {"type": "string"}},
                ],
            )
        },
        "/v1/queues": {
            "get": _operation(
                "Each provider's capacity, the jobs holding its places, its idle pool workers"
                " and its queued jobs",
                "read",
            )
        },
    },
}
