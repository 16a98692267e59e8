"""`laino tls init`: a CA and a server certificate for a quick start, as `nomad tls` makes."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from pathlib import Path

import click

# What local clients and agents dial: loopback, and containers' name for the host.
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1", "host.docker.internal")


@click.group()
def tls() -> None:
    """TLS certificates for the server, its clients and its agents."""


@tls.command()
@click.option("--host", "hosts", multiple=True, help="A name or address clients dial (repeat).")
@click.option("--dir", "folder", default=".", show_default=True, type=click.Path(file_okay=False))
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
def init(hosts: tuple[str, ...], folder: str, days: int) -> None:
    """Make ca.pem, server.pem and server-key.pem (the keys readable by you alone)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    targets = {"ca.pem", "ca-key.pem", "server.pem", "server-key.pem"}
    if existing := sorted(name for name in targets if (out / name).exists()):
        raise click.ClickException(f"{', '.join(existing)} exist in {out}: remove them first")
    now = datetime.datetime.now(datetime.UTC)
    until = now + datetime.timedelta(days=days)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("laino CA"))
        .issuer_name(name("laino CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    every = dict.fromkeys([*DEFAULT_HOSTS, socket.gethostname(), *hosts])
    names: list[x509.GeneralName] = []
    for host in every:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("laino server"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    private = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    _write(out / "ca.pem", ca.public_bytes(pem), 0o644)
    _write(out / "ca-key.pem", ca_key.private_bytes(pem, private, plain), 0o600)
    _write(out / "server.pem", cert.public_bytes(pem), 0o644)
    _write(out / "server-key.pem", key.private_bytes(pem, private, plain), 0o600)
    click.echo(f"wrote ca.pem, ca-key.pem, server.pem and server-key.pem to {out}")
    click.echo(f"names in server.pem: {', '.join(every)}")
    click.echo(
        f"  laino server --tls-cert {out}/server.pem --tls-key {out}/server-key.pem"
        f" --tls-ca {out}/ca.pem\n  export LAINO_TLS_CA={out}/ca.pem"
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Created with its mode: a key is never readable by others, even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
