"""Production mode: PostgreSQL and a real NATS server, one orchestrator or several."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import nats as nats_client
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from laino.v1 import laino_pb2 as pb
from tests.conftest import LAINO, TERMINAL, Server, assert_eventually, free_port
from tests.door import Door
from tests.nats import Nats
from tests.postgres import Postgres


@pytest.fixture
def nats() -> Iterator[Nats]:
    """A NATS server of this test's own: its event stream holds only this test's events."""
    server = Nats(free_port())
    yield server
    server.destroy()


@pytest.fixture
def production(tmp_path: Path, postgres_url: str, nats: Nats) -> Iterator[Server]:
    """A server on PostgreSQL and NATS; its workers are gone after."""
    server = Server(tmp_path, database=postgres_url, nats=nats.url)
    server.start()
    yield server
    server.stop()
    server.cleanup_workers()


def events(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAINO, "events", "--nats", url, *args], capture_output=True, text=True, timeout=30
    )


def relayed(nats: Nats) -> list[dict[str, Any]]:
    done = events(nats.url, "-o", "json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def ended(job_id: str, relayed: list[dict[str, Any]]) -> bool:
    return any(e["aggregate_id"] == job_id and e["type"] == "Ended" for e in relayed)


def test_every_event_reaches_the_stream_once_even_when_the_relay_starts_over(
    production: Server, postgres_url: str, nats: Nats
) -> None:
    server = production
    first = server.submit("echo", "one")
    server.wait_state(first, TERMINAL)
    assert_eventually(lambda: ended(first, relayed(nats)))
    before = relayed(nats)
    # As if the relay had died after publishing and before recording how far it got.
    server.kill()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE relay_position SET position = 0")
    server.start()
    second = server.submit("echo", "two")
    server.wait_state(second, TERMINAL)
    assert_eventually(lambda: ended(second, relayed(nats)))
    after = relayed(nats)
    ids = [(e["source"], e["notification_id"]) for e in after]
    assert len(ids) == len(set(ids)), "an event was published twice"
    assert after[: len(before)] == before
    # Every event of the job, in the order it happened, as `laino job events` shows it.
    job_types = [e["type"] for e in after if e["aggregate_id"] == first]
    assert job_types[0] == "Submitted" and job_types[-1] == "Ended"

    def recorded_all() -> bool:
        with psycopg.connect(postgres_url) as conn:
            recorded = dict(conn.execute("SELECT app, position FROM relay_position").fetchall())
            highest = conn.execute("SELECT MAX(notification_id) FROM jobs_events").fetchone()
        assert highest is not None
        return bool(recorded["Jobs"] == highest[0])

    # Recorded only after the stream acknowledged: a moment after the events appear there.
    assert_eventually(recorded_all)


def test_events_follow_shows_events_live(production: Server, nats: Nats) -> None:
    server = production
    follower = subprocess.Popen(
        [LAINO, "events", "--nats", nats.url, "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        job_id = server.submit("true")
        assert follower.stdout is not None
        seen = []
        while not any(job_id in line and " Ended " in line for line in seen):
            seen.append(follower.stdout.readline())
        assert any(job_id in line and " Submitted " in line for line in seen)
    finally:
        follower.kill()


def test_events_without_nats_says_what_to_give(tmp_path: Path) -> None:
    done = subprocess.run([LAINO, "events"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "give the servers' --nats URL" in done.stderr
    unreachable = events(f"nats://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 1 and "cannot reach NATS" in unreachable.stderr


def test_a_server_refuses_to_start_without_its_nats(tmp_path: Path, postgres_url: str) -> None:
    server = Server(tmp_path, database=postgres_url, nats=f"nats://127.0.0.1:{free_port()}")
    with pytest.raises(AssertionError):
        server.start()
    assert "cannot reach NATS at nats://127.0.0.1:" in server.log()
    assert "Traceback" not in server.log()


def holds_lease(server: Server) -> bool:
    return "holding the lease" in server.log()


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str, nats: Nats) -> Iterator[tuple[Server, Server]]:
    """Two servers on one database and one NATS; A holds the lease, its workers dial B."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    b = Server(tmp_path / "b", database=postgres_url, nats=nats.url)
    # As workers would dial a load-balanced address: here, always the other server.
    a = Server(tmp_path / "a", database=postgres_url, nats=nats.url, advertise=b.agent_address)
    a.start()
    assert_eventually(lambda: holds_lease(a), timeout=10)
    b.start()
    yield a, b
    for server in (a, b):
        server.stop()
        server.cleanup_workers()


