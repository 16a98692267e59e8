"""End to end: a job's output files are kept after it, whatever its exit code, byte for byte,
within the server's limit, through a server restart, until retention takes them."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import ssl
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from laino.v1 import laino_pb2 as pb
from tests.conftest import LAINO, Server, assert_eventually, free_port
from tests.s3 import FakeS3

ENDED = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}
# 100 MB that no compression or deduplication shortcuts, and 300 small files.
MAKE = (
    "mkdir -p many && head -c 100000000 /dev/urandom > big.bin"
    ' && for i in $(seq 300); do echo "file $i" > many/$i.txt; done; exit 4'
)


def _folder(tmp_path: Path) -> Path:
    """A folder the job's user may write in, as the CLI's own folder."""
    folder = tmp_path / "work"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o777)
    return folder


@contextlib.contextmanager
def _running(tmp_path: Path, **flags: str) -> Iterator[Server]:
    """A server of the test's own, in tmp_path/home, with these flags."""
    home = tmp_path / "home"
    home.mkdir()
    server = Server(home, **flags)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.cleanup_workers()


def _artifacts(server: Server, job_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        server.cli("job", "artifacts", job_id, "-o", "json", check=True).stdout
    )
    return found


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_outputs_of_a_failing_job_download_byte_for_byte(server: Server, tmp_path: Path) -> None:
    work = _folder(tmp_path)
    ran = server.cli(
        "job",
        "run",
        "--output",
        "big.bin",
        "--output",
        "many/*.txt",
        "--",
        "sh",
        "-c",
        MAKE,
        cwd=work,
        timeout=300,
    )
    assert ran.returncode == 4, ran.stderr
    assert "laino: kept 301 output file(s), 100002" in ran.stderr
    job_id = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]["id"]
    listed = {a["path"]: a for a in _artifacts(server, job_id)}
    assert len(listed) == 301
    assert listed["big.bin"]["sha256"] == _sha(work / "big.bin")
    assert listed["many/7.txt"]["size"] == len("file 7\n")
    out = tmp_path / "big.dl"
    server.cli("job", "download", job_id, "big.bin", "-o", str(out), check=True, timeout=300)
    assert _sha(out) == _sha(work / "big.bin")
    tar_path = tmp_path / "all.tar"
    server.cli("job", "download", job_id, "--all", "-o", str(tar_path), check=True, timeout=300)
    with tarfile.open(tar_path) as tar:
        assert len(tar.getnames()) == 301
        member = tar.extractfile("many/300.txt")
        assert member is not None and member.read() == b"file 300\n"
        big = tar.extractfile("big.bin")
        assert big is not None
        assert hashlib.sha256(big.read()).hexdigest() == listed["big.bin"]["sha256"]
    missing = server.cli("job", "download", job_id, "nope.txt", cwd=tmp_path)
    assert missing.returncode != 0 and "kept no file 'nope.txt'" in missing.stderr
    assert not (tmp_path / "nope.txt").exists()  # a failed download leaves no empty file


def test_over_the_limit_the_job_says_so_and_keeps_what_fits(tmp_path: Path) -> None:
    with _running(tmp_path, **{"artifact-limit": "1m"}) as server:
        work = _folder(tmp_path)
        script = "head -c 700000 /dev/urandom > a.bin; head -c 700000 /dev/urandom > b.bin"
        ran = server.cli(
            "job",
            "run",
            "--output",
            "*.bin",
            "--output",
            "none/*",
            "--",
            "sh",
            "-c",
            script,
            cwd=work,
        )
        assert ran.returncode == 0
        assert "laino: output 'none/*' matched no file" in ran.stderr
        assert "laino: b.bin (700000 bytes) not kept: the job's artifacts would pass" in ran.stderr
        job_id = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]["id"]
        assert [a["path"] for a in _artifacts(server, job_id)] == ["a.bin"]


