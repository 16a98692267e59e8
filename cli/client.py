"""The CLI's connection to a server, and how its failures reach the user."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import grpc

from laino.providers.tracing import TracingUnavailable
from laino.v1 import laino_pb2_grpc as rpc

DEFAULT_SERVER = "127.0.0.1:50051"
# Exit codes of `laino` itself, apart from a job's own exit code (documented in the README).
EXIT_ERROR = 1
EXIT_TIMED_OUT = 124
EXIT_INFRASTRUCTURE = 125
EXIT_CANCELLED = 130

F = TypeVar("F", bound=Callable[..., Any])

server_option = click.option(
    "--server",
    envvar="LAINO_SERVER",
    default=DEFAULT_SERVER,
    show_default=True,
    help="Address of the laino server (env LAINO_SERVER).",
)
output_option = click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", help="Output format."
)


# Reconnect soon after a server restart rather than after gRPC's growing backoff.
RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def jobs_stub(server: str) -> rpc.JobServiceStub:
    return rpc.JobServiceStub(grpc.insecure_channel(server, options=RECONNECT))


def reports_errors(command: F) -> F:
    """Turns an RPC error into one clear line on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except grpc.RpcError as err:
            code = err.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                server = kwargs.get("server") or os.environ.get("LAINO_SERVER", DEFAULT_SERVER)
                message = f"cannot reach the laino server at {server} (is `laino server` running?)"
            else:
                message = f"{err.details()}"
            click.echo(f"laino: {message}", err=True)
            sys.exit(EXIT_ERROR)
        except TracingUnavailable as err:
            click.echo(f"laino: {err}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]
