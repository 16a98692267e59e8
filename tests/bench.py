"""`just bench`: latency and log throughput on the embedded defaults, the docker provider's cost
over a raw container start, a thousand followers of one job, what tokens and TLS cost a call,
the dashboard's load time, jobs per second on each database with the CPU each part spent, with
reference points beside them, and what 50,000 jobs of history cost each new one; ends with the
table of aims. Prints; asserts nothing."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

import grpc
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from laino.orchestrator.access import TokensApp
from laino.v1 import laino_pb2 as pb
from tests.aims import Aims
from tests.conftest import LAINO, Server, free_port
from tests.crowd import follow
from tests.grpc_floor import bare_server, grpc_floor
from tests.history_cost import history_cost
from tests.nats import Nats
from tests.otlp import Receiver
from tests.page_load import page_load
from tests.partitions_cost import partitions_cost
from tests.postgres import Postgres
from tests.references import broker_round_trip, cli_first_call, grpc_import
from tests.scheduling_cost import scheduling_cost
from tests.store_floor import store_floor

RUNS = 30
DOCKER_RUNS = 20
OBSERVED_RUNS = 20
BATCH = 500
PARTITIONS_BATCH = 300
LINES = 1_000_000
FLOOR_FORKS = 200
ACCESS_CALLS = 500
AIMS = Aims()


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def report(name: str, values: list[float]) -> None:
    print(
        f"{name:44} median {statistics.median(values) * 1000:7.1f} ms"
        f"   p95 {p95(values) * 1000:7.1f} ms   (n={len(values)})"
    )


def cli_latency(
    server: Server, extra_env: dict[str, str] | None = None, runs: int = RUNS
) -> tuple[list[float], list[float]]:
    """Wall clock from starting `laino job run -- echo` to its first line, and to its exit."""
    env = server.environ(**(extra_env or {}))
    first, total = [], []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "laino.cli.main", "job", "run", "--", "echo", "hello"],
            env=env,
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"hello\n"
        first.append(time.perf_counter() - started)
        assert proc.wait() == 0
        total.append(time.perf_counter() - started)
    return first, total


def api_latency(server: Server) -> tuple[list[float], list[float]]:
    """The same measured from a warm client: SubmitJob until the first line, and the end."""
    first, total = [], []
    for _ in range(RUNS):
        one, whole = _api_job(server)
        first.append(one)
        total.append(whole)
    return first, total


def _api_job(server: Server) -> tuple[float, float]:
    """One `echo` job from a warm client: seconds to its first line, and to its end."""
    started = time.perf_counter()
    job = server.jobs.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(command=["echo", "hi"])))
    request = pb.StreamLogsRequest(job_id=job.job.id, follow=True)
    first = 0.0
    for item in server.jobs.StreamLogs(request):
        if item.HasField("page") and not first:
            first = time.perf_counter() - started
    return first, time.perf_counter() - started


def throughput(server: Server) -> tuple[float, float]:
    """Lines per second from the agent to a CLI, for a job printing LINES lines."""
    env = server.environ()
    command = ["job", "run", "--", "seq", "1", str(LINES)]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "laino.cli.main", *command], env=env, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter()
    count = 1 + sum(1 for _ in proc.stdout)
    assert proc.wait() == 0 and count == LINES, count
    return LINES / (time.perf_counter() - first), LINES / (time.perf_counter() - started)


def ready_time() -> list[float]:
    """From starting `laino server` on a fresh home to health answering SERVING."""
    times: list[float] = []
    for _ in range(30):
        if len(times) == 10:
            break
        server = Server(Path(tempfile.mkdtemp(prefix="laino-bench-")))
        # A short reconnect backoff, so the poll itself does not add a second to the result.
        channel = grpc.insecure_channel(
            server.address,
            options=[
                ("grpc.initial_reconnect_backoff_ms", 5),
                ("grpc.max_reconnect_backoff_ms", 10),
            ],
        )
        health = health_pb2_grpc.HealthStub(channel)
        started = time.perf_counter()
        server.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "laino.cli.main",
                "server",
                "--home",
                str(server.home),
                "--listen",
                server.address,
            ],
            stderr=subprocess.DEVNULL,
        )
        if _serving(health, server.proc):
            times.append(time.perf_counter() - started)
        server.stop()
    return times


def _serving(health: health_pb2_grpc.HealthStub, proc: subprocess.Popen[bytes]) -> bool:
    """Polls until the server says SERVING; False if it exited first (its port was taken
    meanwhile: the caller starts another)."""
    deadline = time.monotonic() + 60
    while proc.poll() is None:
        assert time.monotonic() < deadline, "the server did not start serving in 60 s"
        try:
            reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return True
        except grpc.RpcError:
            time.sleep(0.005)
    return False


def docker_overhead(
    server: Server, image: str, before: Callable[[], None] = lambda: None
) -> tuple[list[float], list[float]]:
    """Raw `docker run --rm IMAGE true` against `laino job run --provider docker`; `before`
    runs ahead of each laino run, unmeasured."""
    env = server.environ()
    raw, laino = [], []
    for _ in range(DOCKER_RUNS):
        started = time.perf_counter()
        subprocess.run(["docker", "run", "--rm", image, "true"], check=True)
        raw.append(time.perf_counter() - started)
        before()
        started = time.perf_counter()
        command = ["job", "run", "--provider", "docker", "--", "true"]
        subprocess.run([sys.executable, "-m", "laino.cli.main", *command], env=env, check=True)
        laino.append(time.perf_counter() - started)
    return raw, laino


def _warm_worker(server: Server, provider: str) -> None:
    """Waits until the pool has a WARM worker of the provider: each run measures a job that
    finds one, as a pool sized for its load gives every job."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = server.jobs.ListWorkers(pb.ListWorkersRequest(states=["WARM"])).workers
        if any(w.provider == provider for w in listed):
            return
        time.sleep(0.02)
    raise AssertionError(f"no WARM {provider} worker in 60 s")


