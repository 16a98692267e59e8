"""One place that turns the orchestrator's errors into gRPC status codes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from laino.orchestrator.access import (
    InvalidTokenRequest,
    PermissionDenied,
    TokenExists,
    TokenNotFound,
    Unauthenticated,
)
from laino.orchestrator.api.agents import MalformedMessage
from laino.orchestrator.api.auth import Gate
from laino.orchestrator.api.convert import InvalidRequest
from laino.orchestrator.api.files import OverLimit
from laino.orchestrator.apps import InvalidToken, JobNotFound, KeyConflict
from laino.orchestrator.cluster.health import Availability
from laino.orchestrator.domain.jobs import IllegalTransition
from laino.orchestrator.domain.schedules import ScheduleExists
from laino.orchestrator.domain.spec import InvalidSpec
from laino.orchestrator.domain.templates import InvalidTemplate, TemplateExists
from laino.orchestrator.domain.timing import InvalidSchedule
from laino.orchestrator.domain.tokens import InvalidTokenName
from laino.orchestrator.domain.workers import WorkerError
from laino.orchestrator.schedules import ScheduleNotFound
from laino.orchestrator.stdin import NotAttachable
from laino.orchestrator.store.artifacts import ArtifactNotFound
from laino.orchestrator.store.database import FAILURES
from laino.orchestrator.store.objects import ObjectStoreAway
from laino.orchestrator.store.pools import InvalidPool, PoolNotFound
from laino.orchestrator.templates import TemplateNotFound
from laino.providers.base import RETRY_AFTER

log = logging.getLogger("laino.api")

CODES: list[tuple[type[Exception] | tuple[type[Exception], ...], grpc.StatusCode]] = [
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (JobNotFound, grpc.StatusCode.NOT_FOUND),
    (TokenNotFound, grpc.StatusCode.NOT_FOUND),
    (ScheduleNotFound, grpc.StatusCode.NOT_FOUND),
    (TemplateNotFound, grpc.StatusCode.NOT_FOUND),
    (ArtifactNotFound, grpc.StatusCode.NOT_FOUND),
    (OverLimit, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ObjectStoreAway, grpc.StatusCode.UNAVAILABLE),
    (TemplateExists, grpc.StatusCode.ALREADY_EXISTS),
    (InvalidTemplate, grpc.StatusCode.INVALID_ARGUMENT),
    (PoolNotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidPool, grpc.StatusCode.INVALID_ARGUMENT),
    (ScheduleExists, grpc.StatusCode.ALREADY_EXISTS),
    (InvalidSchedule, grpc.StatusCode.INVALID_ARGUMENT),
    (TokenExists, grpc.StatusCode.ALREADY_EXISTS),
    (InvalidTokenName, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidTokenRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidSpec, grpc.StatusCode.INVALID_ARGUMENT),
    (MalformedMessage, grpc.StatusCode.INVALID_ARGUMENT),
    (IllegalTransition, grpc.StatusCode.FAILED_PRECONDITION),
    (NotAttachable, grpc.StatusCode.FAILED_PRECONDITION),
    (KeyConflict, grpc.StatusCode.ALREADY_EXISTS),
    (InvalidToken, grpc.StatusCode.UNAUTHENTICATED),
    (WorkerError, grpc.StatusCode.UNAUTHENTICATED),
    (FAILURES, grpc.StatusCode.UNAVAILABLE),
]
UNAVAILABLE = "the database is unavailable; try again"
RETRY_MS = 250
OBJECTS_AWAY = "the artifact store (--artifacts) is unavailable; try again"
STORAGE_FULL = "the server's storage is full; try again once space is freed"
# How SQLite and PostgreSQL say that a write found no room (SQLITE_FULL; class 53, disk full).
FULL = ("database or disk is full", "No space left on device", "could not extend file")


def status_of(err: Exception) -> tuple[grpc.StatusCode, str]:
    for kind, code in CODES:
        if isinstance(err, kind):
            if code == grpc.StatusCode.UNAVAILABLE:
                # Nothing was written: the caller (an agent, a client) may send it again.
                said = STORAGE_FULL if any(f in str(err) for f in FULL) else UNAVAILABLE
                if isinstance(err, ObjectStoreAway):
                    said = OBJECTS_AWAY
                log.warning("%s: %s", said, err)
                return code, said
            field = getattr(err, "field", None)
            return code, f"spec.{err}" if field else str(err)
    log.exception("internal error", exc_info=err)
    return grpc.StatusCode.INTERNAL, "internal error"


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps known errors to their status codes; anything else is INTERNAL, with no stack trace.

    With a `gate`, each call is admitted by it first (the client door).
    """

    def __init__(self, availability: Availability, gate: Gate | None = None):
        self.availability = availability
        self.gate = gate

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith("/laino."):
            return handler  # health and reflection answer whatever the database does

        def admit(context: grpc.aio.ServicerContext) -> None:
            self.availability.check()
            if self.gate is not None:
                self.gate.admit(details.method, context.invocation_metadata())

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, admit),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream, admit),
                request_deserializer=handler.request_deserializer,
                response_serializer=_encoded_or(handler.response_serializer),
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                _streaming(handler.stream_stream, admit),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


Admit = Callable[[grpc.aio.ServicerContext], None]


def _encoded_or(serializer: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    """A streaming servicer may yield a message already encoded, shared by many calls."""

    def serialize(message: Any) -> bytes:
        return message if isinstance(message, bytes) else serializer(message)

    return serialize


async def _abort(context: grpc.aio.ServicerContext, err: Exception) -> None:
    code, said = status_of(err)
    # Alive, its database away: say how soon to call again (agents reconnect that soon).
    again = ((RETRY_AFTER, str(RETRY_MS)),) if code == grpc.StatusCode.UNAVAILABLE else ()
    await context.abort(code, said, again)


def _unary(behaviour: Callable[..., Any], admit: Admit) -> Callable[..., Any]:
    async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            admit(context)
            return await behaviour(request, context)
        except Exception as err:
            if isinstance(err, grpc.aio.AbortError):
                raise
            await _abort(context, err)

    return wrapper


def _streaming(behaviour: Callable[..., AsyncIterator[Any]], admit: Admit) -> Callable[..., Any]:
    async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            admit(context)
            async for response in behaviour(request, context):
                yield response
        except Exception as err:
            if isinstance(err, grpc.aio.AbortError):
                raise
            await _abort(context, err)

    return wrapper
