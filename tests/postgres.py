"""A throwaway PostgreSQL cluster, started by the tests themselves, with a database per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psycopg

from laino.orchestrator.cluster.partitions import PARTITION
from tests.partition import cut_off

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*args: str) -> None:
    # initdb and the server refuse to run as root.
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)


class Postgres:
    """initdb in a temporary folder, a server on a free port, trust auth on loopback only."""

    def __init__(self, port: int, root: Path | None = None):
        _install()
        self.port = port
        # pytest's tmp folders are 0700 root: the postgres user could not reach a cluster there.
        self.root = root or Path(tempfile.mkdtemp(prefix="laino-pg-"))
        self.root.chmod(0o755)
        shutil.chown(self.root, "postgres")
        self.data = self.root / "data"
        _as_postgres(
            str(BIN / "initdb"), "--no-sync", "-A", "trust", "-U", "postgres", "-D", str(self.data)
        )
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "server.log")
        _as_postgres(
            str(BIN / "pg_ctl"), "-w", "-D", str(self.data), "-l", log, "-o", options, "start"
        )

    def stop(self, mode: str = "fast") -> None:
        _as_postgres(str(BIN / "pg_ctl"), "-w", "-D", str(self.data), "-m", mode, "stop")

    @contextmanager
    def away(self) -> Iterator[None]:
        """Stopped for the block, and started again however it ends: later tests share it."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def unreachable(self) -> AbstractContextManager[None]:
        """Running, but cut off from this host's processes for the block (TCP only: its Unix
        socket still answers), as in a network partition."""
        return cut_off(self.port)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"laino_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _install() -> None:
    """The server binaries, from Debian's packages, on a machine that has only the client."""
    if not (BIN / "initdb").exists():
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "postgresql-15"],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


def partition_shares(url: str) -> list[int]:
    """How many sagas' partitions each server's session holds there, most first."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND classid = %s AND objsubid = 2 AND granted GROUP BY pid",
            (PARTITION,),
        ).fetchall()
    return sorted((count for (count,) in rows), reverse=True)
