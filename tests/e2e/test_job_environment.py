"""What a job sees of its server and its agent: a clean environment, a user of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, shared_folder

LEAKS = {"LAINO_TEST_DATABASE_PASSWORD": "hunter2", "AWS_SECRET_ACCESS_KEY": "AKIAXXXXXXXX"}
# What a process job inherits: PATH, HOME, LANG, TZ (when set), USER and LOGNAME, and its ids.
DOCUMENTED = {"PATH", "HOME", "LANG", "TZ", "USER", "LOGNAME", "LAINO_JOB_ID", "LAINO_ATTEMPT"}


@pytest.fixture
def leaky_server(tmp_path: Path) -> Iterator[Server]:
    """A server whose own environment holds what no job may see."""
    running = Server(tmp_path, env=LEAKS)
    running.start()
    yield running
    running.stop()
    running.cleanup_workers()


def _env(done_stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in done_stdout.splitlines() if "=" in line)


def test_a_process_job_gets_only_the_documented_environment(leaky_server: Server) -> None:
    done = leaky_server.cli("job", "run", "--env", "MINE=1", "--", "env")
    assert done.returncode == 0, done.stderr
    env = _env(done.stdout)
    assert set(env) <= DOCUMENTED | {"MINE"}, set(env) - DOCUMENTED
    assert env["MINE"] == "1" and env["LAINO_ATTEMPT"] == "1"
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for value in LEAKS.values():
        assert value not in done.stdout


def test_a_docker_job_gets_nothing_of_the_servers_environment(
    docker_server: Server, worker_image: str
) -> None:
    for name, value in LEAKS.items():
        docker_server.env[name] = value
    docker_server.stop()
    docker_server.start()
    done = docker_server.cli("job", "run", "--provider", "docker", "--", "env")
    assert done.returncode == 0, done.stderr
    for value in LEAKS.values():
        assert value not in done.stdout
    assert not any(
        name.startswith(("LAINO_SERVER", "LAINO_TOKEN", "OTEL_")) for name in _env(done.stdout)
    )


def test_a_root_servers_process_job_runs_as_nobody_and_cannot_read_its_agent(
    server: Server,
) -> None:
    script = (
        "id -un; cat /proc/$PPID/environ >/dev/null 2>&1 && echo agent-environ-read;"
        f" cat {server.home}/admin-token >/dev/null 2>&1 && echo admin-token-read; true"
    )
    done = server.cli("job", "run", "--", "sh", "-c", script)
    assert (done.returncode, done.stdout) == (0, "nobody\n"), done.stderr


def test_a_docker_job_runs_as_the_images_user_and_cannot_read_its_agent(
    docker_server: Server,
) -> None:
    script = (
        "id -u; cat /proc/$PPID/environ >/dev/null 2>&1 && echo agent-environ-read;"
        " ls /.laino-token 2>/dev/null && echo token-file-left; true"
    )
    done = docker_server.cli("job", "run", "--provider", "docker", "--", "sh", "-c", script)
    assert (done.returncode, done.stdout) == (0, "1000\n"), done.stderr


def test_a_working_directory_stays_in_the_jobs_folder_or_an_allowed_one(tmp_path: Path) -> None:
    allowed = shared_folder()
    server = Server(tmp_path, **{"allow-workdir": str(allowed)})
    server.start()
    try:
        for workdir, says in [
            ("../..", "spec.working_dir: '../..' leaves the job's own folder"),
            ("/root", "spec.working_dir: '/root' is outside the job's folder"),
            (f"{allowed}/../etc", f"spec.working_dir: '{allowed}/../etc' is outside"),
        ]:
            done = server.cli("job", "run", "--workdir", workdir, "--", "pwd")
            assert done.returncode == 1 and done.stderr.startswith(f"laino: {says}"), done.stderr
        done = server.cli("job", "run", "--workdir", str(allowed), "--", "pwd")
        assert (done.returncode, done.stdout) == (0, f"{allowed}\n"), done.stderr
    finally:
        server.stop()