def test_a_server_killed_during_an_upload_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    with _running(tmp_path) as server:
        work = _folder(tmp_path)
        script = "head -c 300000000 /dev/urandom > big.bin; echo small > small.txt; echo done"
        job_id = server.cli(
            "job",
            "submit",
            "--output",
            "small.txt",
            "--output",
            "big.bin",
            "--",
            "sh",
            "-c",
            script,
            cwd=work,
            check=True,
        ).stdout.strip()
        incoming = server.home / "artifacts" / "incoming"
        # The upload is under way once the spool holds bytes.
        assert_eventually(
            lambda: incoming.exists() and any(f.stat().st_size > 0 for f in incoming.iterdir()),
            timeout=60,
            interval=0.05,
        )
        server.kill()
        server.start()
        job = server.wait_state(job_id, ENDED, timeout=180)
        assert job["state"] == "SUCCEEDED", job
        listed = _artifacts(server, job_id)
        assert [(a["path"], a["sha256"]) for a in listed] == [
            ("big.bin", _sha(work / "big.bin")),
            ("small.txt", _sha(work / "small.txt")),
        ]
        # One copy of each file's bytes; the killed server's half upload was cleared away.
        kept = [f for f in (server.home / "artifacts").rglob("*") if f.is_file()]
        assert sorted(f.name for f in kept) == sorted(a["sha256"] for a in listed)


def test_artifacts_go_with_the_jobs_output_at_retention(server: Server, tmp_path: Path) -> None:
    work = _folder(tmp_path)
    server.cli(
        "job",
        "run",
        "--output",
        "a.txt",
        "--",
        "sh",
        "-c",
        "echo kept > a.txt",
        cwd=work,
        check=True,
    )
    server.cli(
        "job",
        "run",
        "--output",
        "a.txt",
        "--",
        "sh",
        "-c",
        "echo kept > a.txt",
        cwd=work,
        check=True,
    )
    first, second = (
        j["id"] for j in json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)
    )
    assert len(_artifacts(server, first)) == 1
    time.sleep(1.1)
    server.cli("job", "prune", "--older-than", "1s", check=True)
    mine = tmp_path / "a.txt"
    mine.write_text("the user's own file\n")
    for job_id in (first, second):
        assert _artifacts(server, job_id) == []
        gone = server.cli("job", "download", job_id, "a.txt", cwd=tmp_path)
        assert gone.returncode != 0 and "kept no file" in gone.stderr
    # A download that fails leaves a file of the same name as it was.
    assert mine.read_text() == "the user's own file\n"
    if (server.home / "artifacts").exists():  # the embedded store: the bytes are gone too
        assert not [f for f in (server.home / "artifacts").rglob("*") if f.is_file()]


def test_bad_outputs_are_refused_at_submission(server: Server) -> None:
    for bad in ("/etc/passwd", "../up", "a/../../b", " "):
        refused = server.cli("job", "submit", "--output", bad, "--", "true")
        assert refused.returncode != 0, bad
        assert "a path or glob within the working directory" in refused.stderr, bad


def test_inputs_from_a_local_file_and_a_previous_jobs_output_arrive_byte_for_byte(
    server: Server, tmp_path: Path
) -> None:
    work = _folder(tmp_path)
    local = tmp_path / "local.bin"
    local.write_bytes(os.urandom(3_000_000))
    first = server.cli(
        "job",
        "run",
        "--input",
        f"{local}=in/data.bin",
        "--output",
        "sum.txt",
        "--",
        "sh",
        "-c",
        "sha256sum in/data.bin | cut -c1-64 > sum.txt; cat sum.txt",
        cwd=work,
        check=True,
    )
    assert first.stdout.strip() == _sha(local)
    producer = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]["id"]
    second = server.cli(
        "job",
        "run",
        "--input",
        f"job:{producer}:sum.txt=from-before.txt",
        "--",
        "cat",
        "from-before.txt",
        cwd=work,
        check=True,
    )
    assert second.stdout == first.stdout
    job = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]
    (pinned,) = job["spec"]["inputs"]
    assert pinned["sha256"] == hashlib.sha256(first.stdout.encode()).hexdigest()