SCRIPT = "for i in $(seq 1 30); do echo line $i; sleep 0.1; done"
EXPECTED = "".join(f"line {i}\n" for i in range(1, 31))


def test_a_job_submitted_to_one_server_run_by_the_other_is_followed_from_both(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    job_id = a.submit("sh", "-c", SCRIPT)
    followers = [server.popen_cli("job", "logs", "-f", job_id) for server in (a, b)]
    assert_eventually(lambda: "registered" in b.log())  # the worker is connected to B
    assert not holds_lease(b)
    for follower in followers:
        out, err = follower.communicate(timeout=30)
        assert (follower.returncode, out) == (0, EXPECTED), err
    assert a.job(job_id)["state"] == "SUCCEEDED"
    # A cancel through B reaches a worker B holds, for a saga A drives.
    long = a.submit("sleep", "60")
    a.wait_state(long, {"RUNNING"})
    b.cli("job", "cancel", long, check=True)
    assert a.wait_state(long, TERMINAL)["state"] == "CANCELLED"


def test_a_token_revoked_through_one_server_is_refused_by_the_other_at_once(
    pair: tuple[Server, Server],
) -> None:
    """B keeps the token it checked in memory; A's revocation must still count at B's next
    call (store/tailing.py), as must a job cancelled through A at B's next read."""
    a, b = pair
    secret = a.cli("token", "create", "ci", "--role", "submit", check=True).stdout.strip()
    assert b.cli_env({"LAINO_TOKEN": secret}, "job", "list").returncode == 0
    job_id = b.submit("sleep", "60")
    assert b.wait_state(job_id, {"RUNNING"})["state"] == "RUNNING"
    a.cli("token", "revoke", "ci", check=True)
    a.cli("job", "cancel", job_id, check=True)
    refused = b.cli_env({"LAINO_TOKEN": secret}, "job", "list")
    assert (refused.returncode, refused.stderr) == (1, "laino: token 'ci' was revoked\n")
    assert b.wait_state(job_id, TERMINAL)["state"] == "CANCELLED"


def test_the_job_finishes_when_the_lease_holder_dies(pair: tuple[Server, Server]) -> None:
    a, b = pair
    job_id = a.submit("sh", "-c", SCRIPT)
    follower = b.popen_cli("job", "logs", "-f", job_id)
    a.wait_state(job_id, {"RUNNING"})
    a.kill()
    assert_eventually(lambda: holds_lease(b), timeout=10)
    done = b.wait_state(job_id, TERMINAL, timeout=30)
    assert (done["state"], done["attempt"]) == ("SUCCEEDED", 1)
    out, err = follower.communicate(timeout=30)
    assert out == EXPECTED, err


def test_a_schedule_fires_once_each_time_though_its_server_dies_midway(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    a.cli(
        "schedule", "create", "tick", "--every", "2s", "--overlap", "allow", "--catchup", "all",
        "--", "true", check=True,
    )  # fmt: skip

    def runs(server: Server) -> dict[str, Any]:
        done = server.cli("schedule", "get", "tick", "-o", "json", check=True)
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    created = runs(a)["created_at"]
    time.sleep(max(0.0, created + 5 - time.time()))
    a.kill()  # B takes the lease, and the schedule, from what A recorded
    assert_eventually(lambda: holds_lease(b), timeout=10)
    time.sleep(max(0.0, created + 10.5 - time.time()))
    b.cli("schedule", "pause", "tick", check=True)
    fired = [run for run in runs(b)["runs"] if run.get("job_id")]
    assert [round(run["fire_time"] - created, 3) for run in fired][:5] == [2, 4, 6, 8, 10]
    listed = b.cli("job", "list", "-l", "laino.schedule=tick", "-o", "json", check=True)
    jobs = sorted(job["id"] for job in json.loads(listed.stdout))
    assert jobs == sorted(run["job_id"] for run in fired)  # one job per fire, no more


def test_a_worker_moves_to_the_next_server_when_the_one_it_dialled_dies(
    tmp_path: Path, postgres_url: str, nats: Nats
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    b = Server(tmp_path / "b", database=postgres_url, nats=nats.url)
    a = Server(tmp_path / "a", database=postgres_url, nats=nats.url)
    # B first, whichever server drives the job: its agent starts on B.
    for server in (a, b):
        server.flags["advertise"] = f"{b.agent_address},{a.agent_address}"
    a.start()
    try:
        assert_eventually(lambda: holds_lease(a), timeout=10)
        b.start()
        job_id = a.submit("sh", "-c", SCRIPT)
        follower = a.popen_cli("job", "logs", "-f", job_id)
        assert_eventually(lambda: "registered" in b.log())
        a.wait_state(job_id, {"RUNNING"})
        b.kill()
        # Lost with B, the worker would be declared so after 3 s and the job run again.
        done = a.wait_state(job_id, TERMINAL, timeout=30)
        assert (done["state"], done["attempt"]) == ("SUCCEEDED", 1)
        out, err = follower.communicate(timeout=30)
        assert out == EXPECTED, err
    finally:
        for server in (a, b):
            server.stop()
            server.cleanup_workers()


def health(server: Server) -> str:
    try:
        reply = health_pb2_grpc.HealthStub(server.channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=2
        )
    except grpc.RpcError as err:  # a call under way holds the loop to its next try
        return str(err.code())
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


@pytest.mark.timeout(300)
def test_restarting_nats_and_postgres_during_50_jobs_loses_none(
    production: Server, postgres: Postgres, nats: Nats
) -> None:
    _survives_both_outages(production, postgres, nats)


@pytest.mark.timeout(300)
def test_a_server_with_a_queue_says_not_serving_while_postgresql_is_away(
    tmp_path: Path, postgres_url: str, postgres: Postgres, nats: Nats
) -> None:
    # Room for 8 at once: most of the jobs wait their turn through both outages, and the
    # server must not be kept from saying so by sagas calling a database that is away. The
    # jobs running when PostgreSQL stops must not be declared lost and run again because
    # calls into it stalled the server, which did not hear their agents meanwhile.
    server = Server(tmp_path, database=postgres_url, nats=nats.url, capacity="process=8")
    server.start()
    try:
        _survives_both_outages(server, postgres, nats)
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_worker_that_waits_out_a_database_outage_registers_once_it_is_back(
    tmp_path: Path, postgres_url: str, postgres: Postgres
) -> None:
    # Agents dial a door that opens only once the database is away, so the job's agent first
    # reaches the server during the outage, and presents its token only after the token's
    # life (twice the register timeout) has passed. The outage is the server's, not the
    # worker's: the job runs on its first worker, and its log holds its output alone.
    door = Door(free_port())
    server = Server(
        tmp_path,
        database=postgres_url,
        env={"LAINO_ADVERTISE": door.address},
        **{"register-timeout": 6},
    )
    server.start()
    try:
        spec = pb.JobSpec(command=["echo", "registered after the outage"])
        job_id = server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=10).job.id
        provisioned = time.monotonic()
        assert_eventually(lambda: _get(server, job_id).worker_id, timeout=5)
        with postgres.away():
            assert_eventually(lambda: health(server) == "NOT_SERVING", timeout=10)
            door.open(server.agent_address)
            time.sleep(max(0.0, provisioned + 14 - time.monotonic()))
        job = server.wait_state(job_id, TERMINAL, timeout=60)
        assert (job["state"], job["attempt"]) == ("SUCCEEDED", 1), job
        assert _logs(server, job_id) == b"registered after the outage\n"
    finally:
        door.close()
        server.stop()
        server.cleanup_workers()


def test_a_server_whose_database_stops_answering_says_so_and_goes_on_once_it_answers(
    tmp_path: Path, postgres_url: str, postgres: Postgres
) -> None:
    # No refusal, only silence, as when a network partition cuts the server off: its calls
    # under way would wait for TCP to give up (many minutes), holding the server's loop. The
    # default heartbeat timeout, not the tests' 3 s: the server's loop stalls for a few seconds
    # as the partition begins and as it heals (noticing takes TCP's timeouts), and agents
    # reconnect after it.
    server = Server(tmp_path, database=postgres_url, **{"heartbeat-timeout": 10})
    server.start()
    try:
        ids = []
        for n in range(20):
            spec = pb.JobSpec(command=["sh", "-c", f"echo begin {n}; sleep 0.5; echo end {n}"])
            ids.append(server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=10).job.id)
        with postgres.unreachable():
            cut = time.monotonic()
            assert_eventually(lambda: health(server) == "NOT_SERVING", timeout=20)
            listing = server.cli("job", "list")
            assert (listing.returncode, listing.stderr) == (
                1,
                f"laino: the laino server at {server.address} cannot reach its database; "
                "try again\n",
            )
            # Past the time PostgreSQL takes to end the sessions it no longer hears.
            time.sleep(max(0.0, cut + 20 - time.monotonic()))
        assert_eventually(lambda: health(server) == "SERVING", timeout=30)
        # Once it answers, it goes on answering: no call waits on a pool still trying to
        # reconnect after 1, 2, 4... s (the server's loop stalled up to 8 s after the heal).
        back = time.monotonic()
        while time.monotonic() - back < 10:
            began = time.monotonic()
            with contextlib.suppress(grpc.RpcError):  # "try again" is an answer
                server.jobs.ListJobs(pb.ListJobsRequest(page_size=1), timeout=10)
            assert time.monotonic() - began < 3, "the server stalled after its database came back"
            time.sleep(0.2)
        jobs = [server.wait_state(job_id, TERMINAL, timeout=120) for job_id in ids]
        assert [(job["state"], job["attempt"]) for job in jobs] == [("SUCCEEDED", 1)] * 20
        for n, job_id in enumerate(ids):
            assert _logs(server, job_id) == f"begin {n}\nend {n}\n".encode()
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_server_whose_nats_stops_answering_says_so_and_relays_every_event_once_it_answers(
    production: Server, nats: Nats
) -> None:
    server = production
    ids = []
    for n in range(10):
        spec = pb.JobSpec(command=["sh", "-c", f"echo begin {n}; sleep 0.5; echo end {n}"])
        ids.append(server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=10).job.id)
    with nats.unreachable():
        assert_eventually(lambda: health(server) == "NOT_SERVING", timeout=15)
    assert_eventually(lambda: health(server) == "SERVING", timeout=30)
    jobs = [server.wait_state(job_id, TERMINAL, timeout=60) for job_id in ids]
    assert [(job["state"], job["attempt"]) for job in jobs] == [("SUCCEEDED", 1)] * 10
    assert assert_eventually(lambda: _all_relayed(ids, relayed(nats)), timeout=30)


