"""End to end: real `laino server` and `laino job` processes on the embedded defaults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from laino.providers.cgroups import Cgroups, CgroupsUnavailable
from tests.conftest import LAINO, Server, assert_eventually, free_port, processes_with
from tests.door import Door


def test_failing_job_prints_both_streams_and_exits_with_its_code(server: Server) -> None:
    done = server.cli("job", "run", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert done.returncode == 3
    assert done.stdout == "out\n"
    assert "err\n" in done.stderr
    job = server.job(server.cli("job", "list", "-o", "json").stdout.split('"id": "')[1][:36])
    assert (job["state"], job["exit_code"], job["failure_reason"]) == ("FAILED", 3, "user")


def test_successful_job_exits_zero(server: Server) -> None:
    done = server.cli("job", "run", "--", "echo", "hello")
    assert (done.returncode, done.stdout) == (0, "hello\n")


def test_two_followers_each_get_every_line_once_in_order(server: Server) -> None:
    count = 100_000
    job_id = server.submit("python3", "-c", f"for i in range({count}): print(i)")
    followers = [server.popen_cli("job", "logs", "-f", job_id) for _ in range(2)]
    for follower in followers:
        out, err = follower.communicate(timeout=120)
        assert follower.returncode == 0, err
        assert out.splitlines() == [str(i) for i in range(count)]
    assert server.job(job_id)["state"] == "SUCCEEDED"


def test_logs_of_a_finished_job_are_complete_and_return_promptly(server: Server) -> None:
    assert server.cli("job", "run", "--", "seq", "1", "5000").returncode == 0
    job_id = server.cli("job", "list", "-o", "json").stdout.split('"id": "')[1][:36]
    started = time.monotonic()
    done = server.cli("job", "logs", job_id, timeout=10)
    assert done.stdout.splitlines() == [str(i) for i in range(1, 5001)]
    assert time.monotonic() - started < 5
    tail = server.cli("job", "logs", "--tail", "3", job_id)
    assert tail.stdout.splitlines() == ["4998", "4999", "5000"]


def test_follower_that_joins_while_the_job_runs_misses_nothing(server: Server) -> None:
    job_id = server.submit("sh", "-c", "for i in $(seq 1 20); do echo $i; sleep 0.05; done")
    time.sleep(0.6)
    done = server.cli("job", "logs", "-f", job_id)
    assert done.stdout.splitlines() == [str(i) for i in range(1, 21)]


def test_cancel_stops_every_process_of_the_job(server: Server) -> None:
    marker = "sleep 4242"
    job_id = server.submit("sh", "-c", f"{marker} & {marker}; wait")
    server.wait_state(job_id, {"RUNNING"})
    assert_eventually(lambda: len(processes_with(marker)) >= 3)  # sh and its two sleeps
    server.cli("job", "cancel", job_id, check=True)
    job = server.wait_state(job_id, {"CANCELLED", "FAILED", "SUCCEEDED", "TIMED_OUT"})
    assert job["state"] == "CANCELLED"
    assert_eventually(lambda: processes_with(marker) == [], timeout=10)


def test_job_run_exits_130_when_cancelled(server: Server) -> None:
    run = server.popen_cli("job", "run", "--", "sleep", "4243")
    running = '"state": "RUNNING"'
    assert_eventually(lambda: running in server.cli("job", "list", "-o", "json").stdout)
    job_id = server.cli("job", "list", "-o", "json").stdout.split('"id": "')[1][:36]
    server.cli("job", "cancel", job_id, check=True)
    assert run.wait(timeout=20) == 130


def test_job_past_its_timeout_is_timed_out_and_its_processes_are_gone(server: Server) -> None:
    done = server.cli("job", "run", "--timeout", "1", "--", "sh", "-c", "echo started; sleep 4244")
    assert done.returncode == 124
    assert "started" in done.stdout
    job_id = server.cli("job", "list", "-o", "json").stdout.split('"id": "')[1][:36]
    assert server.job(job_id)["state"] == "TIMED_OUT"
    assert_eventually(lambda: processes_with("sleep 4244") == [], timeout=10)


def test_same_idempotency_key_gives_one_job(server: Server) -> None:
    first = server.submit("echo", "once", options=("--key", "build-42"))
    second = server.submit("echo", "once", options=("--key", "build-42"))
    assert first == second
    assert len(server.cli("job", "list", "-o", "json").stdout.split('"id"')) == 2
    other = server.cli("job", "submit", "--key", "build-42", "--", "echo", "different")
    assert other.returncode == 1 and "different job" in other.stderr


def test_list_filters_by_state_and_label(server: Server) -> None:
    server.cli("job", "run", "-l", "team=a", "--", "true", check=True)
    server.cli("job", "run", "-l", "team=b", "--", "false")
    team_a = server.cli("job", "list", "-l", "team=a", "-o", "json").stdout
    failed = server.cli("job", "list", "--state", "FAILED", "-o", "json").stdout
    assert team_a.count('"id"') == 1 and '"SUCCEEDED"' in team_a
    assert failed.count('"id"') == 1 and '"team": "b"' in failed
    time.sleep(1.5)
    newest = server.submit("true")
    recent = json.loads(server.cli("job", "list", "--since", "1s", "-o", "json").stdout)
    assert [job["id"] for job in recent] == [newest]
    assert server.cli("job", "list", "--since", "someday").returncode == 2


def test_job_events_tell_the_whole_story(server: Server) -> None:
    server.cli("job", "run", "--", "true", check=True)
    job_id = server.cli("job", "list", "-o", "json").stdout.split('"id": "')[1][:36]
    events = server.cli("job", "events", job_id, check=True).stdout
    for name in (
        "Submitted",
        "StepBegun",
        "Registered",
        "Started",
        "Ended",
        "Terminated",
        "Finished",
    ):
        assert name in events
    workers = server.cli("worker", "list", "--all", check=True).stdout
    assert "TERMINATED" in workers
    live = server.cli("worker", "list", check=True).stdout  # live workers only, by default
    assert live.splitlines() == ["ID  JOB  ATTEMPT  STATE  PROVIDER  AGE  MESSAGE"]
    ended = server.cli("worker", "list", "--state", "terminated", "--limit", "1", "-o", "json")
    assert [w["state"] for w in json.loads(ended.stdout)] == ["TERMINATED"]
    bad = server.cli("worker", "list", "--state", "GONE")
    assert bad.returncode == 2 and "'GONE' is not one of" in bad.stderr


def test_fast_producer_that_exits_at_once_loses_no_line(server: Server) -> None:
    # seq finishes long before the agent has read its pipe: reading must go on to the end.
    done = server.cli("job", "run", "--", "seq", "1", "400000", timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 400_000 and lines[-1] == "400000"


def test_background_child_holding_the_pipe_does_not_hold_the_job(server: Server) -> None:
    started = time.monotonic()
    done = server.cli("job", "run", "--", "sh", "-c", "sleep 4248 & echo parent done")
    assert (done.returncode, done.stdout) == (0, "parent done\n")
    assert time.monotonic() - started < 10
    assert_eventually(lambda: processes_with("sleep 4248") == [], timeout=10)


def test_ctrl_c_on_job_run_cancels_the_job_and_shows_how_it_ended(server: Server) -> None:
    run = server.popen_cli("job", "run", "--", "sh", "-c", "echo up; sleep 4249")
    assert run.stdout is not None
    assert run.stdout.readline() == "up\n"
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=20) == 130
    assert "cancelling job" in run.stderr.read()  # type: ignore[union-attr]
    job_id = server.cli("job", "list", "-o", "json").stdout.split('"id": "')[1][:36]
    assert server.job(job_id)["state"] == "CANCELLED"
    assert_eventually(lambda: processes_with("sleep 4249") == [], timeout=10)


def test_ctrl_c_on_logs_follow_stops_following_quietly_and_leaves_the_job_running(
    server: Server,
) -> None:
    job_id = server.cli("job", "submit", "--", "sh", "-c", "echo up; sleep 4247").stdout.strip()
    follow = server.popen_cli("job", "logs", "-f", job_id)
    assert follow.stdout is not None and follow.stderr is not None
    assert follow.stdout.readline() == "up\n"
    follow.send_signal(signal.SIGINT)
    assert follow.wait(timeout=10) == 130
    assert follow.stderr.read() == ""
    assert server.job(job_id)["state"] == "RUNNING"
    server.cli("job", "cancel", job_id)
    assert server.wait_state(job_id, {"CANCELLED"})["state"] == "CANCELLED"
    assert_eventually(lambda: processes_with("sleep 4247") == [], timeout=10)


def test_ctrl_c_again_detaches_while_the_job_is_being_stopped(server: Server) -> None:
    # The job ignores SIGTERM: stopping it takes the cancel's whole grace period.
    run = server.popen_cli("job", "run", "--", "sh", "-c", "trap '' TERM; echo up; sleep 4248")
    job_id = _interrupted_twice(run)
    assert server.wait_state(job_id, {"CANCELLED"})["state"] == "CANCELLED"
    assert_eventually(lambda: processes_with("sleep 4248") == [], timeout=10)


def test_ctrl_c_again_detaches_a_cli_started_with_sigint_ignored(server: Server) -> None:
    # A script's background job inherits SIGINT ignored: the CLI lost a second Ctrl-C that came
    # just after its "cancelling" message in about a third of tries on a loaded machine.
    for n in range(5):
        command = ["job", "run", "--", "sh", "-c", f"trap '' TERM; echo up; sleep 426{n}"]
        ignoring = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', LAINO, *command]
        run = subprocess.Popen(
            ignoring,
            env=server.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _interrupted_twice(run)


def _interrupted_twice(run: subprocess.Popen[str]) -> str:
    """Ctrl-C, then Ctrl-C again once the CLI says it is cancelling; the job's id."""
    assert run.stdout is not None and run.stderr is not None
    assert run.stdout.readline() == "up\n"
    run.send_signal(signal.SIGINT)
    said = run.stderr.readline()
    assert said.startswith("laino: cancelling job") and "Ctrl-C again to detach" in said
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=10) == 130
    assert "laino: detached; see `laino job get" in run.stderr.read()
    return said.split()[3]