def http_latency() -> None:
    """SubmitJob to the first byte of output over HTTP (a server-sent events follower) beside
    the same over gRPC, from warm clients of one server."""
    port = free_port()
    server = Server(
        Path(tempfile.mkdtemp(prefix="laino-bench-http-")), **{"http-listen": f"127.0.0.1:{port}"}
    )
    server.start()
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["authorization"] = f"Bearer {server.token}"
    try:
        over_grpc, over_http = [], []
        for _ in range(RUNS):
            over_grpc.append(_api_job(server)[0])
            started = time.perf_counter()
            job = session.post(f"{base}/v1/jobs", json={"spec": {"command": ["echo", "hi"]}})
            job_id = job.json()["job"]["id"]
            with session.get(
                f"{base}/v1/jobs/{job_id}/logs", params={"follow": "1"}, stream=True
            ) as follow:
                for line in follow.iter_lines():
                    if line.startswith(b"data:"):
                        over_http.append(time.perf_counter() - started)
                        break
        report("gRPC: SubmitJob -> first line, warm client", over_grpc)
        report("HTTP: POST /v1/jobs -> first event, warm client", over_http)
    finally:
        server.stop()
        server.cleanup_workers()


def pool_latency(image: str) -> None:
    """The same jobs as above, each taking a worker from a warm pool."""
    home = Path(tempfile.mkdtemp(prefix="laino-bench-pool-"))
    server = Server(home, warm="process=1,docker=1")
    server.start()
    try:
        first, total = [], []
        for _ in range(RUNS):
            _warm_worker(server, "process")
            one, whole = _api_job(server)
            first.append(one)
            total.append(whole)
        report("from a pool: SubmitJob -> first line", first)
        report("from a pool: SubmitJob -> terminal", total)
        median = statistics.median(first)
        AIMS.check(
            "from a pool: SubmitJob -> first line <= 15 ms",
            f"{median * 1000:.1f} ms",
            median <= 0.015,
        )
        raw, laino = docker_overhead(server, image, partial(_warm_worker, server, "docker"))
        report("reference: docker run --rm IMAGE true", raw)
        report("from a pool: laino job run --provider docker", laino)
        ratio = statistics.median(laino) / statistics.median(raw)
        AIMS.check("docker job from a pool / docker run: < 1.0", f"{ratio:.2f}", ratio < 1.0)
    finally:
        server.stop()
        server.cleanup_workers()


def observability_cost() -> None:
    """The hello job with tracing (OTLP to a local receiver) and metrics on, and with both off."""
    receiver = Receiver()
    plain = Server(Path(tempfile.mkdtemp(prefix="laino-bench-")))
    observed = Server(
        Path(tempfile.mkdtemp(prefix="laino-bench-")),
        env=receiver.env,
        **{"metrics-listen": f"127.0.0.1:{free_port()}"},
    )
    plain.start()
    observed.start()
    try:
        _, off = cli_latency(plain, runs=OBSERVED_RUNS)
        _, on = cli_latency(observed, receiver.env, runs=OBSERVED_RUNS)
        report("hello job, tracing and metrics off", off)
        report("hello job, tracing (OTLP) and metrics on", on)
        print(f"{'  spans received':44} {len(receiver.spans)}")
    finally:
        for server in (plain, observed):
            server.stop()
            server.cleanup_workers()
        receiver.stop()