def _get(server: Server, job_id: str) -> pb.Job:
    return server.jobs.GetJob(pb.GetJobRequest(job_id=job_id), timeout=5)


def _survives_both_outages(server: Server, postgres: Postgres, nats: Nats) -> None:
    ids = []
    for n in range(50):
        spec = pb.JobSpec(command=["sh", "-c", f"echo begin {n}; sleep 0.5; echo end {n}"])
        reply = server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=10)
        ids.append(reply.job.id)
    nats.stop()
    assert_eventually(lambda: health(server) == "NOT_SERVING", timeout=10)
    time.sleep(1)
    nats.start()
    assert_eventually(lambda: health(server) == "SERVING", timeout=15)
    with postgres.away():
        assert_eventually(lambda: health(server) == "NOT_SERVING", timeout=10)
        listing = server.cli("job", "list")
        assert listing.returncode == 1
        assert listing.stderr == (
            f"laino: the laino server at {server.address} cannot reach its database; try again\n"
        )
        # Taken, and acknowledged, only once the database has it.
        publish(nats, json.dumps({"command": ["echo", "during the outage"]}).encode())
        time.sleep(1)
    assert_eventually(lambda: health(server) == "SERVING", timeout=30)
    late = assert_eventually(
        lambda: len(_jobs(server)) == 51 and _jobs(server)[0]["id"], timeout=60
    )
    ids.append(late)
    jobs = [server.wait_state(job_id, TERMINAL, timeout=120) for job_id in ids]
    assert [job["state"] for job in jobs] == ["SUCCEEDED"] * 51
    assert server.cli("job", "logs", late).stdout == "during the outage\n"
    # Through the API, not 50 CLIs: the CLI's reading of logs has tests of its own.
    for n, job_id in enumerate(ids[:50]):
        assert _logs(server, job_id) == f"begin {n}\nend {n}\n".encode()
    submitted = assert_eventually(lambda: _all_relayed(ids, relayed(nats)), timeout=30)
    assert len(submitted) == 51


