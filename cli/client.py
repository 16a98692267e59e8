"""The CLI's connection to a server, and how its failures reach the user."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import grpc
import platformdirs

from laino.orchestrator.home import default_home
from laino.providers import dialing
from laino.providers.tracing import TracingUnavailable
from laino.v1 import laino_pb2_grpc as rpc

DEFAULT_SERVER = "127.0.0.1:50051"
# The CA that signed the server's certificate; a client certificate and key for mutual TLS.
TLS_FILES = ("LAINO_TLS_CA", "LAINO_TLS_CERT", "LAINO_TLS_KEY")
# A local server's admin token, in its home (`laino server` writes it, readable by its user).
ADMIN = "admin-token"
# Exit codes of `laino` itself, apart from a job's own exit code (documented in the README).
EXIT_ERROR = 1
EXIT_TIMED_OUT = 124
EXIT_INFRASTRUCTURE = 125
EXIT_CANCELLED = 130

F = TypeVar("F", bound=Callable[..., Any])
# What gRPC's error says when a TLS handshake failed, whichever side broke it.
_TLS_FAILURE = "handshake"
# What a server says while its database is away, or full (api/interceptors.py).
DATABASE_AWAY = "the database is unavailable; try again"
STORAGE_FULL = "the server's storage is full; try again once space is freed"
OBJECTS_AWAY = "the artifact store (--artifacts) is unavailable; try again"

_server = click.option(
    "--server",
    envvar="LAINO_SERVER",
    default=DEFAULT_SERVER,
    show_default=True,
    help="Address of the laino server (env LAINO_SERVER).",
)


def _keep_token(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[TOKEN_KEY] = value


_token = click.option(
    "--token",
    envvar="LAINO_TOKEN",
    expose_value=False,
    callback=_keep_token,
    help="Bearer token (env LAINO_TOKEN) [the token file, or a local server's admin token].",
)


def server_option(command: F) -> F:
    """--server and --token: where the server is, and who is asking."""
    return _server(_token(command))


output_option = click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", help="Output format."
)


# A CLI following a quiet job sends nothing: without this, gRPC stops pinging after two pings
# and the CLI waits on a silent connection for good.
RECONNECT = [*dialing.RECONNECT, ("grpc.http2.max_pings_without_data", 0)]


TOKEN_KEY = "laino.token"


def token() -> str:
    """--token or LAINO_TOKEN; else the user's token file; else a local server's admin token."""
    ctx = click.get_current_context(silent=True)
    given = ctx.meta.get(TOKEN_KEY) if ctx is not None else None
    if given:
        return str(given)
    for path in (Path(platformdirs.user_config_dir("laino")) / "token", default_home() / ADMIN):
        try:
            return path.read_text().strip()
        except OSError:
            continue  # absent, or not ours to read
    return ""


class Bearer(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer TOKEN` to every call."""

    def __init__(self, token: str):
        self.header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> Any:
        return details._replace(metadata=[*(details.metadata or ()), self.header])

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)


def channel(server: str) -> grpc.Channel:
    raw = _tls_channel(server) if os.environ.get("LAINO_TLS_CA") else None
    raw = raw or grpc.insecure_channel(server, options=RECONNECT)
    found = token()
    return grpc.intercept_channel(raw, Bearer(found)) if found else raw


def _tls_channel(server: str) -> grpc.Channel:
    """TLS that verifies the server against LAINO_TLS_CA; a client certificate when given."""
    paths = [os.environ[name] for name in TLS_FILES if os.environ.get(name)]
    try:
        ca, *pair = (Path(path).read_bytes() for path in paths)
    except OSError as err:
        raise click.ClickException(f"cannot read a TLS file: {err}") from None
    cert, key = pair if len(pair) == 2 else (None, None)
    tls = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    return grpc.secure_channel(server, tls, options=RECONNECT)


def jobs_stub(server: str) -> rpc.JobServiceStub:
    return rpc.JobServiceStub(channel(server))


def tokens_stub(server: str) -> rpc.TokenServiceStub:
    return rpc.TokenServiceStub(channel(server))


def schedules_stub(server: str) -> rpc.ScheduleServiceStub:
    return rpc.ScheduleServiceStub(channel(server))


def templates_stub(server: str) -> rpc.TemplateServiceStub:
    return rpc.TemplateServiceStub(channel(server))


def pools_stub(server: str) -> rpc.PoolServiceStub:
    return rpc.PoolServiceStub(channel(server))


def reports_errors(command: F) -> F:
    """Turns an RPC error into one clear line on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except grpc.RpcError as err:
            code = err.code()
            details = err.details() or ""
            if code == grpc.StatusCode.UNAVAILABLE and _TLS_FAILURE in details.lower():
                server = kwargs.get("server") or os.environ.get("LAINO_SERVER", DEFAULT_SERVER)
                message = (
                    f"the server at {server} did not prove its identity: its certificate is"
                    " not signed by LAINO_TLS_CA, or does not name this address"
                    if os.environ.get("LAINO_TLS_CA")
                    else f"the server at {server} speaks TLS: give LAINO_TLS_CA"
                )
            elif code == grpc.StatusCode.UNAVAILABLE and details == DATABASE_AWAY:
                server = kwargs.get("server") or os.environ.get("LAINO_SERVER", DEFAULT_SERVER)
                message = f"the laino server at {server} cannot reach its database; try again"
            elif code == grpc.StatusCode.UNAVAILABLE and details == OBJECTS_AWAY:
                server = kwargs.get("server") or os.environ.get("LAINO_SERVER", DEFAULT_SERVER)
                message = f"the laino server at {server}: {OBJECTS_AWAY}"
            elif code == grpc.StatusCode.UNAVAILABLE and details == STORAGE_FULL:
                server = kwargs.get("server") or os.environ.get("LAINO_SERVER", DEFAULT_SERVER)
                message = f"the laino server at {server}: its storage is full; try again later"
            elif code == grpc.StatusCode.UNAVAILABLE:
                server = kwargs.get("server") or os.environ.get("LAINO_SERVER", DEFAULT_SERVER)
                message = f"cannot reach the laino server at {server} (is `laino server` running?)"
            else:
                message = details
            click.echo(f"laino: {message}", err=True)
            sys.exit(EXIT_ERROR)
        except TracingUnavailable as err:
            click.echo(f"laino: {err}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]