def test_a_process_that_leaves_the_jobs_session_ends_with_its_worker(server: Server) -> None:
    # setsid puts the sleeper in a session of its own, out of the agent's: only the worker's
    # control group still holds it (where the machine has none, laino cannot follow it).
    if not _groups_usable():
        pytest.skip("no usable control groups here: a process that leaves its session escapes")
    marker = "sleep 4245"
    try:
        server.cli("job", "run", "--", "sh", "-c", f"setsid {marker} >/dev/null 2>&1 &", check=True)
        assert_eventually(lambda: processes_with(marker) == [], timeout=15)
    finally:
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)


def _groups_usable() -> bool:
    try:
        Cgroups.find("probe")
    except CgroupsUnavailable:
        return False
    return True


def test_a_cli_whose_connection_goes_silent_follows_its_job_again_on_a_new_one(
    tmp_path: Path,
) -> None:
    # The CLI reaches the server through a door that goes silent once the job has been quiet a
    # while, as a connection does when a load balancer fails over or a NAT forgets it: nothing
    # is refused or closed. New connections through it work.
    server = Server(tmp_path)
    server.start()
    door = Door(free_port())
    door.open(server.address)
    try:
        command = [LAINO, "job", "run", "--", "sh", "-c", "echo begin; sleep 30; echo end"]
        env = server.environ(LAINO_SERVER=door.address)
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        assert run.stdout is not None
        assert run.stdout.readline() == "begin\n"
        time.sleep(12)  # quiet: the CLI's connection carries nothing but its keepalive
        door.freeze()
        door.open(server.address)
        # Before: the CLI waited on the silent connection for good, the job long ended.
        assert run.wait(timeout=60) == 0
        assert run.stdout.read() == "end\n"
    finally:
        door.close()
        server.stop()
        server.cleanup_workers()