def _all_relayed(ids: list[str], feed: list[dict[str, Any]]) -> list[str]:
    """The jobs whose end is on the stream; each job's events appear there exactly once."""
    pairs = [(e["source"], e["notification_id"]) for e in feed]
    assert len(pairs) == len(set(pairs))
    ended_ids = [e["aggregate_id"] for e in feed if e["type"] == "Ended"]
    return ended_ids if set(ended_ids) >= set(ids) else []


def publish(nats: Nats, payload: bytes, **headers: str) -> None:
    """What an outside system does to submit a job through NATS."""

    async def send() -> None:
        nc = await nats_client.connect(nats.url)
        sent = {k.replace("_", "-"): v for k, v in headers.items()} or None
        await nc.jetstream().publish("laino.submit", payload, headers=sent)
        await nc.close()

    asyncio.run(send())


def test_jobs_submitted_through_nats_and_what_cannot_be_a_job_set_aside(
    production: Server, nats: Nats
) -> None:
    server = production
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    spec = json.dumps({"command": ["echo", "via nats"]}).encode()
    publish(nats, spec, Nats_Msg_Id="order-1", traceparent=traceparent)
    publish(nats, b"not json")
    publish(nats, json.dumps({"command": "echo"}).encode())
    publish(nats, json.dumps({"command": ["true"], "cpu": -1}).encode())
    publish(nats, json.dumps({"command": ["true"], "colour": "red"}).encode())
    job = assert_eventually(lambda: _only_job(server))
    done = server.wait_state(job["id"], TERMINAL)
    assert done["state"] == "SUCCEEDED"
    assert server.cli("job", "logs", job["id"]).stdout == "via nats\n"
    # The publisher's trace goes on: the job's, and in the headers of its relayed events.
    assert done["trace_id"] == trace_id
    assert_eventually(lambda: ended(job["id"], relayed(nats)))
    job_events = [e for e in relayed(nats) if e["aggregate_id"] == job["id"]]
    assert {e.get("traceparent") for e in job_events} == {traceparent}

    def dead() -> list[dict[str, Any]]:
        shown = events(nats.url, "--dead", "-o", "json")
        assert shown.returncode == 0, shown.stderr
        return [json.loads(line) for line in shown.stdout.splitlines()]

    set_aside = assert_eventually(lambda: len(dead()) == 4 and dead())
    assert [entry["error"].split(":")[0:2] for entry in set_aside] == [
        ["not a job spec", " Expecting value"],
        ["not a job spec", " command"],
        ["not a job spec", " cpu"],
        ["not a job spec", " colour"],
    ]
    assert set_aside[0]["data"] == "not json"
    assert "laino.dead.submit" in events(nats.url, "--dead").stdout
    assert len(_jobs(server)) == 1


