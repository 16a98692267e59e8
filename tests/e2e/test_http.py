"""End to end: the HTTP/JSON API of a real server, with and without the right token."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LAINO, Server, free_port
from tests.postgres import Postgres

ENDED = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}
# Every byte value, a NUL and invalid UTF-8 among them, then a line with no newline.
HOURLY = {"name": "hourly", "every_seconds": 3600, "spec": {"command": ["echo", "tick"]}}
BINARY = r"printf '\000\001\377\376 bytes\n'; head -c 300 /dev/zero | tr '\0' x; printf tail"


class Http:
    def __init__(self, server: Server, port: int, token: str = "", scheme: str = "http"):
        self.base = f"{scheme}://127.0.0.1:{port}"
        self.token = token or server.token
        self.verify: Any = True

    def call(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> requests.Response:
        bearer = self.token if token is None else token
        headers = {
            **kw.pop("headers", {}),
            **({"authorization": f"Bearer {bearer}"} if bearer else {}),
        }
        return requests.request(
            method, self.base + path, headers=headers, timeout=30, verify=self.verify, **kw
        )

    def submit(self, *command: str, **spec: Any) -> dict[str, Any]:
        reply = self.call("POST", "/v1/jobs", json={"spec": {"command": list(command), **spec}})
        assert reply.status_code == 201, reply.text
        job: dict[str, Any] = reply.json()["job"]
        return job

    def wait(self, job_id: str, states: set[str] = ENDED, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.call("GET", f"/v1/jobs/{job_id}").json()
            if job["state"] in states:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} not in {states} after {timeout}s")


@pytest.fixture
def http(tmp_path: Path) -> Iterator[Http]:
    port = free_port()
    server = Server(tmp_path, **{"http-listen": f"127.0.0.1:{port}"})
    server.start()
    yield Http(server, port)
    server.stop()
    server.cleanup_workers()


def _events(stream: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Server-sent events as dicts: id, event, and data decoded."""
    event: dict[str, Any] = {}
    for line in stream:
        if not line:
            if event:
                yield event
            event = {}
            continue
        field, _, value = line.partition(": ")
        event[field] = json.loads(value) if field == "data" else value


