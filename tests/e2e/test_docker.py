"""Jobs in containers on a real Docker engine: run, cancel, crashes, and the reconciler."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path
from uuid import UUID

import pytest

from laino.orchestrator.domain.workers import Worker, worker_name
from laino.providers.base import WorkerSpec
from laino.providers.docker import DockerProvider
from tests import scenarios
from tests.conftest import TERMINAL, Server, assert_eventually, containers

DOCKER = ("--provider", "docker")
THREE_SECONDS = ("sh", "-c", "echo running; sleep 3; echo finished")


def _container(job_id: str, attempt: int) -> str:
    return worker_name(UUID(job_id), attempt)


def test_hello_job_in_a_container_through_the_cli(docker_server: Server) -> None:
    done = docker_server.cli("job", "run", *DOCKER, "--", "sh", "-c", "echo hello; cat /etc/os*")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("hello\n") and "Debian" in done.stdout
    (job,) = json.loads(docker_server.cli("job", "list", "-o", "json", check=True).stdout)
    assert_eventually(lambda: containers(f"laino.job={job['id']}") == [], timeout=10)


def test_image_without_the_agent_fails_at_once_with_its_output(docker_server: Server) -> None:
    done = docker_server.cli("job", "run", *DOCKER, "--image", "laino/base:bookworm", "--", "true")
    assert done.returncode == 125
    assert "the worker cannot start its agent: is laino installed in the image?" in done.stderr
    assert "exec laino-agent failed" in done.stderr  # the container's own last words
    (job,) = json.loads(docker_server.cli("job", "list", "-o", "json", check=True).stdout)
    assert job["attempt"] == 1  # not retried: no retry can help
    assert_eventually(lambda: containers(f"laino.job={job['id']}") == [], timeout=10)


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_docker_scenario_ends_as_a_user_expects(docker_server: Server, name: str) -> None:
    scenarios.run(docker_server.address, "docker", name, echo=False, token=docker_server.token)


def test_cancel_stops_the_container_job(docker_server: Server) -> None:
    job_id = docker_server.submit("sh", "-c", "echo started; sleep 600", options=DOCKER)
    assert_eventually(lambda: "started" in docker_server.cli("job", "logs", job_id).stdout)
    docker_server.cli("job", "cancel", job_id, check=True)
    job = docker_server.wait_state(job_id, TERMINAL)
    assert job["state"] == "CANCELLED"
    assert_eventually(lambda: containers(f"laino.job={job_id}") == [], timeout=10)


def test_killed_container_is_lost_and_its_job_runs_again_in_a_new_one(
    docker_server: Server,
) -> None:
    job_id = docker_server.submit(*THREE_SECONDS, options=DOCKER)
    assert_eventually(lambda: "running" in docker_server.cli("job", "logs", job_id).stdout)
    killed = time.time()
    subprocess.run(["docker", "kill", _container(job_id, 1)], check=True, capture_output=True)
    job = docker_server.wait_state(job_id, TERMINAL, timeout=30)
    assert (job["state"], job["attempt"]) == ("SUCCEEDED", 2)
    events = json.loads(docker_server.cli("job", "events", job_id, "-o", "json").stdout)
    (lost,) = [e for e in events if e["type"] == "Lost"]
    assert lost["timestamp"] - killed < 1.5, lost  # noticed at once, not after a heartbeat
    logs = docker_server.cli("job", "logs", job_id).stdout
    assert logs.count("running") == 2 and logs.endswith("finished\n")
    assert_eventually(lambda: containers(f"laino.job={job_id}") == [], timeout=10)


def test_container_removed_while_the_server_was_down_never_leaves_the_job_stuck(
    docker_server: Server,
) -> None:
    job_id = docker_server.submit(*THREE_SECONDS, options=DOCKER)
    docker_server.wait_state(job_id, {"RUNNING"})
    docker_server.kill()
    subprocess.run(["docker", "rm", "-f", _container(job_id, 1)], check=True, capture_output=True)
    docker_server.start()
    job = docker_server.wait_state(job_id, TERMINAL, timeout=30)
    assert (job["state"], job["attempt"]) == ("SUCCEEDED", 2)
    assert_eventually(lambda: containers(f"laino.job={job_id}") == [], timeout=10)


def test_reconciler_removes_orphans_and_spares_live_workers(
    docker_server: Server, worker_image: str
) -> None:
    done = docker_server.cli("job", "run", *DOCKER, "--", "true", check=True)
    assert done.returncode == 0
    (ended,) = json.loads(docker_server.cli("job", "list", "-o", "json", check=True).stdout)
    live = docker_server.submit("sh", "-c", "sleep 4; echo survived", options=DOCKER)
    docker_server.wait_state(live, {"RUNNING"})
    # What a crash leaves: a container for a worker that has ended, and one for no worker.
    provider = DockerProvider(
        installation=(docker_server.home / "installation").read_text(),
        image=worker_image,
        server="host.docker.internal:9",
    )
    job_id = UUID(ended["id"])
    for worker_id, name in (
        (Worker.create_id(job_id, 1), worker_name(job_id, 1)),
        (UUID(int=7), "laino-orphan-of-nobody"),
    ):
        provider.start(
            WorkerSpec(
                name=name,
                worker_id=str(worker_id),
                job_id=str(job_id),
                attempt=1,
                server="",
                bootstrap_token="stale",
                installation=provider.installation,
            )
        )
    orphans = {worker_name(job_id, 1), "laino-orphan-of-nobody"}
    assert orphans <= set(containers(f"laino.installation={provider.installation}"))
    # Grace 1 s, a sweep every 0.5 s: both orphans go, and the event tells which and why.
    assert_eventually(lambda: not orphans & set(containers("laino.installation")), timeout=10)
    events = docker_server.cli("job", "events", ended["id"], check=True).stdout
    assert "OrphanRemoved" in events and "its worker is TERMINATED" in events
    # The live job's container was never unaccounted for: it ran to the end.
    job = docker_server.wait_state(live, TERMINAL)
    assert job["state"] == "SUCCEEDED"
    assert "survived" in docker_server.cli("job", "logs", live).stdout
    assert "OrphanRemoved" not in docker_server.cli("job", "events", live, check=True).stdout


def test_a_docker_job_takes_a_warm_container_and_the_pool_starts_another(
    tmp_path: Path, worker_image: str
) -> None:
    server = Server(tmp_path, warm="docker=1")
    server.start()
    try:

        def warm() -> list[str]:
            listed = server.cli("worker", "list", "--state", "WARM", "-o", "json", check=True)
            return [w["id"] for w in json.loads(listed.stdout)]

        (first,) = assert_eventually(lambda: len(w := warm()) == 1 and w, timeout=60)
        mine = f"laino.installation={(tmp_path / 'installation').read_text()}"
        assert len(containers(mine)) == 1  # the pool's, started before any job
        done = server.cli("job", "run", *DOCKER, "--", "sh", "-c", "echo in a warm container")
        assert (done.returncode, done.stdout) == (0, "in a warm container\n"), done.stderr
        (job,) = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)
        trace = json.loads(server.cli("job", "trace", job["id"], "-o", "json", check=True).stdout)
        assert trace["pools"] == {"1": "docker"}
        # Its container is removed after the one job, and a new one waits in its place.
        assert_eventually(lambda: (w := warm()) and w != [first], timeout=60)
        assert_eventually(lambda: containers(f"laino.worker={first}") == [], timeout=20)
    finally:
        server.stop()
        installation = (tmp_path / "installation").read_text()
        names = containers(f"laino.installation={installation}")
        if names:
            subprocess.run(["docker", "rm", "-f", *names], capture_output=True)


def test_a_pool_whose_image_cannot_run_backs_off_and_says_why(tmp_path: Path) -> None:
    image = "laino-test/never-there:none"
    server = Server(tmp_path, warm=f"docker:{image}=1")
    server.start()
    try:
        time.sleep(7)
        listed = server.cli("worker", "list", "--all", "-o", "json", check=True)
        tried = [w for w in json.loads(listed.stdout) if w["pool"] == f"docker:{image}"]
        # Starts at 0 s, then after 2 s and 4 s more: not one a second.
        assert 1 <= len(tried) <= 3, tried
        assert all(
            "cannot be pulled" in w["message"] for w in tried if w["state"] != "PROVISIONING"
        )
    finally:
        server.stop()


def test_a_container_jobs_outputs_are_kept_byte_for_byte(docker_server: Server) -> None:
    script = "head -c 5000000 /dev/urandom > out.bin; sha256sum out.bin | cut -c1-64; exit 2"
    done = docker_server.cli("job", "run", *DOCKER, "--output", "out.bin", "--", "sh", "-c", script)
    assert done.returncode == 2, done.stderr
    written = done.stdout.strip()
    (job,) = json.loads(docker_server.cli("job", "list", "-o", "json", check=True).stdout)
    listed = json.loads(docker_server.cli("job", "artifacts", job["id"], "-o", "json").stdout)
    assert [(a["path"], a["size"], a["sha256"]) for a in listed] == [("out.bin", 5000000, written)]
    out = docker_server.home / "out.bin"
    docker_server.cli("job", "download", job["id"], "out.bin", "-o", str(out), check=True)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == written


def test_a_container_job_gets_its_inputs_byte_for_byte(docker_server: Server) -> None:
    local = docker_server.home / "local.bin"
    local.write_bytes(bytes(range(256)) * 4000)
    made = docker_server.cli(
        "job", "run", *DOCKER, "--output", "made.txt", "--", "sh", "-c", "echo made > made.txt"
    )
    assert made.returncode == 0, made.stderr
    producer = json.loads(docker_server.cli("job", "list", "-o", "json", check=True).stdout)[0]
    done = docker_server.cli(
        "job",
        "run",
        *DOCKER,
        "--input",
        f"{local}=in/local.bin",
        "--input",
        f"job:{producer['id']}:made.txt=in/made.txt",
        "--",
        "sh",
        "-c",
        "sha256sum in/local.bin | cut -c1-64; cat in/made.txt",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == hashlib.sha256(local.read_bytes()).hexdigest() + "\nmade\n"