def _logs(server: Server, job_id: str) -> bytes:
    request = pb.StreamLogsRequest(job_id=job_id)
    items = server.jobs.StreamLogs(request, timeout=30)
    return b"".join(c.data for item in items if item.HasField("page") for c in item.page.chunks)


def _jobs(server: Server) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        server.cli("job", "list", "--limit", "1000", "-o", "json").stdout
    )
    return listed


def _only_job(server: Server) -> dict[str, Any] | None:
    jobs = _jobs(server)
    return jobs[0] if len(jobs) == 1 else None


def test_two_installations_on_one_nats_both_reach_the_event_stream(
    tmp_path: Path, postgres: Postgres, nats: Nats
) -> None:
    """Their notification ids are alike (both start at 1): the dedup id must tell them apart."""
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        url = postgres.new_database()
        subprocess.run([LAINO, "db", "migrate", "--database", url], check=True, capture_output=True)
        servers.append(Server(tmp_path / name, database=url, nats=nats.url))
    try:
        ids = []
        for server in servers:
            server.start()
            ids.append(server.submit("true"))
        for server, job_id in zip(servers, ids, strict=True):
            server.wait_state(job_id, {"SUCCEEDED"})
        assert_eventually(lambda: all(ended(job_id, relayed(nats)) for job_id in ids), timeout=20)
    finally:
        for server in servers:
            server.stop()
            server.cleanup_workers()
