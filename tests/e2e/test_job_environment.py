"""What a job sees of its server and its agent: a clean environment, a user of its own."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LAINO, Server, shared_folder

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


def _pwd(server: Server, *options: str, cwd: Path, token: str = "") -> tuple[int, str, str]:
    env = server.environ(**({"LAINO_TOKEN": token} if token else {}))
    done = subprocess.run(
        [LAINO, "job", "run", *options, "--", "pwd"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stdout.strip(), done.stderr


def test_a_submit_tokens_job_stays_in_its_folder_or_an_allowed_one(tmp_path: Path) -> None:
    allowed = shared_folder()
    server = Server(tmp_path, **{"allow-workdir": str(allowed)})
    server.start()
    try:
        token = server.cli("token", "create", "ci", "--role", "submit", check=True).stdout
        token = token.split()[-1]
        for workdir, says in [
            ("../..", "spec.working_dir: '../..' leaves the job's own folder"),
            ("/root", "spec.working_dir: '/root' is outside the job's folder"),
            (f"{allowed}/../etc", f"spec.working_dir: '{allowed}/../etc' is outside"),
        ]:
            code, _, err = _pwd(server, "--workdir", workdir, cwd=tmp_path, token=token)
            assert code == 1 and err.startswith(f"laino: {says}"), err
        assert _pwd(server, "--workdir", str(allowed), cwd=tmp_path, token=token)[:2] == (
            0,
            str(allowed),
        )
        # Its own folder, not the client's (which it may not use), unless that is allowed.
        code, where, _ = _pwd(server, cwd=tmp_path, token=token)
        assert code == 0 and where != str(tmp_path) and "laino-" in where
        assert _pwd(server, cwd=allowed, token=token)[1] == str(allowed)
    finally:
        server.stop()


def test_the_local_owners_job_runs_where_its_cli_was_started(tmp_path: Path) -> None:
    project = shared_folder()
    (project / "sub").mkdir()
    server = Server(tmp_path / "home")
    (tmp_path / "home").mkdir()
    server.start()
    try:
        assert _pwd(server, cwd=project) == (0, str(project), "")
        assert _pwd(server, "--workdir", "sub", cwd=project)[1] == f"{project}/sub"
        assert _pwd(server, "--workdir", "/", cwd=project)[1] == "/"
        ls = subprocess.run(
            [LAINO, "job", "run", "ls"], env=server.environ(), cwd=project, capture_output=True
        )
        assert ls.stdout == b"sub\n"
    finally:
        server.stop()
