"""The web dashboard's side of the HTTP door: its page, and sessions signed in with a token.

A session is the token itself in an httpOnly, SameSite=Strict cookie, checked by the same gate
on every call, so a revoked token ends its sessions at once. A call that a session's cookie
authenticates and that changes something must also carry the session's CSRF token in the
X-CSRF-Token header (a second cookie that the page, and only a page of this origin, can read).
"""

from __future__ import annotations

import hmac
import json
import secrets
from importlib import resources

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from laino.orchestrator.access import Unauthenticated
from laino.orchestrator.api.auth import Gate
from laino.orchestrator.api.body import TooLarge, body_of
from laino.orchestrator.api.interceptors import status_of
from laino.orchestrator.cluster.health import Availability

SESSION = "laino_session"
# A sign-in's body holds a token, nothing more.
SIGN_IN_BYTES = 64 * 1024
CSRF = "laino_csrf"
SAFE = ("GET", "HEAD", "OPTIONS")
PAGES = {
    "/": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/app.css": ("app.css", "text/css"),
}
# The page loads nothing from elsewhere, and no other site may frame it.
HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class CsrfRefused(PermissionError):
    """A session's call that changes something came without the session's CSRF token."""


def credentials(request: Request) -> tuple[tuple[str, str], ...]:
    """The call's bearer token as gRPC metadata: its Authorization header, else its session."""
    if "authorization" in request.headers:
        return (("authorization", request.headers["authorization"]),)
    if SESSION in request.cookies:
        return (("authorization", f"Bearer {request.cookies[SESSION]}"),)
    return ()


def check_csrf(request: Request) -> None:
    if request.method in SAFE or "authorization" in request.headers:
        return  # a script's bearer token is not sent by browsers on their own
    if SESSION not in request.cookies:
        return
    expected = request.cookies.get(CSRF, "")
    given = request.headers.get("x-csrf-token", "")
    if not expected or not hmac.compare_digest(expected, given):
        raise CsrfRefused("this session's call needs its X-CSRF-Token header")


def routes(gate: Gate, availability: Availability) -> list[Route]:
    async def page(request: Request) -> Response:
        name, kind = PAGES[request.url.path]
        body = resources.files("laino.orchestrator.api").joinpath("web", name).read_bytes()
        return Response(body, media_type=kind, headers=HEADERS)

    async def sign_in(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            # Not a form another site could post: it cannot sign a browser in as someone else.
            return _refused(415, "INVALID_ARGUMENT", "send the token as application/json")
        try:
            body = json.loads(await body_of(request, SIGN_IN_BYTES))
        except TooLarge as err:
            return _refused(413, "INVALID_ARGUMENT", str(err))
        except ValueError:
            return _refused(400, "INVALID_ARGUMENT", "the body is not JSON")
        token = str(body.get("token", "")) if isinstance(body, dict) else ""
        reply = _whoami(gate, availability, token)
        if reply.status_code == 200:
            secure = request.url.scheme == "https"
            reply.set_cookie(SESSION, token, httponly=True, samesite="strict", secure=secure)
            reply.set_cookie(CSRF, secrets.token_urlsafe(24), samesite="strict", secure=secure)
        return reply

    async def whoami(request: Request) -> Response:
        return _whoami(gate, availability, request.cookies.get(SESSION, ""))

    async def sign_out(request: Request) -> Response:
        try:
            check_csrf(request)
        except CsrfRefused as err:
            return _refused(403, "PERMISSION_DENIED", str(err))
        reply = JSONResponse({})
        reply.delete_cookie(SESSION)
        reply.delete_cookie(CSRF)
        return reply

    return [
        *(Route(path, page, methods=["GET"]) for path in PAGES),
        Route("/session", sign_in, methods=["POST"]),
        Route("/session", whoami, methods=["GET"]),
        Route("/session", sign_out, methods=["DELETE"]),
    ]


def _whoami(gate: Gate, availability: Availability, token: str) -> JSONResponse:
    try:
        availability.check()
        caller = gate.tokens.authenticate(token)
    except Unauthenticated:
        return _refused(401, "UNAUTHENTICATED", "that token is not valid, or not any more")
    except Exception as err:
        # The token store is away (its database): say so, as every other call does.
        code, said = status_of(err)
        status = 503 if code == grpc.StatusCode.UNAVAILABLE else 500
        return _refused(status, code.name, said)
    return JSONResponse({"name": caller.name, "role": str(caller.role)})


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
