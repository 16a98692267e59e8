"""TLS: the CLI and the agents verify the server; plaintext only where nobody else listens."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LAINO, Server, free_port


def _tls_init(folder: Path) -> Path:
    subprocess.run([LAINO, "tls", "init", "--dir", str(folder)], check=True, capture_output=True)
    return folder


@pytest.fixture
def tls(tmp_path: Path) -> Path:
    return _tls_init(tmp_path / "tls")


def _tls_server(home: Path, tls: Path, ca: Path, **flags: object) -> Server:
    home.mkdir()
    server = Server(
        home,
        **{
            "tls-cert": tls / "server.pem",
            "tls-key": tls / "server-key.pem",
            "tls-ca": ca,
            **flags,
        },
    )
    server.use_tls(tls / "ca.pem")
    return server


@pytest.fixture
def tls_server(tmp_path: Path, tls: Path, worker_image: str) -> Iterator[Server]:
    server = _tls_server(tmp_path / "home", tls, tls / "ca.pem")
    server.start()
    yield server
    server.stop()
    server.cleanup_workers()


def test_the_cli_verifies_the_server(tls_server: Server, tmp_path: Path) -> None:
    done = tls_server.cli("job", "run", "--", "echo", "private")
    assert (done.returncode, done.stdout) == (0, "private\n"), done.stderr
    other = _tls_init(tmp_path / "other")
    wrong = tls_server.cli_env({"LAINO_TLS_CA": str(other / "ca.pem")}, "job", "list")
    assert wrong.returncode == 1
    assert wrong.stderr.splitlines() == [
        f"laino: the server at {tls_server.address} did not prove its identity: its certificate"
        " is not signed by LAINO_TLS_CA, or does not name this address"
    ]


def test_a_docker_agent_verifies_the_server(tls_server: Server) -> None:
    done = tls_server.cli("job", "run", "--provider", "docker", "--", "echo", "contained")
    assert (done.returncode, done.stdout) == (0, "contained\n"), done.stderr


def test_an_agent_given_another_ca_refuses_the_server(
    tmp_path: Path, tls: Path, worker_image: str
) -> None:
    other = _tls_init(tmp_path / "other")
    server = _tls_server(tmp_path / "home", tls, other / "ca.pem", **{"register-timeout": 4})
    server.start()
    try:
        options = ("--provider", "docker", "--max-attempts", "1")
        done = server.cli("job", "run", *options, "--", "echo", "never")
        assert done.returncode == 125, done.stderr
        assert "never" not in done.stdout
        assert "did not register" in done.stderr
    finally:
        server.stop()


def test_a_listener_other_machines_reach_needs_tls_or_insecure(tmp_path: Path) -> None:
    address = f"0.0.0.0:{free_port()}"
    refused = subprocess.run(
        [LAINO, "server", "--home", str(tmp_path), "--listen", address],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"Error: --listen {address} is reachable from other machines: give --tls-cert and"
        " --tls-key, or --insecure to serve it without TLS"
    )
    server = Server(tmp_path, insecure=True)
    server.flags["listen"] = "0.0.0.0:" + server.address.rsplit(":", 1)[1]  # after its own
    server.start()
    try:
        assert "serves without TLS (--insecure)" in server.log()
    finally:
        server.stop()
