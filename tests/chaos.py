"""`just chaos`: faults injected into real servers, agents and containers, then every invariant
checked, and the figures printed as a table. `python -m tests.chaos [ROUNDS]`.

Each job writes a mark per run into a shared folder, then numbered lines, then exits with a
code of its own. After the faults, and once every job ended:
- wrong outcome: a job's state or exit code is not what its command did;
- re-run without cause: more runs than attempts, or a second attempt with no worker lost;
- lost lines: a run that printed fewer lines than the last attempt had to, or out of order;
- leaked workers: an agent, a job's process or a container still there;
- open sagas: a job whose saga never finished;
- replay: the event store, read afresh, says another state than the server.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from laino.orchestrator.apps import JobsApp
from laino.orchestrator.store.database import Database
from laino.providers.process import ProcessProvider
from laino.v1 import laino_pb2 as pb
from tests.conftest import (
    LAINO,
    TERMINAL,
    Server,
    containers,
    free_port,
    processes_with,
    shared_folder,
)
from tests.disks import fill, small_disk
from tests.nats import Nats
from tests.postgres import Postgres

LINES = 20
# Points of a saga step where LAINO_FAULT makes the server die (orchestrator/faults.py).
CRASH_POINTS = [
    "provision_worker:before",
    "provision_worker:after",
    "dispatch_job:before",
    "dispatch_job:after",
    "destroy_worker:before",
    "destroy_worker:after",
    "finish:before",
]
# The reconciler sweeps often, so that what it must remove is gone before the checks.
SWEEP = {"reconcile-interval": 1, "reconcile-grace": 2}
COLUMNS = ["faults", "jobs", "wrong outcome", "re-run without cause", "lost lines", "leaked"]


@dataclass
class Tally:
    faults: int = 0
    jobs: int = 0
    wrong: int = 0
    reran: int = 0
    lost: int = 0
    leaked: int = 0
    open_sagas: int = 0
    replay: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("faults", "jobs", "wrong", "reran", "lost", "leaked", "open_sagas", "replay"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.notes += other.notes

    @property
    def clean(self) -> bool:
        return not (
            self.wrong or self.reran or self.lost or self.leaked or self.open_sagas or self.replay
        )


class Chaos:
    """One server (restartable), its jobs, and the checks."""

    def __init__(self, root: Path, **flags: Any):
        root.mkdir(parents=True, exist_ok=True)
        self.server = Server(root, **{**SWEEP, **flags})
        self.marks = shared_folder()
        self.expected: dict[str, int] = {}
        # Other servers of the same database, whose workers count too.
        self.others: list[Server] = []

    def start(self, fault: str = "") -> None:
        self.server.env.pop("LAINO_FAULT", None)
        if fault:
            self.server.env["LAINO_FAULT"] = fault
        self.server.start()

    def submit(self, *, seconds: float = 1.0, code: int = 0, options: tuple[str, ...] = ()) -> str:
        pause = seconds / LINES
        script = (
            'echo run >> "$0/$LAINO_JOB_ID"; i=1; while [ $i -le '
            f'{LINES} ]; do echo "line $i"; i=$((i+1)); sleep {pause:.3f}; done; exit {code}'
        )
        # As a client in an outage would: again, with the same key, until the server takes it.
        key = ("--key", str(uuid4()))
        command = ("job", "submit", *options, *key, "--", "sh", "-c", script, str(self.marks))
        deadline = time.monotonic() + 30
        while (done := self.server.cli(*command)).returncode:
            assert "try again" in done.stderr or "cannot reach" in done.stderr, done.stderr
            assert time.monotonic() < deadline, done.stderr
            time.sleep(0.5)
        job_id = done.stdout.strip()
        self.expected[job_id] = code
        return job_id

    def crashed(self, timeout: float = 20) -> bool:
        """Waits for the server to die at its fault point."""
        assert self.server.proc is not None
        try:
            self.server.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def settle(self, timeout: float = 60) -> None:
        """Until every job ended and its saga finished (undoing what it began), or the timeout."""
        deadline = time.monotonic() + timeout
        for job_id in self.expected:
            while not self._finished(job_id):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.2)

    def _finished(self, job_id: str) -> bool:
        if self.server.job(job_id)["state"] not in TERMINAL:
            return False
        events = json.loads(self.server.cli("job", "events", job_id, "-o", "json").stdout)
        saga = [e for e in events if e["source"] == "saga"]
        return bool(saga) and saga[-1]["type"] == "Finished"

    def check(self, faults: int) -> Tally:
        tally = Tally(faults=faults, jobs=len(self.expected))
        for job_id, code in self.expected.items():
            self._check_job(job_id, code, tally)
        self._check_leaks(tally)
        self._check_replay(tally)
        return tally

    def _check_job(self, job_id: str, code: int, tally: Tally) -> None:
        job = self.server.job(job_id)
        want = ("SUCCEEDED", 0) if code == 0 else ("FAILED", code)
        if (job["state"], job["exit_code"]) != want:
            tally.wrong += 1
            tally.notes.append(f"{job_id}: {job['state']} {job['exit_code']}, not {want}")
        runs_file = self.marks / job_id
        runs = len(runs_file.read_text().splitlines()) if runs_file.exists() else 0
        events = json.loads(self.server.cli("job", "events", job_id, "-o", "json").stdout)
        lost_workers = sum(1 for e in events if e["type"] in ("Lost", "Failed"))
        if runs > job["attempt"] or (runs > 1 and lost_workers < runs - 1):
            tally.reran += 1
            tally.notes.append(f"{job_id}: ran {runs} times in {job['attempt']} attempt(s)")
        saga = [e for e in events if e["source"] == "saga"]
        if not saga or saga[-1]["type"] != "Finished":
            tally.open_sagas += 1
            tally.notes.append(f"{job_id}: its saga did not finish")
        tally.lost += self._lost_lines(job_id, runs)

    def _lost_lines(self, job_id: str, runs: int) -> int:
        """Lines missing from the runs: the last must be whole, each in order from 1."""
        request = pb.StreamLogsRequest(job_id=job_id)
        stdout = b"".join(
            chunk.data
            for item in self.server.jobs.StreamLogs(request)
            if item.HasField("page")
            for chunk in item.page.chunks
            if chunk.stream == pb.STDOUT
        )
        lines = stdout.decode().splitlines()
        numbers = [int(text.split()[1]) for text in lines if text.startswith("line ")]
        attempts: list[list[int]] = []
        for n in numbers:
            if n == 1 or not attempts:
                attempts.append([])
            attempts[-1].append(n)
        missing = 0
        for i, seen in enumerate(attempts):
            # An earlier run may stop anywhere (its worker was lost); the last one must be whole.
            whole = LINES if i == len(attempts) - 1 else max(seen)
            expected = list(range(1, whole + 1))
            missing += len(set(expected) - set(seen))
            if seen != sorted(set(seen)):  # out of order, or a line twice: count the run once
                missing += 1
        if runs and len(attempts) != runs:  # a run whose lines vanished, or lines twice
            missing += abs(runs - len(attempts)) * LINES
        return missing

    def _check_leaks(self, tally: Tally) -> None:
        installation = (self.server.home / "installation").read_text().strip()

        def left() -> list[str]:
            found = [
                h.name
                for server in (self.server, *self.others)
                for h in ProcessProvider(server.home / "workers", installation=installation).owned()
            ]
            found += [f"pid {p}" for p in processes_with(str(self.marks))]
            found += containers(f"laino.installation={installation}")
            return found

        deadline = time.monotonic() + 15  # the reconciler's grace, and a destroy under way
        while (leftover := left()) and time.monotonic() < deadline:
            time.sleep(0.5)
        if leftover:
            tally.leaked += len(leftover)
            tally.notes.append(f"left behind: {leftover}")

    def _check_replay(self, tally: Tally) -> None:
        url = str(self.server.flags.get("database", ""))
        jobs = JobsApp(Database(self.server.home, url).event_store("jobs"))
        for job_id in self.expected:
            replayed = jobs.get_job(UUID(job_id))
            shown = self.server.job(job_id)
            if (replayed.state.value, replayed.exit_code) != (shown["state"], shown["exit_code"]):
                tally.replay += 1
                tally.notes.append(f"{job_id}: replays to {replayed.state}")

    def stop(self) -> None:
        self.server.stop()
        self.server.cleanup_workers()


def crash_at_every_step(root: Path) -> Tally:
    """The server dies at each fault point of a saga step, and is started again."""
    chaos = Chaos(root)
    faults = 0
    try:
        for point in CRASH_POINTS:
            chaos.start(fault=point)
            chaos.submit(seconds=0.5, code=random.choice([0, 3]))
            faults += chaos.crashed()
            chaos.start()
            chaos.settle()
            chaos.server.stop()
        chaos.start()
        return chaos.check(faults)
    finally:
        chaos.stop()


def server_killed_at_random(root: Path, rounds: int) -> Tally:
    chaos = Chaos(root)
    faults = 0
    try:
        chaos.start()
        for _ in range(rounds):
            for _ in range(3):
                chaos.submit(seconds=random.uniform(0.3, 2.0), code=random.choice([0, 0, 5]))
            time.sleep(random.uniform(0.1, 1.5))
            chaos.server.kill()
            faults += 1
            chaos.start()
        chaos.settle()
        return chaos.check(faults)
    finally:
        chaos.stop()


def agents_killed_and_stopped(root: Path) -> Tally:
    chaos = Chaos(root)
    try:
        chaos.start()
        killed = chaos.submit(seconds=3)
        stopped = chaos.submit(seconds=3)
        for job_id in (killed, stopped):
            chaos.server.wait_state(job_id, {"RUNNING"})
        time.sleep(0.5)
        os.kill(chaos.server.worker_pid(killed, 1), signal.SIGKILL)
        os.kill(chaos.server.worker_pid(stopped, 1), signal.SIGSTOP)
        chaos.settle()
        return chaos.check(2)
    finally:
        chaos.stop()


def containers_killed_and_removed(root: Path) -> Tally:
    chaos = Chaos(root)
    docker = ("--provider", "docker")
    try:
        chaos.start()
        victims = [chaos.submit(seconds=3, options=docker) for _ in range(2)]
        for job_id in victims:
            chaos.server.wait_state(job_id, {"RUNNING"}, timeout=30)
        time.sleep(0.5)
        for job_id, how in zip(victims, (["kill"], ["rm", "-f"]), strict=True):
            (name,) = containers(f"laino.job={job_id}")
            subprocess.run(["docker", *how, name], check=True, capture_output=True)
        chaos.settle()
        return chaos.check(2)
    finally:
        chaos.stop()


def production_outages(root: Path) -> Tally:
    """Two servers on PostgreSQL and NATS: the lease holder SIGKILLed while the other runs,
    then PostgreSQL restarted, then NATS restarted, each with jobs under way."""
    postgres, nats = Postgres(free_port()), Nats(free_port())
    url = postgres.new_database()
    subprocess.run([LAINO, "db", "migrate", "--database", url], check=True, capture_output=True)
    chaos = Chaos(root / "a", database=url, nats=nats.url)
    (root / "b").mkdir(parents=True)
    other = Server(root / "b", database=url, nats=nats.url, **SWEEP)
    chaos.others.append(other)
    try:
        chaos.start()
        other.start()
        faults = 0
        for fault in ("leader", "postgres", "nats"):
            for _ in range(3):
                chaos.submit(seconds=random.uniform(1.0, 2.0), code=random.choice([0, 4]))
            time.sleep(random.uniform(0.3, 1.0))
            if fault == "leader":
                chaos.server.kill()  # the other server takes the lease and the sagas
                time.sleep(2)
                chaos.start()
            elif fault == "postgres":
                with postgres.away():
                    time.sleep(2)
            else:
                nats.stop()
                time.sleep(2)
                nats.start()
            faults += 1
        chaos.settle(timeout=120)
        return chaos.check(faults)
    finally:
        other.stop()
        chaos.stop()
        postgres.destroy()
        nats.destroy()


def disks_full(root: Path) -> Tally:
    """The file system under the home, then under PostgreSQL, filled to the last byte while
    jobs run, and freed 3 s later."""
    total = Tally()
    with small_disk(root / "home", "60m") as home:
        chaos = Chaos(home)
        try:
            total.add(_filled_while_running(chaos, home))
        finally:
            chaos.stop()
    # Not under the chaos root alone: the postgres user must reach its cluster.
    with small_disk(Path(tempfile.mkdtemp(prefix="laino-chaos-pg-")) / "pg", "120m") as disk:
        database = Postgres(free_port(), root=disk)
        url = database.new_database()
        subprocess.run([LAINO, "db", "migrate", "--database", url], check=True, capture_output=True)
        chaos = Chaos(root / "pg-home", database=url)
        try:
            total.add(_filled_while_running(chaos, disk))
        finally:
            chaos.stop()
            database.destroy()
    return total


def _filled_while_running(chaos: Chaos, disk: Path) -> Tally:
    chaos.start()
    for _ in range(3):
        chaos.submit(seconds=random.uniform(1.0, 2.0), code=random.choice([0, 4]))
    time.sleep(random.uniform(0.3, 1.0))
    filler = fill(disk)
    time.sleep(3)
    os.unlink(filler)
    chaos.settle()
    return chaos.check(1)


SCENARIOS: dict[str, Callable[[Path, int], Tally]] = {
    "crash at every saga step": lambda root, rounds: crash_at_every_step(root),
    "server SIGKILLed at random": server_killed_at_random,
    "agent SIGKILLed, agent SIGSTOPped": lambda root, rounds: agents_killed_and_stopped(root),
    "container killed, container removed": lambda r, rounds: containers_killed_and_removed(r),
    "leader killed, PostgreSQL and NATS restarted": lambda r, rounds: production_outages(r),
    "disk full under the home, under PostgreSQL": lambda root, rounds: disks_full(root),
}


def run(rounds: int = 3, *, echo: bool = True) -> dict[str, Tally]:
    root = Path(tempfile.mkdtemp(prefix="laino-chaos-"))
    results = {}
    for n, (name, scenario) in enumerate(SCENARIOS.items()):
        results[name] = scenario(root / str(n), rounds)
        if echo:
            print(f"{name}: {_row(results[name])}", flush=True)  # the columns below
    return results


def _values(tally: Tally) -> list[int]:
    return [
        tally.faults,
        tally.jobs,
        tally.wrong,
        tally.reran,
        tally.lost,
        tally.leaked,
        tally.open_sagas,
        tally.replay,
    ]


def _row(tally: Tally) -> str:
    return " | ".join(str(v) for v in _values(tally))


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 3
    results = run(rounds)
    total = Tally()
    for tally in results.values():
        total.add(tally)
    print()
    print("| scenario | " + " | ".join(COLUMNS) + " | open sagas | replay |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for name, tally in [*results.items(), ("total", total)]:
        print(f"| {name} | {_row(tally)} |")
    for note in total.notes:
        print(f"  {note}")
    return 0 if total.clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
