"""End to end: `laino schedule` on a real server: jobs fire on time, once each, and say whence."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from tests.conftest import Server, assert_eventually


def _get(server: Server, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        server.cli("schedule", "get", name, "-o", "json", check=True).stdout
    )
    return found


def _jobs_of(server: Server, name: str) -> list[dict[str, Any]]:
    done = server.cli("job", "list", "-l", f"laino.schedule={name}", "-o", "json", check=True)
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def test_a_schedule_fires_every_two_seconds_each_fire_once(server: Server) -> None:
    made = server.cli(
        "schedule", "create", "tick", "--every", "2s", "--overlap", "allow", "--", "echo", "hi"
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("schedule tick: every 2s; next ")
    created = _get(server, "tick")["created_at"]
    time.sleep(max(0.0, created + 10.5 - time.time()))
    server.cli("schedule", "pause", "tick", check=True)
    runs = _get(server, "tick")["runs"]
    fired = [run for run in runs if run.get("job_id")]
    offsets = [round(run["fire_time"] - created, 3) for run in fired]
    assert offsets[:5] == [2.0, 4.0, 6.0, 8.0, 10.0]
    jobs = _jobs_of(server, "tick")
    assert sorted(job["id"] for job in jobs) == sorted(run["job_id"] for run in fired)
    job = server.wait_state(fired[0]["job_id"], {"SUCCEEDED"})
    assert job["spec"]["labels"] == {"laino.schedule": "tick"}
    assert server.cli("job", "logs", job["id"]).stdout == "hi\n"


def test_schedule_commands_list_get_trigger_pause_resume_and_delete(server: Server) -> None:
    server.cli(
        "schedule",
        "create",
        "nightly",
        "--cron",
        "30 2 * * *",
        "--timezone",
        "Europe/Madrid",
        "-l",
        "team=web",
        "--",
        "sh",
        "-c",
        "echo nightly",
        check=True,
    )
    listed = server.cli("schedule", "list", check=True).stdout.splitlines()
    assert listed[0].split() == ["NAME", "WHEN", "NEXT", "COMMAND"]
    assert listed[1].startswith("nightly  cron '30 2 * * *' (Europe/Madrid)  ")
    found = _get(server, "nightly")
    assert len(found["next_fires"]) == 5
    assert (found["catchup"], found["overlap"]) == ("last", "skip")
    shown = server.cli("schedule", "get", "nightly", check=True).stdout
    assert "T02:30:00+0" in shown  # next fires on Madrid's clock
    job_id = server.cli("schedule", "trigger", "nightly", check=True).stdout.strip()
    assert server.wait_state(job_id, {"SUCCEEDED"})["spec"]["labels"] == {
        "team": "web",
        "laino.schedule": "nightly",
    }
    assert _get(server, "nightly")["runs"][-1]["what"] == "triggered"
    assert server.cli("schedule", "pause", "nightly", check=True).stdout == (
        "schedule nightly paused\n"
    )
    paused = _get(server, "nightly")
    assert paused["paused"] and "next_fires" not in paused
    server.cli("schedule", "resume", "nightly", check=True)
    assert len(_get(server, "nightly")["next_fires"]) == 5
    again = server.cli("schedule", "create", "nightly", "--every", "1h", "--", "true")
    assert again.returncode == 1
    assert "schedule 'nightly' exists: delete it first" in again.stderr
    server.cli("schedule", "delete", "nightly", check=True)
    assert server.cli("schedule", "list", check=True).stdout.splitlines()[1:] == []
    gone = server.cli("schedule", "get", "nightly")
    assert gone.returncode == 1 and "no schedule 'nightly'" in gone.stderr
    # A deleted schedule's name can be used again; its jobs keep their history.
    server.cli("schedule", "create", "nightly", "--every", "1h", "--", "true", check=True)
    assert server.job(job_id)["state"] == "SUCCEEDED"


def test_bad_schedules_are_clear_errors_and_make_nothing(server: Server) -> None:
    cases = [
        (["--cron", "61 * * * *"], 1, "cron: '61 * * * *' is not a cron expression"),
        (["--cron", "0 2 * * *", "--timezone", "Mars/Olympus"], 1, "unknown time zone"),
        (["--every", "0.5s"], 1, "every: an interval from 1s to 366 days"),
        (["--every", "soon"], 2, "'soon' is not a duration"),
        (["--every", "1m", "--cron", "* * * * *"], 2, "give --cron or --every, not both"),
        ([], 2, "Error: give --cron or --every\n"),
        (["--every", "0s"], 2, "Invalid value for --every: an interval of at least 1s"),
        (["--every", "1m", "--secret", "A=b"], 2, "--secret: a schedule's jobs take none"),
        (["--every", "1m", "--catchup", "some"], 2, "'some' is not one of"),
    ]
    for options, code, said in cases:
        done = server.cli("schedule", "create", "bad", *options, "--", "true")
        assert (done.returncode, said in done.stderr) == (code, True), (options, done.stderr)
    named = server.cli("schedule", "create", "no good", "--every", "1m", "--", "true")
    assert named.returncode == 1 and "name: 'no good'" in named.stderr
    assert server.cli("schedule", "list", check=True).stdout.splitlines()[1:] == []


def test_catchup_last_fires_once_for_what_was_missed_while_no_server_ran(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path)
    server.start()
    try:
        server.cli(
            "schedule", "create", "tick", "--every", "2s", "--catchup", "last", "--", "true",
            check=True,
        )  # fmt: skip
        server.stop()
        stopped = time.time()
        time.sleep(10)
        server.start()
        restarted = time.time()

        def runs() -> list[dict[str, Any]]:
            found = _get(server, "tick")["runs"]
            return found if any(run["fire_time"] > restarted for run in found) else []

        found = assert_eventually(runs, timeout=20)
        # In fire order since the stop: the missed fires said as one, then the last of them run,
        # then the regular ones (a slow start may already have run one of those).
        since = sorted((r for r in found if r["fire_time"] > stopped), key=lambda r: r["fire_time"])
        (skipped,) = [run for run in since if not run.get("job_id")]
        said = re.fullmatch(
            r"missed (\d+) fire\(s\) while no server ran \(--catchup last\)", skipped["what"]
        )
        assert said and int(said[1]) >= 3, skipped  # about 10 s at one fire each 2 s
        assert since.index(skipped) == 0, since  # none of the missed fires ran but the last
        caught_up = since[1]
        assert caught_up.get("job_id") and caught_up["fire_time"] < restarted, since
        assert caught_up["fire_time"] > skipped["fire_time"]  # the last one missed is the one run
    finally:
        server.stop()
        server.cleanup_workers()
