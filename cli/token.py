"""`laino token`: who may call the server. Needs an admin token."""

from __future__ import annotations

import re
import time

import click

from laino.cli.client import output_option, reports_errors, server_option, tokens_stub
from laino.cli.output import age, emit_json, table
from laino.v1 import laino_pb2 as pb

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(_: click.Context, __: click.Parameter, value: str | None) -> float:
    if not value:
        return 0.0
    found = re.fullmatch(r"(\d{1,6})([smhd])", value.strip())
    if not found:
        raise click.BadParameter(f"{value!r}: a number and s, m, h or d, as in 30d")
    return float(int(found[1]) * UNITS[found[2]])


@click.group()
def token() -> None:
    """Client tokens: create (printed once), list, revoke."""


@token.command()
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["read", "submit", "admin"]), default="submit", show_default=True
)
@click.option("--provider", "providers", multiple=True, help="Limit its jobs to this provider.")
@click.option("--expires", callback=_seconds, help="Lifetime, as 12h or 30d [never].")
@server_option
@reports_errors
def create(name: str, role: str, providers: tuple[str, ...], expires: float, server: str) -> None:
    """Create a token and print it: it is shown this once."""
    request = pb.CreateTokenRequest(
        name=name, role=role, providers=list(providers), ttl_seconds=expires
    )
    click.echo(tokens_stub(server).CreateToken(request).secret)


@token.command(name="list")
@output_option
@server_option
@reports_errors
def list_tokens(output: str, server: str) -> None:
    """List tokens (never their secrets)."""
    tokens = tokens_stub(server).ListTokens(pb.ListTokensRequest()).tokens
    if output == "json":
        emit_json([_token_dict(t) for t in tokens])
        return
    rows = [
        [t.name, t.role, ",".join(t.providers) or "any", _state(t), t.issued_by, age(t.created_at)]
        for t in tokens
    ]
    table(["NAME", "ROLE", "PROVIDERS", "STATE", "ISSUED BY", "AGE"], rows)


@token.command()
@click.argument("name")
@server_option
@reports_errors
def revoke(name: str, server: str) -> None:
    """Revoke a token: every server refuses it from now on."""
    tokens_stub(server).RevokeToken(pb.RevokeTokenRequest(name=name))
    click.echo(f"revoked {name}")


def _state(t: pb.Token) -> str:
    if t.revoked_at:
        return "revoked"
    if t.expires_at and t.expires_at <= time.time():
        return "expired"
    return (
        f"until {time.strftime('%Y-%m-%d %H:%M', time.localtime(t.expires_at))}"
        if t.expires_at
        else "in force"
    )


def _token_dict(t: pb.Token) -> dict[str, object]:
    return {
        "name": t.name,
        "role": t.role,
        "providers": list(t.providers),
        "expires_at": t.expires_at or None,
        "issued_by": t.issued_by,
        "created_at": t.created_at,
        "revoked_at": t.revoked_at or None,
        "state": _state(t),
    }
