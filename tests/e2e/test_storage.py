"""End to end: a server whose storage fills up loses nothing, says so, and carries on."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import LAINO, Server, assert_eventually, free_port
from tests.disks import fill, small_disk
from tests.postgres import Postgres

LINES = 1_000_000  # 10 MB of output
SCRIPT = f"import sys\nfor i in range({LINES}): sys.stdout.write('%09d\\n' % i)"


def test_a_full_home_holds_a_jobs_output_until_there_is_room_and_loses_none(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "home", "40m") as home:
        server = Server(home, **{"log-limit": "1g"})
        _held_until_room(server, home, refuses=True)


def test_a_full_postgresql_holds_a_jobs_output_until_there_is_room_and_loses_none(
    tmp_path: Path,
) -> None:
    # Not under pytest's folders, which the postgres user cannot enter.
    with small_disk(Path(tempfile.mkdtemp(prefix="laino-pg-full-")) / "pg", "120m") as disk:
        database = Postgres(free_port(), root=disk)
        try:
            url = database.new_database()
            subprocess.run([LAINO, "db", "migrate", "--database", url], check=True)
            (tmp_path / "home").mkdir()
            server = Server(tmp_path / "home", database=url, **{"log-limit": "1g"})
            # PostgreSQL may find room for a job in a page it has already.
            _held_until_room(server, disk, refuses=False)
        finally:
            database.destroy()


def _held_until_room(server: Server, disk: Path, *, refuses: bool) -> None:
    server.start()
    try:
        filler = fill(disk, leave=3 * 2**20)
        run = subprocess.Popen(
            [LAINO, "job", "run", "--", "python3", "-c", SCRIPT],
            env=server.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert_eventually(lambda: "storage is full" in server.log(), timeout=30)
        full = server.cli("job", "submit", "--", "true")
        said = f"the laino server at {server.address}: its storage is full; try again later"
        if refuses or full.returncode:  # a call that needs room is refused saying why
            assert full.stderr == f"laino: {said}\n", full.stderr
        assert run.poll() is None  # the job waits, its output held by its agent
        assert "Traceback" not in server.log()
        os.unlink(filler)
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert out == b"".join(b"%09d\n" % i for i in range(LINES))
        assert server.cli("job", "run", "--", "echo", "room again").stdout == "room again\n"
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_second_server_on_a_home_in_use_refuses_to_start(tmp_path: Path) -> None:
    first = Server(tmp_path)
    first.start()
    try:
        job_id = first.submit("true")
        command = [LAINO, "server", "--home", str(tmp_path)]
        command += ["--listen", f"127.0.0.1:{free_port()}", "--agent-listen", "127.0.0.1:0"]
        second = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert f"another laino server uses {tmp_path}" in second.stderr
        assert "Traceback" not in second.stderr
        # The first goes on as it was.
        assert first.wait_state(job_id, {"SUCCEEDED"})["state"] == "SUCCEEDED"
    finally:
        first.stop()
        first.cleanup_workers()