def batch(server: Server, count: int) -> tuple[float, float]:
    """Submits `count` `true` jobs at once; seconds until all are submitted, and all ended."""
    started = time.perf_counter()
    ids = [
        server.jobs.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(command=["true"]))).job.id
        for _ in range(count)
    ]
    submitted = time.perf_counter() - started
    # Asks for one unfinished job, not for every job: the wait must not load the server.
    unfinished = pb.ListJobsRequest(
        states=[pb.QUEUED, pb.PROVISIONING, pb.ASSIGNED, pb.RUNNING, pb.RETRYING], page_size=1
    )
    while server.jobs.ListJobs(unfinished).jobs:
        time.sleep(0.2)
    ended = time.perf_counter() - started
    jobs = server.jobs.ListJobs(pb.ListJobsRequest(page_size=count)).jobs
    assert sorted(j.id for j in jobs if j.state == pb.SUCCEEDED) == sorted(ids)
    return submitted, ended


def cpu_seconds(*comms: str, pid: int = 0) -> float:
    """CPU used so far by `pid`, or by all processes named one of `comms`, with reaped children."""
    total = 0
    for entry in [str(pid)] if pid else filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        if pid or name in comms:
            total += sum(int(f) for f in fields.split()[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def agents_seconds() -> float:
    """CPU used so far by the fork server and its agents, with their jobs' reaped processes."""
    total = 0.0
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"laino.providers.forkserver" in Path(f"/proc/{entry}/cmdline").read_bytes():
                total += cpu_seconds(pid=int(entry))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def agent_floor(address: str, *mode: str) -> float:
    """CPU ms of a fork of a warm agent (tests/agent_floor.py), with the forking process's."""
    command = [sys.executable, "-m", "tests.agent_floor", address, str(FLOOR_FORKS), *mode]
    child, parent = subprocess.run(
        command, check=True, capture_output=True, text=True
    ).stdout.split()
    return float(child) + float(parent)


def floors() -> dict[str, float]:
    """The least each part of a `true` job costs, CPU ms per job: recording it (the store), the
    server's gRPC, and an agent. The server's floor is the first two."""
    store, transactions = store_floor(BATCH)
    print(
        f"{'reference: a job recorded, nothing else':44} {store:7.1f} ms CPU"
        f"   ({transactions} transactions, SQLite, through laino's applications)"
    )
    with bare_server() as (address, pid):
        calls = grpc_floor(address, partial(cpu_seconds, pid=pid), BATCH)
        print(f"{'reference: gRPC calls of a job, nothing else':44} {calls:7.1f} ms CPU (server)")
        one_call = agent_floor(address)
        print(f"{'reference: warm fork, one gRPC call, exit':44} {one_call:7.1f} ms CPU")
        agent = agent_floor(address, "--protocol")
        print(
            f"{'reference: warm fork, calls of an agent, true':44} {agent:7.1f} ms CPU"
            "   (register, its stream, the command)"
        )
    return {"store SQLite": store, "grpc": calls, "agents": agent}


def postgres_floors(url: str, count: int) -> dict[str, float]:
    """Recording a job's life on PostgreSQL, CPU ms per job: the server's part and PostgreSQL's
    own. The server's floor there adds gRPC's, measured with the others."""
    postgres = partial(cpu_seconds, "postgres")
    before = postgres()
    store, transactions = store_floor(count, url)
    own = (postgres() - before) * 1000 / count
    print(
        f"{'reference: a job recorded on PostgreSQL':44} {store:7.1f} ms CPU"
        f"   (PostgreSQL's own {own:.1f} ms; {transactions} transactions, through laino's"
        " applications)"
    )
    return {"store PostgreSQL": store, "postgres": own}


def busy_seconds() -> float:
    """CPU the whole machine spent on anything but idling and waiting for I/O."""
    ticks = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def throughput_by_database(count: int, floors: dict[str, float]) -> None:
    """Jobs per second through the whole lifecycle: SQLite, PostgreSQL, PostgreSQL with NATS;
    and where the CPU went, per job."""
    postgres = Postgres(free_port())
    nats = Nats(free_port())
    try:
        floors = floors | postgres_floors(postgres.new_database(), count)
        urls = [postgres.new_database() for _ in range(2)]
        for url in urls:
            migrate = [LAINO, "db", "migrate", "--database", url]
            subprocess.run(migrate, check=True, capture_output=True)
        setups: list[tuple[str, dict[str, str]]] = [
            ("SQLite", {}),
            ("PostgreSQL", {"database": urls[0]}),
            ("PostgreSQL + NATS", {"database": urls[1], "nats": nats.url}),
        ]
        for name, flags in setups:
            server = Server(Path(tempfile.mkdtemp(prefix="laino-bench-")), **flags)
            server.start()
            assert server.proc is not None
            meters: dict[str, Callable[[], float]] = {
                "server": partial(cpu_seconds, pid=server.proc.pid),
                "postgres": partial(cpu_seconds, "postgres"),
                "nats": partial(cpu_seconds, "nats-server"),
                "agents": agents_seconds,
                "this client": partial(cpu_seconds, pid=os.getpid()),
                "machine": busy_seconds,
            }
            before = {part: meter() for part, meter in meters.items()}
            try:
                submitted, total = batch(server, count)
                used = {part: meter() - before[part] for part, meter in meters.items()}
            finally:
                server.stop()
                server.cleanup_workers()
            print(
                f"{f'{count} true jobs, {name}':44} {count / total:7.1f} jobs/s"
                f"   (submitting {count / submitted:,.0f}/s; all ended after {total:.1f} s)"
            )
            # The rest: whatever else the machine did (the kernel, processes of no part above).
            # Counters read a moment apart: a millisecond or two either way is noise.
            rest = max(0.0, used.pop("machine") - sum(used.values()))
            parts = [f"{part} {seconds * 1000 / count:.0f}" for part, seconds in used.items()]
            print(f"{'  CPU ms per job':44} {', '.join(parts)}, the rest {rest * 1000 / count:.0f}")
            ms = {p: s * 1000 / count for p, s in used.items()}
            _throughput_aims(name, count / total, ms, floors)
    finally:
        postgres.destroy()
        nats.destroy()


# Per database: jobs/s, the server's CPU ms per job, PostgreSQL's own (None: not checked).
THROUGHPUT_AIMS = {"SQLite": (70, 10, None), "PostgreSQL": (45, 15, 8)}
AGENT_MS = 12


def _throughput_aims(
    database: str, rate: float, ms: dict[str, float], floors: dict[str, float]
) -> None:
    if database not in THROUGHPUT_AIMS:
        return
    jobs, server, postgres = THROUGHPUT_AIMS[database]
    least = {
        "server": floors[f"store {database}"] + floors["grpc"],
        "postgres": floors["postgres"] if postgres is not None else 0.0,
        "agents": floors["agents"],
    }
    most = (os.cpu_count() or 1) * 1000 / sum(least.values())
    AIMS.check(
        f"{BATCH} true jobs, {database}: >= {jobs} jobs/s",
        f"{rate:.1f}",
        rate >= jobs,
        f"at most {most:.0f}/s: the CPUs over the floors",
    )
    AIMS.check(
        f"server CPU per job, {database}: <= {server} ms",
        f"{ms['server']:.0f} ms",
        ms["server"] <= server,
        f"{least['server']:.1f} ms: the store's and gRPC's",
    )
    if postgres is not None:
        AIMS.check(
            f"PostgreSQL's CPU per job: <= {postgres} ms",
            f"{ms['postgres']:.0f} ms",
            ms["postgres"] <= postgres,
            f"{least['postgres']:.1f} ms: recording a job",
        )
    if database == "SQLite":
        AIMS.check(
            f"agent CPU per job: <= {AGENT_MS} ms",
            f"{ms['agents']:.0f} ms",
            ms["agents"] <= AGENT_MS,
            f"{least['agents']:.1f} ms: a warm fork's calls and `true`",
        )


def _calls(server: Server, job_id: str, runs: int = ACCESS_CALLS) -> list[float]:
    request = pb.GetJobRequest(job_id=job_id)
    for _ in range(20):  # a warm channel: connected, TLS handshake done
        server.jobs.GetJob(request)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        server.jobs.GetJob(request)
        times.append(time.perf_counter() - started)
    return times


def access_cost() -> None:
    """What the token check and TLS add to one call on a warm channel (aim: under 1 ms)."""
    root = Path(tempfile.mkdtemp(prefix="laino-bench-"))
    tls = root / "tls"
    subprocess.run([LAINO, "tls", "init", "--dir", str(tls)], check=True, capture_output=True)
    (root / "plain").mkdir()
    (root / "tls-home").mkdir()
    plain = Server(root / "plain")
    secure = Server(
        root / "tls-home",
        **{"tls-cert": tls / "server.pem", "tls-key": tls / "server-key.pem"},
    )
    secure.use_tls(tls / "ca.pem")
    tokens = TokensApp(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(root / "tokens.db"),
            "AGGREGATE_CACHE_MAXSIZE": "5000",
        }
    )
    _, bearer = tokens.issue("bench", "read", providers=[], ttl=0, by="bench")
    checks = []
    for _ in range(ACCESS_CALLS * 10):
        started = time.perf_counter()
        tokens.authenticate(bearer)
        checks.append(time.perf_counter() - started)
    report("token check, in process (SQLite, read each call)", checks)
    for server in (plain, secure):
        server.start()
    try:
        over_plain = _calls(plain, plain.submit("true"))
        over_tls = _calls(secure, secure.submit("true"))
        report("GetJob with a token, plaintext, warm channel", over_plain)
        report("GetJob with a token, TLS, warm channel", over_tls)
        added = statistics.median(over_tls) - statistics.median(over_plain)
        print(f"{'TLS over plaintext, per call':44} {added * 1000:+7.2f} ms")
    finally:
        for server in (plain, secure):
            server.stop()
            server.cleanup_workers()


# 2,000 lines a second for 10 seconds; and 500,000 lines as fast as the job can write them.
PACED = (
    "import sys, time\n"
    "for t in range(1000):\n"
    "    sys.stdout.write(''.join('line %06d\\n' % (t * 20 + i) for i in range(20)))\n"
    "    sys.stdout.flush(); time.sleep(0.01)\n"
)
FLAT_OUT = "import sys\nfor n in range(500_000): sys.stdout.write('fast %06d\\n' % n)\n"


def followers_cost() -> None:
    """One job followed by none and by 1,000: what each follower got, how late, the server's
    peak memory, and how fast the job's output was stored."""
    print("followers of one job (all clients in this process, on this machine):")
    for name, script, lines in (("2,000 lines/s", PACED, 20_000), ("flat out", FLAT_OUT, 500_000)):
        for crowd in (0, 1000):
            server = Server(Path(tempfile.mkdtemp(prefix="laino-bench-")))
            server.start()
            try:
                job_id = server.submit("python3", "-c", script)
                followers = follow(server.address, server.token, job_id, max(crowd, 1))
                job = server.wait_state(job_id, {"SUCCEEDED"}, timeout=300)
                expected = len(followers[0].data)
                whole = sum(1 for f in followers if len(f.data) == expected and f.ended)
                delays = sorted(d for f in followers for d in f.delays)
                assert server.proc is not None
                peak = _peak_kib(server.proc.pid)
                seconds = job["updated_at"] - job["created_at"]
            finally:
                server.stop()
                server.cleanup_workers()
            p99 = delays[int(len(delays) * 0.99)]
            if crowd == 0 and script == PACED:
                AIMS.check("line -> follower p99 <= 10 ms", f"{p99 * 1000:.0f} ms", p99 <= 0.010)
            if crowd == 0 and script == FLAT_OUT:
                rate = lines / seconds
                AIMS.check("log ingestion >= 500k lines/s", f"{rate:,.0f}", rate >= 500_000)
            print(
                f"  {name:13} {crowd:5d} followers: {whole}/{len(followers)} got all"
                f" {expected:,} bytes; {lines / seconds:8,.0f} lines/s in;"
                f" read-to-follower p50 {delays[len(delays) // 2] * 1000:5.0f} ms,"
                f" p99 {p99 * 1000:5.0f} ms;"
                f" server peak {peak / 1024:4.0f} MiB"
            )


def load(count: int = 2000) -> None:
    """`count` jobs submitted at once to a server with its default capacity: how long they take,
    how fast `job list` answers meanwhile, and the server's peak memory."""
    server = Server(Path(tempfile.mkdtemp(prefix="laino-bench-")), capacity="")
    server.start()
    try:
        started = time.monotonic()
        spec = pb.JobSpec(command=["true"])
        ids = [server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec)).job.id for _ in range(count)]
        submitted = time.monotonic() - started
        listing: list[float] = []
        request = pb.ListJobsRequest(page_size=50)
        ended = [pb.SUCCEEDED, pb.FAILED, pb.CANCELLED, pb.TIMED_OUT]
        while True:
            begun = time.monotonic()
            page = server.jobs.ListJobs(request)
            listing.append(time.monotonic() - begun)
            # The newest 50 are the last to run: once they ended, all did.
            if all(job.state in ended for job in page.jobs):
                break
            time.sleep(0.2)
        took = time.monotonic() - started
        states = {
            pb.JobState.Name(server.jobs.GetJob(pb.GetJobRequest(job_id=i)).state) for i in ids
        }
        assert server.proc is not None
        peak = _peak_kib(server.proc.pid)
    finally:
        server.stop()
        server.cleanup_workers()
    # What retention keeps of each job for ever: its events, and those of its saga and worker.
    history = sum(
        (server.home / f"{app}.db").stat().st_size for app in ("jobs", "sagas", "workers")
    )
    listing.sort()
    print(
        f"{count:,} jobs at once (default capacity, {os.cpu_count()} process workers):"
        f" submitted in {submitted:.1f} s, all ended in {took:.0f} s ({states});"
        f" job list p50 {listing[len(listing) // 2] * 1000:.0f} ms,"
        f" p99 {listing[int(len(listing) * 0.99)] * 1000:.0f} ms,"
        f" max {listing[-1] * 1000:.0f} ms; server peak {peak / 1024:.0f} MiB;"
        f" event history {history / count / 1024:.1f} KiB a job (SQLite files)"
    )


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="laino-bench-"))
    server = Server(home)
    server.start()
    try:
        print(f"laino bench: embedded defaults (SQLite, process provider), {os.cpu_count()} cores")
        report("server start -> SERVING (fresh home)", ready_time())
        first, total = cli_latency(server)
        report("CLI start -> first line (echo)", first)
        report("CLI start -> exit (echo)", total)
        first, total = api_latency(server)
        report("SubmitJob -> first line, warm client", first)
        report("SubmitJob -> terminal, warm client", total)
        before_call = cli_first_call(RUNS)
        report("CLI start -> its first RPC on the wire", before_call)
        imports = grpc_import(RUNS)
        report("reference: python, import grpc and stubs, exit", imports)
        median = statistics.median(before_call)
        AIMS.check(
            "CLI start -> first RPC <= 60 ms",
            f"{median * 1000:.0f} ms",
            median <= 0.060,
            f"{statistics.median(imports) * 1000:.0f} ms: a Python importing gRPC and the stubs",
        )
        report("reference: NATS task to a running worker", broker_round_trip(RUNS))
        steady, overall = throughput(server)
        print(
            f"{'log throughput agent -> CLI (seq 1 1000000)':44} {steady:10,.0f} lines/s"
            f"   ({overall:,.0f} lines/s including start-up)"
        )
        image = f"laino/worker:{version('laino')}"
        raw, laino = docker_overhead(server, image)
        report("reference: docker run --rm IMAGE true", raw)
        report("laino job run --provider docker -- true", laino)
        added = statistics.median(laino) - statistics.median(raw)
        ratio = statistics.median(laino) / statistics.median(raw)
        # The raw run includes removing its container; laino removes its own after the end.
        print(
            f"{'laino over a raw container start':44} {added * 1000:+7.1f} ms   ratio {ratio:.2f}x"
        )
    finally:
        server.stop()
        server.cleanup_workers()
    pool_latency(image)
    http_latency()
    table = page_load()
    AIMS.check(
        "dashboard job table drawn, 10,000 jobs stored: <= 1 s",
        f"{table * 1000:.0f} ms",
        table <= 1.0,
    )
    followers_cost()
    load()
    scheduling_cost()
    access_cost()
    observability_cost()
    throughput_by_database(BATCH, floors())
    empty, aged = history_cost(batch, cpu_seconds, BATCH)
    AIMS.check(
        "cost per job at 50,000 jobs of history within 10% of 500",
        f"{aged:.0f} ms against {empty:.0f} ms ({aged / empty - 1:+.0%})",
        aged <= empty * 1.1,
    )
    one, three = partitions_cost(cpu_seconds, PARTITIONS_BATCH)
    AIMS.check(
        "server CPU per job, 3 servers together, within 10% of 1",
        f"{three:.0f} ms against {one:.0f} ms ({three / one - 1:+.0%})",
        three <= one * 1.1,
    )
    AIMS.print()


if __name__ == "__main__":
    main()
