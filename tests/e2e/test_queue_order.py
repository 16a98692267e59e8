"""End to end: the order queued jobs go in: priorities, turns between submitters, and
concurrency groups."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.conftest import Server, assert_eventually

ENDED = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}


@pytest.fixture
def one_at_a_time(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "home", capacity="process=1")
    (tmp_path / "home").mkdir()
    server.start()
    yield server
    server.stop()
    server.cleanup_workers()


def _journal(tmp_path: Path) -> Path:
    """A file each job adds its name to as it starts. Not under pytest's folders, which a job
    (run as nobody by a root server) cannot enter."""
    journal = Path(tempfile.mkdtemp(prefix="laino-journal-")) / "started"
    journal.parent.chmod(0o755)
    journal.touch()
    journal.chmod(0o666)
    return journal


def _noting(journal: Path, name: str, then: str = "true") -> list[str]:
    return ["sh", "-c", f"echo {name} >> {journal}; {then}"]


def _started(journal: Path) -> list[str]:
    return journal.read_text().split()


def test_a_higher_priority_job_runs_before_fifty_queued_ones(
    one_at_a_time: Server, tmp_path: Path
) -> None:
    server, journal = one_at_a_time, _journal(tmp_path)
    blocker = server.submit(*_noting(journal, "blocker", "sleep 60"))
    server.wait_state(blocker, {"RUNNING"})
    for n in range(50):
        spec = pb.JobSpec(command=_noting(journal, f"low-{n}"))
        server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec))
    urgent = server.submit(*_noting(journal, "urgent"), options=("--priority", "10"))
    assert server.job(urgent)["queue_position"] == 1  # first in line, though last in
    listed = server.cli("job", "list", "--state", "QUEUED", "--limit", "2", check=True).stdout
    assert "QUEUED #1" in listed and "QUEUED #51" in listed  # the newest low one is last
    server.cli("job", "cancel", blocker, check=True)
    server.wait_state(urgent, ENDED, timeout=60)
    assert _started(journal)[:2] == ["blocker", "urgent"]


def test_a_priority_out_of_range_is_refused(one_at_a_time: Server) -> None:
    done = one_at_a_time.cli("job", "submit", "--priority", "5000", "--", "true")
    assert done.returncode == 1
    assert "spec.priority: the priority must be from -1000 to 1000" in done.stderr


def test_one_submitters_single_job_goes_within_a_round_of_anothers_hundred(
    tmp_path: Path,
) -> None:
    (tmp_path / "home").mkdir()
    server = Server(tmp_path / "home", capacity="process=4")
    server.start()
    journal = _journal(tmp_path)
    try:
        secrets = {}
        for name in ("batch", "single"):
            request = pb.CreateTokenRequest(name=name, role="submit")
            secrets[name] = server.tokens.CreateToken(request).secret
        channel = grpc.insecure_channel(server.address)
        jobs = rpc.JobServiceStub(channel)

        def submit(token: str, name: str) -> str:
            spec = pb.JobSpec(command=_noting(journal, name, "sleep 1"))
            auth = [("authorization", f"Bearer {token}")]
            return str(jobs.SubmitJob(pb.SubmitJobRequest(spec=spec), metadata=auth).job.id)

        for n in range(100):
            submit(secrets["batch"], f"batch-{n}")
        before = len(_started(journal))
        single = submit(secrets["single"], "single")
        server.wait_state(single, ENDED, timeout=60)
        order = _started(journal)
        # The next room that frees is its: at most one round of four goes before it.
        assert order.index("single") <= before + 4, (before, order)
        assert len(order) < 50  # the batch is far from done
        channel.close()
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_concurrency_group_runs_its_jobs_one_at_a_time_in_order(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    server = Server(tmp_path / "home", capacity="process=8")
    server.start()
    journal = _journal(tmp_path)
    try:
        # Each job notes its start and, a moment later, its end: in a group of one, no two
        # jobs' notes interleave. The first holds the group until the test lets it go, so the
        # others queue behind it however slowly they are submitted.
        release = journal.parent / "release"
        hold = f"while [ ! -e {release} ]; do sleep 0.05; done; echo end-0 >> {journal}"
        ids = [
            server.submit(
                *_noting(
                    journal,
                    f"start-{n}",
                    hold if n == 0 else f"sleep 0.3; echo end-{n} >> {journal}",
                ),
                options=("--concurrency", "deploy"),
            )
            for n in range(10)
        ]
        other = server.submit(*_noting(journal, "other"))
        server.wait_state(other, ENDED, timeout=30)
        release.touch()
        jobs = [server.wait_state(job_id, ENDED, timeout=60) for job_id in ids]
        assert [job["state"] for job in jobs] == ["SUCCEEDED"] * 10
        order = [name for name in _started(journal) if name != "other"]
        assert order == [f"{what}-{n}" for n in range(10) for what in ("start", "end")]
        # The group waited; the job outside it did not.
        assert _started(journal).index("other") < _started(journal).index("end-0")
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_group_of_two_runs_two_at_once(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    server = Server(tmp_path / "home", capacity="process=8")
    server.start()
    try:
        ids = [server.submit("sleep", "30", options=("--concurrency", "pair=2")) for _ in range(3)]
        server.wait_state(ids[0], {"RUNNING"})
        server.wait_state(ids[1], {"RUNNING"})
        assert server.job(ids[2])["state"] == "QUEUED"
        server.cli("job", "cancel", ids[0], check=True)
        server.wait_state(ids[2], {"RUNNING"}, timeout=30)
        for job_id in ids[1:]:
            server.cli("job", "cancel", job_id, check=True)
    finally:
        server.stop()
        server.cleanup_workers()


def test_cancel_in_progress_leaves_only_the_newest_running(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    server = Server(tmp_path / "home", capacity="process=8")
    server.start()
    try:
        group = ("--concurrency", "deploy", "--cancel-in-progress")
        first = server.submit("sleep", "30", options=group)
        server.wait_state(first, {"RUNNING"})
        second = server.submit("sleep", "30", options=group)
        third = server.submit("sleep", "30", options=group)
        server.wait_state(third, {"RUNNING"}, timeout=30)
        assert server.wait_state(first, ENDED)["state"] == "CANCELLED"
        assert server.wait_state(second, ENDED)["state"] == "CANCELLED"
        why = server.cli("job", "logs", first).stderr  # the second, or the third, took over
        assert why in (
            f"laino: cancelled: job {newer} replaces it in its group\n" for newer in (second, third)
        )
        assert server.job(third)["state"] == "RUNNING"
        server.cli("job", "cancel", third, check=True)
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_bad_concurrency_option_is_a_clear_error(one_at_a_time: Server) -> None:
    done = one_at_a_time.cli("job", "submit", "--concurrency", "deploy=0", "--", "true")
    assert done.returncode == 2
    assert "'0' is not a number of jobs" in done.stderr
    alone = one_at_a_time.cli("job", "submit", "--cancel-in-progress", "--", "true")
    assert alone.returncode == 1
    assert "spec.concurrency: a limit or cancel-in-progress needs a group" in alone.stderr
    assert_eventually(lambda: one_at_a_time.cli("job", "list").stdout.count("\n") <= 1)


def test_a_job_asking_for_two_cpus_takes_two_places_and_is_not_passed_by_smaller_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "home").mkdir()
    server = Server(tmp_path / "home", capacity="process=2")
    server.start()
    try:
        small = server.submit("sleep", "30")
        server.wait_state(small, {"RUNNING"})
        big = server.submit("sleep", "30", options=("--cpu", "2"))
        later = server.submit("sleep", "30")
        time.sleep(3)  # a pass or two: one place is free, but the big job is first in line
        assert server.job(big)["state"] == "QUEUED"
        assert server.job(later)["state"] == "QUEUED"
        server.cli("job", "cancel", small, check=True)
        server.wait_state(big, {"RUNNING"}, timeout=30)
        time.sleep(3)
        assert server.job(later)["state"] == "QUEUED"  # the big job takes both places
        server.cli("job", "cancel", big, check=True)
        server.wait_state(later, {"RUNNING"}, timeout=30)
        server.cli("job", "cancel", later, check=True)
    finally:
        server.stop()
        server.cleanup_workers()