def test_a_job_submitted_over_http_is_got_listed_and_its_history_and_workers_read(
    http: Http,
) -> None:
    body = {"spec": {"command": ["echo", "over http"], "labels": {"via": "http"}}}
    first = http.call("POST", "/v1/jobs", json=body, headers={"idempotency-key": "k-1"})
    again = http.call("POST", "/v1/jobs", json=body, headers={"idempotency-key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    job_id = first.json()["job"]["id"]
    assert again.json()["job"]["id"] == job_id and again.json()["created"] is False
    job = http.wait(job_id)
    assert (job["state"], job["exit_code"]) == ("SUCCEEDED", 0)
    listed = http.call("GET", "/v1/jobs", params={"state": "SUCCEEDED", "label": "via=http"})
    assert [j["id"] for j in listed.json()["jobs"]] == [job_id]
    assert http.call("GET", "/v1/jobs", params={"label": "via=grpc"}).json().get("jobs", []) == []
    events = http.call("GET", f"/v1/jobs/{job_id}/events").json()["events"]
    assert events[0]["type"] == "Submitted" and events[0]["data"]["key"] == "k-1"
    assert {"job", "saga", "worker"} <= {e["source"] for e in events}
    workers = http.call("GET", "/v1/workers", params={"state": "TERMINATED"}).json()["workers"]
    assert [w["job_id"] for w in workers] == [job_id]
    assert http.call("GET", f"/v1/jobs/{job_id}/logs").content == b"over http\n"
    trace = http.call("GET", f"/v1/jobs/{job_id}/trace").json()
    names = [p["name"] for p in trace["phases"]]
    assert names == ["queued", "provisioning", "registration", "dispatch", "running", "cleanup"]
    assert trace["pools"] == {} and not any(p["ongoing"] for p in trace["phases"])


def test_a_jobs_artifacts_are_listed_and_downloaded_over_http(http: Http) -> None:
    job = http.submit("sh", "-c", "mkdir -p d && printf '\\000\\377x' > d/bin.dat", outputs=["d/*"])
    http.wait(job["id"])
    listed = http.call("GET", f"/v1/jobs/{job['id']}/artifacts").json()["artifacts"]
    assert [(a["path"], a["size"]) for a in listed] == [("d/bin.dat", "3")]
    got = http.call("GET", f"/v1/jobs/{job['id']}/artifacts/d/bin.dat")
    assert got.content == b"\x00\xffx"
    assert got.headers["content-disposition"] == 'attachment; filename="bin.dat"'
    missing = http.call("GET", f"/v1/jobs/{job['id']}/artifacts/d/none")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_output_comes_byte_for_byte_raw_and_as_events(http: Http) -> None:
    job = http.submit("sh", "-c", BINARY)
    http.wait(job["id"])
    expected = subprocess.run(["sh", "-c", BINARY], capture_output=True, check=True).stdout
    raw = http.call("GET", f"/v1/jobs/{job['id']}/logs")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.content == expected
    followed = http.call("GET", f"/v1/jobs/{job['id']}/logs", params={"follow": "true"})
    assert followed.headers["content-type"].startswith("text/event-stream")
    events = list(_events(iter(followed.text.split("\n"))))
    assert events[-1]["event"] == "end" and events[-1]["data"]["state"] == "SUCCEEDED"
    pieces = [
        e["data"]["text"].encode() if "text" in e["data"] else _b64(e["data"]["base64"])
        for e in events[:-1]
    ]
    assert b"".join(pieces) == expected


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def test_a_follower_that_reconnects_with_last_event_id_misses_and_repeats_nothing(
    http: Http,
) -> None:
    job = http.submit("sh", "-c", "for i in $(seq 1 40); do echo line $i; sleep 0.05; done")
    seen: list[str] = []
    last = ""
    for _ in range(100):  # reconnect after every second chunk, until the end
        headers = {"last-event-id": last} if last else {}
        with http.call(
            "GET",
            f"/v1/jobs/{job['id']}/logs",
            params={"follow": "1"},
            headers=headers,
            stream=True,
        ) as reply:
            lines = reply.iter_lines(decode_unicode=True)
            ended = False
            for taken, event in enumerate(_events(lines), 1):
                if event["event"] == "end":
                    ended = True
                    break
                seen.append(event["data"]["text"])
                last = event["id"]
                if taken == 2:
                    break
        if ended:
            break
    assert "".join(seen) == "".join(f"line {i}\n" for i in range(1, 41))


def test_a_running_job_is_cancelled_over_http(http: Http) -> None:
    job = http.submit("sleep", "60")
    http.wait(job["id"], {"RUNNING"})
    cancelled = http.call("POST", f"/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["id"] == job["id"]
    assert http.wait(job["id"])["state"] == "CANCELLED"
    again = http.call("POST", f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 400 and again.json()["error"]["code"] == "FAILED_PRECONDITION"


def test_every_route_asks_for_a_token(http: Http) -> None:
    job = http.submit("true")
    http.wait(job["id"])
    reads = [
        ("GET", "/v1/jobs"),
        ("GET", f"/v1/jobs/{job['id']}"),
        ("GET", f"/v1/jobs/{job['id']}/events"),
        ("GET", f"/v1/jobs/{job['id']}/logs"),
        ("GET", f"/v1/jobs/{job['id']}/trace"),
        ("GET", f"/v1/jobs/{job['id']}/artifacts"),
        ("GET", f"/v1/jobs/{job['id']}/artifacts/out.txt"),
        ("GET", "/v1/workers"),
        ("GET", "/v1/schedules"),
        ("GET", "/v1/schedules/nightly"),
        ("GET", "/v1/pools"),
        ("GET", "/v1/queues"),
    ]
    writes = [
        ("POST", "/v1/jobs"),
        ("POST", f"/v1/jobs/{job['id']}/cancel"),
        ("POST", "/v1/schedules"),
        ("POST", "/v1/schedules/nightly/pause"),
        ("POST", "/v1/schedules/nightly/resume"),
        ("POST", "/v1/schedules/nightly/trigger"),
        ("DELETE", "/v1/schedules/nightly"),
        ("POST", "/v1/pools"),
        ("DELETE", "/v1/pools/process"),
    ]
    for method, path in reads + writes:
        nobody = http.call(method, path, token="")
        assert nobody.status_code == 401, (method, path)
        assert nobody.json()["error"]["code"] == "UNAUTHENTICATED"
        wrong = http.call(method, path, token="not-a-token")
        assert wrong.status_code == 401, (method, path)
    # Without a token, a body is not even read: 10 MB is refused as unauthenticated.
    flood = http.call("POST", "/v1/jobs", token="", data=b"x" * (10 << 20))
    assert flood.status_code == 401


def test_a_read_token_reads_and_may_not_submit_or_cancel(tmp_path: Path) -> None:
    port = free_port()
    server = Server(tmp_path, **{"http-listen": f"127.0.0.1:{port}"})
    server.start()
    try:
        admin = Http(server, port)
        job = admin.submit("true")
        admin.wait(job["id"])
        secret = server.cli("token", "create", "viewer", "--role", "read", check=True).stdout
        viewer = Http(server, port, token=secret.strip())
        assert viewer.call("GET", f"/v1/jobs/{job['id']}").status_code == 200
        assert viewer.call("GET", f"/v1/jobs/{job['id']}/logs").status_code == 200
        assert viewer.call("GET", "/v1/schedules").status_code == 200
        assert viewer.call("GET", "/v1/queues").status_code == 200
        submit = viewer.call("POST", "/v1/jobs", json={"spec": {"command": ["true"]}})
        cancel = viewer.call("POST", f"/v1/jobs/{job['id']}/cancel")
        schedule = viewer.call("POST", "/v1/schedules", json=HOURLY)
        for refused in (submit, cancel, schedule):
            assert refused.status_code == 403
            assert "this needs submit" in refused.json()["error"]["message"]
        # A pool holds places for everyone: only an admin sets one.
        secret = server.cli("token", "create", "ci", "--role", "submit", check=True).stdout
        submitter = Http(server, port, token=secret.strip())
        assert submitter.call("POST", "/v1/schedules", json=HOURLY).status_code == 201
        pool = submitter.call("POST", "/v1/pools", json={"provider": "process", "size": 1})
        assert pool.status_code == 403 and "this needs admin" in pool.json()["error"]["message"]
    finally:
        server.stop()
        server.cleanup_workers()


def test_bad_requests_are_clear_json_errors(http: Http) -> None:
    cases = [
        (("POST", "/v1/jobs"), {"data": "not json"}, 400, "INVALID_ARGUMENT"),
        (("POST", "/v1/jobs"), {"json": [1, 2]}, 400, "INVALID_ARGUMENT"),
        (("POST", "/v1/jobs"), {"json": {"spec": {"command": []}}}, 400, "INVALID_ARGUMENT"),
        (("POST", "/v1/jobs"), {"json": {"spec": {"nope": 1}}}, 400, "INVALID_ARGUMENT"),
        (
            ("POST", "/v1/jobs"),
            {"json": {"spec": {"command": ["a\u0000b"]}}},
            400,
            "INVALID_ARGUMENT",
        ),
        (  # a lone surrogate, which JSON can escape and UTF-8 cannot carry
            ("POST", "/v1/jobs"),
            {"data": '{"spec": {"command": ["echo", "\\ud800"]}}'},
            400,
            "INVALID_ARGUMENT",
        ),
        (("GET", "/v1/jobs"), {"params": {"state": "BOGUS"}}, 400, "INVALID_ARGUMENT"),
        (("GET", "/v1/jobs"), {"params": {"page_size": "-1"}}, 400, "INVALID_ARGUMENT"),
        (("GET", "/v1/jobs"), {"params": {"page_token": "abc"}}, 400, "INVALID_ARGUMENT"),
        (("GET", "/v1/jobs/not-an-id"), {}, 404, "NOT_FOUND"),
        (("GET", "/v1/jobs/6f1e2bb0-0000-0000-0000-000000000000/logs"), {}, 404, "NOT_FOUND"),
        (("GET", "/v1/workers"), {"params": {"state": "SLEEPY"}}, 400, "INVALID_ARGUMENT"),
        (
            ("POST", "/v1/jobs"),
            {"data": '{"spec": {"command": ["true"], "timeout_seconds": NaN}}'},
            400,
            "INVALID_ARGUMENT",
        ),
        (
            ("POST", "/v1/jobs"),
            {"json": {"spec": {"command": ["true"], "log_limit_bytes": 2**64}}},
            400,
            "INVALID_ARGUMENT",
        ),
        (
            ("POST", "/v1/jobs"),
            {"data": b'{"spec": {"command": ["' + b"x" * (5 << 20) + b'"]}}'},
            413,
            "INVALID_ARGUMENT",
        ),
    ]
    for (method, path), kw, status, code in cases:
        reply = http.call(method, path, **kw)
        assert (reply.status_code, reply.json()["error"]["code"]) == (status, code), (path, kw)
    job = http.submit("true")
    for bad in ("-5", "x", str(2**70)):
        reply = http.call("GET", f"/v1/jobs/{job['id']}/logs", headers={"last-event-id": bad})
        assert reply.status_code == 400, bad


def test_the_openapi_document_names_every_route(http: Http) -> None:
    document = requests.get(http.base + "/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/events",
        "/v1/jobs/{job_id}/logs",
        "/v1/jobs/{job_id}/trace",
        "/v1/jobs/{job_id}/artifacts",
        "/v1/jobs/{job_id}/artifacts/{path}",
        "/v1/workers",
        "/v1/schedules",
        "/v1/schedules/{name}",
        "/v1/schedules/{name}/pause",
        "/v1/schedules/{name}/resume",
        "/v1/schedules/{name}/trigger",
        "/v1/pools",
        "/v1/pools/{provider}",
        "/v1/queues",
    }


def test_a_schedule_is_created_triggered_paused_and_deleted_over_http(http: Http) -> None:
    made = http.call("POST", "/v1/schedules", json=HOURLY)
    assert made.status_code == 201, made.text
    assert made.json()["every_seconds"] == 3600 and len(made.json()["next_fires"]) == 5
    again = http.call("POST", "/v1/schedules", json=HOURLY)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "ALREADY_EXISTS")
    job = http.call("POST", "/v1/schedules/hourly/trigger").json()
    assert http.wait(job["id"])["state"] == "SUCCEEDED"
    assert http.call("GET", f"/v1/jobs/{job['id']}/logs").content == b"tick\n"
    runs = http.call("GET", "/v1/schedules/hourly").json()["runs"]
    assert [(r["job_id"], r["state"]) for r in runs] == [(job["id"], "SUCCEEDED")]
    paused = http.call("POST", "/v1/schedules/hourly/pause").json()
    assert paused["paused"] is True and paused["next_fires"] == []
    assert http.call("POST", "/v1/schedules/hourly/resume").json()["paused"] is False
    assert [s["name"] for s in http.call("GET", "/v1/schedules").json()["schedules"]] == ["hourly"]
    assert http.call("DELETE", "/v1/schedules/hourly").status_code == 200
    gone = http.call("GET", "/v1/schedules/hourly")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "NOT_FOUND")
    bad = http.call("POST", "/v1/schedules", json={**HOURLY, "name": "x", "cron": "61 * * * *"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "INVALID_ARGUMENT")


def test_queues_show_each_providers_places_and_waiting_jobs(tmp_path: Path) -> None:
    port = free_port()
    server = Server(tmp_path, capacity="process=1", **{"http-listen": f"127.0.0.1:{port}"})
    server.start()
    try:
        http = Http(server, port)
        first = http.submit("sleep", "30")
        http.wait(first["id"], {"RUNNING"})
        waiting = http.submit("true")
        queues = {q["provider"]: q for q in http.call("GET", "/v1/queues").json()["queues"]}
        assert set(queues) == {"process", "docker", "kubernetes"}
        process = queues["process"]
        assert (process["capacity"], process["running"], process["queued"]) == (1, 1, 1)
        assert abs(process["oldest_queued_at"] - waiting["created_at"]) < 0.01
        assert (queues["docker"]["running"], queues["docker"]["queued"]) == (0, 0)
        http.call("POST", f"/v1/jobs/{first['id']}/cancel")
        http.wait(waiting["id"])
        # A pool's idle worker holds a place, shown apart from the jobs'.
        pool = http.call("POST", "/v1/pools", json={"provider": "process", "size": 1})
        assert (pool.status_code, pool.json()["size"]) == (200, 1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            process = http.call("GET", "/v1/queues").json()["queues"][0]
            if process["pooled"] == 1:
                break
            time.sleep(0.2)
        assert (process["running"], process["queued"], process["pooled"]) == (0, 0, 1)
        listed = http.call("GET", "/v1/pools").json()["pools"]
        assert [(p["provider"], p["size"]) for p in listed] == [("process", 1)]
        assert http.call("DELETE", "/v1/pools/process").status_code == 200
        gone = http.call("DELETE", "/v1/pools/process")
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "NOT_FOUND")
        too_big = http.call("POST", "/v1/pools", json={"provider": "process", "size": 2})
        assert too_big.status_code == 400 and "capacity" in too_big.json()["error"]["message"]
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_taken_port_and_a_plaintext_public_address_are_refused(tmp_path: Path) -> None:
    port = free_port()
    first = Server(tmp_path / "a", **{"http-listen": f"127.0.0.1:{port}"})
    (tmp_path / "a").mkdir()
    first.start()
    try:
        (tmp_path / "b").mkdir()
        home = ["--home", str(tmp_path / "b"), "--listen", f"127.0.0.1:{free_port()}"]
        taken = subprocess.run(
            [LAINO, "server", *home, "--http-listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert taken.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port} (--http-listen)" in taken.stderr
        public = subprocess.run(
            [LAINO, "server", *home, "--http-listen", f"0.0.0.0:{free_port()}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert public.returncode != 0 and "--http-listen 0.0.0.0" in public.stderr
    finally:
        first.stop()


def test_https_with_the_servers_certificate(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    subprocess.run([LAINO, "tls", "init", "--dir", str(tls)], check=True, capture_output=True)
    port = free_port()
    (tmp_path / "home").mkdir()
    server = Server(
        tmp_path / "home",
        **{
            "tls-cert": tls / "server.pem",
            "tls-key": tls / "server-key.pem",
            "http-listen": f"127.0.0.1:{port}",
        },
    )
    server.use_tls(tls / "ca.pem")
    server.start()
    try:
        https = Http(server, port, scheme="https")
        https.verify = str(tls / "ca.pem")
        job = https.submit("echo", "secure")
        https.wait(job["id"])
        assert https.call("GET", f"/v1/jobs/{job['id']}/logs").content == b"secure\n"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"https://127.0.0.1:{port}/v1/jobs", timeout=10)  # the system's CAs
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/v1/jobs", timeout=10)
    finally:
        server.stop()
        server.cleanup_workers()


def test_a_server_with_a_follower_still_stops_at_once(tmp_path: Path) -> None:
    port = free_port()
    server = Server(tmp_path, **{"http-listen": f"127.0.0.1:{port}"})
    server.start()
    try:
        http = Http(server, port)
        job = http.submit("sleep", "60")
        http.wait(job["id"], {"RUNNING"})
        with http.call(
            "GET", f"/v1/jobs/{job['id']}/logs", params={"follow": "1"}, stream=True
        ) as follower:
            assert follower.status_code == 200
            assert server.proc is not None
            server.proc.terminate()
            assert server.proc.wait(8) == 0  # TimeoutExpired if the follower held it up
    finally:
        server.stop()
        server.cleanup_workers()


def test_signing_in_while_postgresql_is_away_is_a_clear_503(
    tmp_path: Path, postgres_url: str, postgres: Postgres
) -> None:
    port = free_port()
    server = Server(tmp_path, database=postgres_url, **{"http-listen": f"127.0.0.1:{port}"})
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        with postgres.away():
            for _ in range(3):  # the first call may be the one that finds it away
                away = requests.post(f"{base}/session", json={"token": server.token}, timeout=30)
            assert away.status_code == 503, away.text
            assert away.json()["error"]["code"] == "UNAVAILABLE"
            assert "laino_session" not in away.cookies
            listed = Http(server, port).call("GET", "/v1/jobs")
            assert listed.status_code == 503 and listed.headers["retry-after"] == "1"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            back = requests.post(f"{base}/session", json={"token": server.token}, timeout=30)
            if back.status_code == 200:
                break
            time.sleep(0.5)
        assert back.status_code == 200 and "laino_session" in back.cookies
    finally:
        server.stop()
        server.cleanup_workers()