def test_bad_inputs_are_refused_at_submission(server: Server, tmp_path: Path) -> None:
    ran = server.cli(
        "job", "run", "--output", "a", "--", "sh", "-c", "echo a > a", cwd=_folder(tmp_path)
    )
    producer = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]["id"]
    assert ran.returncode == 0
    cases = [
        (f"job:{producer}:missing=x", "no such file is kept"),
        ("job:6f1e2bb0-0000-0000-0000-000000000000:a=x", "no such file is kept"),
        (f"job:{producer}:a=../x", "a path within the working directory"),
        (f"job:{producer}:a=/etc/x", "a path within the working directory"),
        ("ftp://example.com/a=x", "no local file, job:ID:PATH or https:// URL"),
        ("https://example.com/a#md5=abc=x", "only #sha256=HEX"),
        ("https://example.com/a#sha256=xyz=x", "is not a sha256 in hex"),
    ]
    for given, said in cases:
        refused = server.cli("job", "submit", "--input", given, "--", "true")
        assert refused.returncode != 0 and said in refused.stderr, (given, refused.stderr)


def test_an_https_input_is_checked_and_a_wrong_sha256_fails_the_job_as_infrastructure(
    tmp_path: Path,
) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    server = Server(tmp_path / "home", **{"inputs-ca": str(certs / "ca.pem")})
    server.home.mkdir()
    server.cli("tls", "init", "--host", "127.0.0.1", "--dir", str(certs), check=True)
    served = tmp_path / "site"
    served.mkdir()
    (served / "data.txt").write_bytes(b"from the web\n")
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "server.pem", certs / "server-key.pem")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server.start()
    try:
        url = f"https://127.0.0.1:{port}/data.txt"
        right = hashlib.sha256(b"from the web\n").hexdigest()
        good = server.cli(
            "job",
            "run",
            "--input",
            f"{url}#sha256={right}=web.txt",
            "--",
            "cat",
            "web.txt",
            cwd=_folder(tmp_path),
        )
        assert (good.returncode, good.stdout) == (0, "from the web\n"), good.stderr
        wrong = "0" * 64
        (tmp_path / "other").mkdir()
        elsewhere = _folder(tmp_path / "other")
        bad = server.cli(
            "job",
            "run",
            "--max-attempts",
            "1",
            "--input",
            f"{url}#sha256={wrong}=web.txt",
            "--",
            "cat",
            "web.txt",
            cwd=elsewhere,
        )
        assert bad.returncode != 0
        job = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]
        assert (job["state"], job["failure_reason"]) == ("FAILED", "infrastructure")
        assert f"sha256 {right}, not the {wrong} expected" in job["message"]
        assert os.listdir(elsewhere) == []  # nothing placed, not even in part
    finally:
        server.stop()
        server.cleanup_workers()
        httpd.shutdown()


def test_artifacts_in_an_s3_compatible_store_a_fake_one(tmp_path: Path) -> None:
    fake = FakeS3(tmp_path / "s3.log")
    home = tmp_path / "home"
    home.mkdir()
    try:
        missing = Server(home, env=fake.env, artifacts="s3://no-such-bucket")
        args = [f"--{k}={v}" for k, v in missing.flags.items()]
        refused = subprocess.run(
            [LAINO, "server", "--home", str(home), "--listen", missing.address, *args],
            env=missing.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode != 0 and "the artifact store" in refused.stderr
        fake.client().create_bucket(Bucket="jobs")
        server = Server(home, env=fake.env, artifacts="s3://jobs/laino")
        server.start()
        try:
            work = _folder(tmp_path)
            script = "head -c 20000000 /dev/urandom > big.bin; echo hi > small.txt"
            server.cli(
                "job", "run", "--output", "*", "--", "sh", "-c", script, cwd=work, check=True
            )
            job_id = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]["id"]
            listed = _artifacts(server, job_id)
            assert fake.keys("jobs") == sorted(f"laino/{a['sha256']}" for a in listed)
            assert not (home / "artifacts").exists() or not list((home / "artifacts").rglob("??/*"))
            out = tmp_path / "big.dl"
            server.cli("job", "download", job_id, "big.bin", "-o", str(out), check=True)
            assert _sha(out) == _sha(work / "big.bin")
            used = server.cli(
                "job",
                "run",
                "--input",
                f"job:{job_id}:small.txt=got.txt",
                "--",
                "cat",
                "got.txt",
                cwd=work,
                check=True,
            )
            assert used.stdout == "hi\n"
            time.sleep(1.1)
            server.cli("job", "prune", "--older-than", "1s", check=True)
            assert fake.keys("jobs") == []
            # The store goes away (the fake keeps nothing across a restart, so last): a clear
            # error, and the server carries on.
            server.cli("job", "run", "--output", "*", "--", "true", cwd=work, check=True)
            last = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]["id"]
            fake.stop()
            away = server.cli("job", "download", last, "small.txt", "-o", str(tmp_path / "x"))
            assert away.returncode != 0
            assert "the artifact store (--artifacts) is unavailable; try again" in away.stderr
            assert server.cli("job", "get", last).returncode == 0
        finally:
            server.stop()
            server.cleanup_workers()
    finally:
        fake.stop()


