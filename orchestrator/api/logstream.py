"""A job's output over HTTP: as its raw bytes, or as server-sent events, one per chunk, each
with its sequence number as the event's id (a reconnect with Last-Event-ID resumes after it)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from google.protobuf.json_format import MessageToDict

from laino.v1 import laino_pb2 as pb

NAMES = {pb.STDOUT: "stdout", pb.STDERR: "stderr", pb.SYSTEM: "system"}


async def decoded(items: AsyncIterator[Any]) -> AsyncIterator[pb.StreamLogsResponse]:
    async for item in items:
        # The servicer may hand over pages already encoded for the wire.
        yield pb.StreamLogsResponse.FromString(item) if isinstance(item, bytes) else item


async def raw(items: AsyncIterator[pb.StreamLogsResponse]) -> AsyncIterator[bytes]:
    async for item in items:
        for chunk in item.page.chunks:
            if chunk.stream != pb.SYSTEM:
                yield chunk.data


async def events(items: AsyncIterator[pb.StreamLogsResponse]) -> AsyncIterator[bytes]:
    async for item in items:
        if item.HasField("end"):
            end = MessageToDict(
                item.end,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
            yield f"event: end\ndata: {json.dumps(end)}\n\n".encode()
            return
        for chunk in item.page.chunks:
            data: dict[str, Any] = {"stream": NAMES.get(chunk.stream, "stdout"), "time": chunk.time}
            try:
                data["text"] = chunk.data.decode()
            except UnicodeDecodeError:
                data["base64"] = base64.b64encode(chunk.data).decode()
            yield f"id: {chunk.seq}\nevent: chunk\ndata: {json.dumps(data)}\n\n".encode()
