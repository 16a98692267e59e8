"""Test environments as objects: a real `laino server` process, and a CLI pointed at it."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import grpc
import pytest

from laino.cli.client import ADMIN, RECONNECT, Bearer
from laino.providers.process import ProcessProvider
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.nats import Nats
from tests.postgres import Postgres

LAINO = str(Path(sys.executable).parent / "laino")
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}


# Ports this process handed out already.
HANDED: set[int] = set()


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range (32768 and up here): a port from
    that range can be taken by any outgoing connection (a browser's, an HTTP client's) before
    the server that is to listen on it starts. Never the same port twice in one run."""
    while True:
        port = random.randint(20000, 32000)
        if port in HANDED:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        HANDED.add(port)
        return port


def shared_folder() -> Path:
    """A folder any job can write to: a root server runs process jobs as nobody, who cannot
    enter pytest's own (0700) temporary folders."""
    folder = Path(tempfile.mkdtemp(prefix="laino-test-"))
    folder.chmod(0o1777)
    return folder


def assert_eventually(
    check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        time.sleep(interval)


class Server:
    """A real server process with its own home; restartable on the same port."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, **flags: Any):
        self.home = home
        self.env = {**os.environ, **(env or {})}
        self.address = f"127.0.0.1:{free_port()}"
        # The agent door, on a port of its own.
        self.agent_address = f"127.0.0.1:{free_port()}"
        self.flags = {
            "heartbeat-timeout": 3,
            "register-timeout": 10,
            "agent-listen": self.agent_address,
            # Tests run many jobs side by side on a 2-core machine, whose default would be 2 at
            # once (test_capacity.py tests capacity itself).
            "capacity": "process=64,docker=64",
            **flags,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.tls_ca: Path | None = None
        self._connect(grpc.insecure_channel(self.address, options=RECONNECT))
        self.agent_channel = grpc.insecure_channel(self.agent_address)
        self.workers = rpc.WorkerServiceStub(self.agent_channel)

    def _connect(self, raw: grpc.Channel) -> None:
        self.channel = grpc.intercept_channel(raw, HomeToken(self.home))
        self.jobs = rpc.JobServiceStub(self.channel)
        self.tokens = rpc.TokenServiceStub(self.channel)

    def use_tls(self, ca: Path) -> None:
        """Clients (this object's stubs and its CLIs) verify the server against `ca`."""
        self.tls_ca = ca
        tls = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
        self._connect(grpc.secure_channel(self.address, tls, options=RECONNECT))
        self.agent_channel = grpc.secure_channel(self.agent_address, tls)
        self.workers = rpc.WorkerServiceStub(self.agent_channel)

    def start(self) -> None:
        args = [LAINO, "server", "--home", str(self.home), "--listen", self.address]
        for name, value in self.flags.items():
            args += [f"--{name}"] if value is True else [f"--{name}", str(value)]
        log = open(self.home / "server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=self.env)
        assert_eventually(self._serving, timeout=10)

    def _serving(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log()
        try:
            self.jobs.ListJobs(pb.ListJobsRequest(page_size=1), timeout=1)
            return True
        except grpc.RpcError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        path = self.home / "server.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    @property
    def token(self) -> str:
        """The admin token the server wrote into its home."""
        return (self.home / ADMIN).read_text().strip()

    def environ(self, **extra: str) -> dict[str, str]:
        """A CLI's environment as the user who started the server has it: the same home."""
        tls = {"LAINO_TLS_CA": str(self.tls_ca)} if self.tls_ca else {}
        base = {"LAINO_SERVER": self.address, "LAINO_HOME": str(self.home), **tls}
        return {**os.environ, **base, **extra}

    def cli(
        self, *args: str, timeout: float = 60, check: bool = False, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = self.environ()
        done = subprocess.run(
            [LAINO, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def cli_env(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI with extra environment variables (tracing, say)."""
        done = subprocess.run(
            [LAINO, *args],
            env=self.environ(**env),
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done

    def cli_bytes(
        self, *args: str, stdin: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        """The CLI with its output as bytes, as a job wrote them."""
        return subprocess.run(
            [LAINO, *args], env=self.environ(), input=stdin, capture_output=True, timeout=timeout
        )

    def popen_cli(self, *args: str) -> subprocess.Popen[str]:
        env = self.environ()
        return subprocess.Popen(
            [LAINO, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(
            self.cli("job", "get", job_id, "-o", "json", check=True).stdout
        )
        return result

    def submit(self, *command: str, options: tuple[str, ...] = ()) -> str:
        return self.cli("job", "submit", *options, "--", *command, check=True).stdout.strip()

    def wait_state(self, job_id: str, states: set[str], timeout: float = 20) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job["state"] in states else None

        result: dict[str, Any] = assert_eventually(reached, timeout=timeout, interval=0.1)
        return result

    def worker_pid(self, job_id: str, attempt: int) -> int:
        record = self.home / "workers" / f"laino-{job_id.replace('-', '')[:12]}-{attempt}.json"
        pid: int = assert_eventually(lambda: json.loads(record.read_text())["pid"], timeout=10)
        return pid

    def cleanup_workers(self) -> None:
        provider = ProcessProvider(self.home / "workers", installation="", grace_seconds=0.5)
        for handle in provider.owned():
            provider.destroy(handle)


class HomeToken(Bearer):
    """Calls with the admin token a server wrote into `home`, read once it is there."""

    def __init__(self, home: Path):
        self.home = home
        self.found = ""

    @property  # type: ignore[override]
    def header(self) -> tuple[str, str]:
        if not self.found and (self.home / ADMIN).exists():
            self.found = (self.home / ADMIN).read_text().strip()
        return ("authorization", f"Bearer {self.found}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL cluster for the session, started by the tests; a database per test."""
    cluster = Postgres(free_port())
    yield cluster
    cluster.destroy()


@pytest.fixture
def postgres_url(postgres: Postgres) -> str:
    """A new database, migrated with `laino db migrate`."""
    url = postgres.new_database()
    subprocess.run([LAINO, "db", "migrate", "--database", url], check=True, capture_output=True)
    return url


@pytest.fixture(scope="session")
def nats_server() -> Iterator[Nats]:
    """One NATS server for the session, started by the tests."""
    server = Nats(free_port())
    yield server
    server.destroy()


@pytest.fixture(params=["sqlite", "postgresql+nats"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The core suite runs on the embedded defaults and in production mode."""
    flags = {}
    if request.param == "postgresql+nats":
        flags["database"] = request.getfixturevalue("postgres_url")
        flags["nats"] = request.getfixturevalue("nats_server").url
    running = Server(tmp_path, **flags)
    running.start()
    yield running
    running.stop()
    running.cleanup_workers()


ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="session")
def worker_image() -> str:
    """A running Docker engine and the worker image, made by the project's own scripts."""
    subprocess.run([ROOT / "deploy/docker-engine.sh"], check=True)
    subprocess.run(
        [ROOT / "deploy/worker/build.sh"], check=True, env={**os.environ, "PYTHON": sys.executable}
    )
    return f"laino/worker:{version('laino')}"


def containers(label: str) -> list[str]:
    """Names of the containers, running or not, that carry `label` (KEY=VALUE)."""
    listed = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.fixture
def docker_server(tmp_path: Path, worker_image: str) -> Iterator[Server]:
    """A server whose reconciler sweeps often; every container it made is removed after."""
    running = Server(tmp_path, **{"reconcile-interval": 0.5, "reconcile-grace": 1})
    running.start()
    yield running
    running.stop()
    installation = (tmp_path / "installation").read_text()
    names = containers(f"laino.installation={installation}")
    if names:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)


@contextlib.contextmanager
def cluster(
    root: Path, count: int, *, own_first: bool = False, **flags: Any
) -> Iterator[list[Server]]:
    """`count` servers with the same flags (one database, one NATS), each agent knowing every
    one of them: all in one order, or with `own_first` each server listing itself first, so
    that its workers' agents dial it (docs/production.md). Stopped, and their workers removed,
    after."""
    servers = []
    for n in range(count):
        (root / f"server{n}").mkdir()
        servers.append(Server(root / f"server{n}", **flags))
    addresses = [server.agent_address for server in servers]
    try:
        for n, server in enumerate(servers):
            first = n if own_first else 0
            server.flags["advertise"] = ",".join(addresses[first:] + addresses[:first])
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()
            server.cleanup_workers()


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if marker in cmdline and state != "Z" and int(entry) != os.getpid():
            found.append(int(entry))
    return found