def test_a_cancelled_job_keeps_no_outputs_and_ends_at_once(tmp_path: Path) -> None:
    with _running(tmp_path) as server:
        work = _folder(tmp_path)
        script = "head -c 50000000 /dev/urandom > big.bin; echo written; sleep 60"
        job_id = server.cli(
            "job", "submit", "--output", "big.bin", "--", "sh", "-c", script, cwd=work, check=True
        ).stdout.strip()
        assert_eventually(lambda: "written" in server.cli("job", "logs", job_id).stdout)
        server.cli("job", "cancel", job_id, check=True)
        assert server.wait_state(job_id, ENDED, timeout=15)["state"] == "CANCELLED"
        assert _artifacts(server, job_id) == []


def test_a_download_of_a_path_no_file_can_have_is_not_found(server: Server, tmp_path: Path) -> None:
    server.cli(
        "job",
        "run",
        "--output",
        "a",
        "--",
        "sh",
        "-c",
        "echo a > a",
        cwd=_folder(tmp_path),
        check=True,
    )
    job_id = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]["id"]
    for path in ("a\0b", "x" * 100_000, ""):
        request = pb.DownloadArtifactRequest(job_id=job_id, path=path)
        with pytest.raises(grpc.RpcError) as refused:
            list(server.jobs.DownloadArtifact(request, timeout=10))
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND, path[:20]
    with pytest.raises(grpc.RpcError) as refused:
        server.jobs.ListArtifacts(pb.ListArtifactsRequest(job_id="nope\0"), timeout=10)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_download_goes_into_a_folder_named_and_says_when_it_cannot_write(
    server: Server, tmp_path: Path
) -> None:
    work = _folder(tmp_path)
    server.cli("job", "run", "--output", "a.txt", "--", "sh", "-c", "echo kept > a.txt", cwd=work)
    job_id = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)[0]["id"]
    into = tmp_path / "into"
    into.mkdir()
    server.cli("job", "download", job_id, "a.txt", "-o", str(into), check=True)
    assert (into / "a.txt").read_text() == "kept\n"
    server.cli("job", "download", job_id, "--all", "-o", str(into), check=True)
    with tarfile.open(into / f"{job_id}-artifacts.tar") as tar:
        assert tar.getnames() == ["a.txt"]
    nowhere = server.cli("job", "download", job_id, "a.txt", "-o", str(tmp_path / "no" / "a"))
    assert nowhere.returncode == 1
    assert (
        nowhere.stderr.strip() == f"Error: cannot write {tmp_path}/no/a: No such file or directory"
    )
    full = server.cli("job", "download", job_id, "a.txt", "-o", "/dev/full")
    assert full.returncode == 1 and "cannot write" in full.stderr and "Traceback" not in full.stderr
    assert Path("/dev/full").is_char_device()  # written to, never replaced by a file
