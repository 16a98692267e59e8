"""End to end: a server whose storage fills up loses nothing, says so, and carries on."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LAINO, Server, assert_eventually

LINES = 1_000_000  # 10 MB of output
SCRIPT = f"import sys\nfor i in range({LINES}): sys.stdout.write('%09d\\n' % i)"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 40 MB file system of the home's own (tmpfs: this needs root, as the suite has)."""
    where = tmp_path / "home"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(where)], check=True)
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_holds_a_jobs_output_until_there_is_room_and_loses_none(
    small_disk: Path,
) -> None:
    server = Server(small_disk, **{"log-limit": "1g"})
    server.start()
    try:
        filler = small_disk / "filler"
        room = shutil.disk_usage(small_disk).free - 3 * 2**20
        with open(filler, "wb") as f:
            f.truncate(0)
            f.write(b"\0" * room)  # tmpfs: written, not sparse
        run = subprocess.Popen(
            [LAINO, "job", "run", "--", "python3", "-c", SCRIPT],
            env=server.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert_eventually(lambda: "storage is full" in server.log(), timeout=30)
        full = server.cli("job", "submit", "--", "true")
        assert full.returncode == 1
        said = (
            f"laino: the laino server at {server.address}: its storage is full; try again later\n"
        )
        assert full.stderr == said
        assert run.poll() is None  # the job waits, its output held by its agent
        os.unlink(filler)
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert out == b"".join(b"%09d\n" % i for i in range(LINES))
        assert server.cli("job", "run", "--", "echo", "room again").stdout == "room again\n"
    finally:
        server.stop()
        server.cleanup_workers()
