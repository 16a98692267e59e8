"""End to end: a process job's --memory and --cpu are enforced, and laino says why it ended one."""

from __future__ import annotations

from laino.providers.cgroups import Cgroups, CgroupsUnavailable
from tests.conftest import Server

BUSY = (
    "import os, time\n"
    "end = time.monotonic() + 2\n"
    "while time.monotonic() < end: pass\n"
    "print(round(os.times().user + os.times().system, 2))\n"
)


def _enforced() -> bool:
    try:
        Cgroups.find("probe")
    except CgroupsUnavailable:
        return False
    return True


def test_memory_past_the_limit_ends_the_job_with_the_reason_or_is_refused(server: Server) -> None:
    done = server.cli(
        "job", "run", "--memory", "64m", "--", "python3", "-c", "x = bytearray(200 * 2**20)"
    )
    if _enforced():
        assert done.returncode == 137
        assert "out of memory at its 64 MiB limit" in done.stderr
    else:
        assert done.returncode != 0 and "cannot be enforced" in done.stderr
    assert "laino: job " in done.stderr


def test_cpu_is_held_to_its_share_or_refused(server: Server) -> None:
    done = server.cli("job", "run", "--cpu", "0.25", "--", "python3", "-c", BUSY)
    if _enforced():
        assert done.returncode == 0, done.stderr
        assert float(done.stdout) < 1.0  # 2 s of spinning, at most a quarter of a core
    else:
        assert done.returncode != 0 and "cannot be enforced" in done.stderr


def test_job_run_says_when_laino_ended_the_job(server: Server) -> None:
    done = server.cli("job", "run", "--timeout", "0.5", "--", "sleep", "30")
    assert done.returncode == 124
    assert "laino: job" in done.stderr and "timed out after 0.5 s" in done.stderr
    plain = server.cli("job", "run", "--", "sh", "-c", "exit 3")
    assert plain.returncode == 3 and "laino:" not in plain.stderr
