"""Where the server listens, and how: TLS when given, plaintext only where nobody else can reach."""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path

import grpc

from laino.orchestrator.settings import Settings

log = logging.getLogger("laino.server")


def credentials(settings: Settings, *, clients: bool) -> grpc.ServerCredentials | None:
    """The server's TLS identity; for the client door, also the CA of client certificates."""
    if not settings.tls_cert:
        return None
    try:
        pair = (Path(settings.tls_key).read_bytes(), Path(settings.tls_cert).read_bytes())
        client_ca = (
            Path(settings.tls_client_ca).read_bytes()
            if clients and settings.tls_client_ca
            else None
        )
    except OSError as err:
        raise ListenRefused(f"cannot read a TLS file: {err}") from None
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def agents_ca(settings: Settings) -> str:
    """What agents trust to verify the server (PEM, public); empty without TLS."""
    if not settings.tls_cert:
        return ""
    try:
        return Path(settings.tls_ca or settings.tls_cert).read_text()
    except OSError as err:
        raise ListenRefused(f"cannot read a TLS file: {err}") from None


def inputs_ca(settings: Settings) -> str:
    """What agents trust for https:// inputs beside the system's CAs (PEM, public)."""
    if not settings.inputs_ca:
        return ""
    try:
        pem = Path(settings.inputs_ca).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ListenRefused(f"--inputs-ca: cannot read it: {err}") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ListenRefused(f"--inputs-ca: {settings.inputs_ca} holds no PEM certificate")
    return pem


def listen(
    server: grpc.aio.Server,
    address: str,
    flag: str,
    tls: grpc.ServerCredentials | None,
    *,
    insecure: bool = False,
    local: bool = False,
) -> int:
    """Binds `address`; refuses plaintext on an address other machines may reach (`local`:
    one only this host reaches, such as the docker bridge)."""
    if tls is None and not local and not loopback(address):
        if not insecure:
            raise ListenRefused(
                f"{flag} {address} is reachable from other machines: give --tls-cert and"
                " --tls-key, or --insecure to serve it without TLS"
            )
        log.warning(
            "%s %s serves without TLS (--insecure): anyone on the path can read it", flag, address
        )
    try:
        if tls is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, tls)
    except RuntimeError:
        raise ListenRefused(
            f"cannot listen on {address} ({flag}): the address is in use, or not this machine's"
        ) from None


def http_socket(address: str, *, tls: bool, insecure: bool) -> socket.socket:
    """The HTTP API's socket, bound here: a port in use is a clear refusal, as for gRPC."""
    flag = "--http-listen"
    if not tls and not loopback(address):
        if not insecure:
            raise ListenRefused(
                f"{flag} {address} is reachable from other machines: give --tls-cert and"
                " --tls-key, or --insecure to serve it without TLS"
            )
        log.warning("%s %s serves without TLS (--insecure)", flag, address)
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, int(port)))
        sock.listen(128)
    except (OSError, ValueError):
        sock.close()
        raise ListenRefused(
            f"cannot listen on {address} ({flag}): the address is in use, or not this machine's"
        ) from None
    sock.setblocking(False)
    return sock


def loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ListenRefused(RuntimeError):
    """A listener cannot, or may not, be opened."""
