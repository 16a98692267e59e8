"""An HTTP request's body, read no further than a limit: nobody can make the server hold 10 GB."""

from __future__ import annotations

from starlette.requests import Request

# The most a call's body may hold: gRPC's own limit on a message.
MAX_BODY = 4 * 1024 * 1024


class TooLarge(ValueError):
    """A body past the most a call may send."""


async def body_of(request: Request, limit: int = MAX_BODY) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body is over {limit} bytes")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise TooLarge(f"the body is over {limit} bytes")
    return bytes(body)
