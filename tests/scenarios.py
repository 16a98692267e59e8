"""Realistic jobs run through the real CLI, each checked as a user would check it.

`python -m tests.scenarios docker hello cpu ...` (the `job-docker-*` recipes) runs them against
$LAINO_SERVER, or against a server of its own when none answers there, prints each job's logs
live, and fails unless every job ends as expected within the deadline, its lines reached the
CLI while it ran, and no worker of it is left behind.

`kubernetes` (the `job-k8s-*` recipes) runs them on the cluster that KUBECONFIG or
~/.kube/config names, in $LAINO_K8S_NAMESPACE [default], and stops at once without one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from laino.cli.client import ADMIN
from laino.providers.bridge import interface_address
from tests.conftest import LAINO, containers

DEADLINE = 15.0

CPU = """
import hashlib, time
start, rounds, digest = time.time(), 0, b"laino"
while time.time() - start < 3:
    for _ in range(20000):
        digest = hashlib.sha256(digest).digest()
    rounds += 1
    if rounds % 25 == 0:
        print(f"cpu: {rounds * 20000} hashes after {time.time() - start:.1f}s", flush=True)
print(f"cpu: done, {rounds * 20000} hashes, digest {digest.hex()[:16]}")
"""

ALLOCATE = """
import sys, time
step, total, chunks = 16 * 2**20, int(sys.argv[1]) * 2**20, []
while len(chunks) * step < total:
    chunks.append(bytearray(step))
    chunks[-1][::4096] = b"x" * len(chunks[-1][::4096])  # touch every page: resident
    print(f"memory: {len(chunks) * 16} MiB allocated", flush=True)
    time.sleep(0.05)
print("memory: all allocated")
"""

DATA = """
import random, statistics
random.seed(7)
cities = ["Lisbon", "Oslo", "Lima", "Pune", "Accra"]
records = [
    {"id": i, "city": random.choice(cities), "amount": random.uniform(1, 500)}
    for i in range(10000)
]
by_city = {}
for record in records:
    by_city.setdefault(record["city"], []).append(record["amount"])
print(f"records: {len(records)}")
for city in sorted(by_city):
    amounts = by_city[city]
    mean = statistics.mean(amounts)
    print(f"{city:8} n={len(amounts):5} mean={mean:7.2f} max={max(amounts):6.2f}")
print(f"total: {sum(r['amount'] for r in records):.2f}")
"""

BUILD = """
set -e
echo "==> configure"; sleep 0.3; echo "checking for cc... cc"; echo "checking for python3... yes"
for n in 1 2 3 4 5; do echo "==> compile [$n/5] src/module$n.c"; sleep 0.3; done
echo "==> test"; sleep 0.3; echo "12 passed, 0 failed"
echo "==> package"; tar -czf /tmp/build.tgz -C /etc hostname 2>/dev/null || true; sleep 0.2
echo "BUILD OK"
"""

ML = """
import random, time
random.seed(1)
xs = [random.uniform(-1, 1) for _ in range(400)]
data = [(x, 3.0 * x + 0.5 + random.gauss(0, 0.1)) for x in xs]
w, b, rate = 0.0, 0.0, 0.1
def loss():
    return sum((w * x + b - y) ** 2 for x, y in data) / len(data)
first = loss()
for epoch in range(1, 11):
    for x, y in data:
        error = w * x + b - y
        w -= rate * error * x / 10
        b -= rate * error / 10
    print(f"epoch {epoch:2} loss={loss():.4f} w={w:.3f} b={b:.3f}", flush=True)
    time.sleep(0.2)
assert loss() < first / 10, "the model did not learn"
print(f"trained: loss {first:.3f} -> {loss():.4f}")
"""


@dataclass(frozen=True)
class Scenario:
    """A job, and what a user expects to see of it."""

    command: tuple[str, ...]
    options: tuple[str, ...] = ()
    state: str = "SUCCEEDED"
    exit_code: int = 0
    output: str = ""
    message: str = ""
    # Long enough that its first lines must reach the CLI well before it ends.
    live: bool = False


SCENARIOS = {
    "hello": Scenario(("echo", "hello from laino"), output="hello from laino"),
    "cpu": Scenario(("python3", "-c", CPU), ("--cpu", "1"), output="cpu: done", live=True),
    "memory": Scenario(
        ("python3", "-c", ALLOCATE, "128"), ("--memory", "256m"), output="memory: all allocated"
    ),
    "memory-oom": Scenario(
        ("python3", "-c", ALLOCATE, "1024"),
        ("--memory", "192m"),
        state="FAILED",
        exit_code=137,
        message="out of memory",
    ),
    "data": Scenario(("python3", "-c", DATA), output="records: 10000"),
    "build": Scenario(("sh", "-c", BUILD), output="BUILD OK", live=True),
    "ml": Scenario(("python3", "-c", ML), output="trained: loss", live=True),
}
# Only Kubernetes gives jobs GPUs.
GPU = Scenario(
    ("sh", "-c", "nvidia-smi -L 2>/dev/null || echo 'no GPU is present'"),
    ("--gpus", "1"),
    output="GPU",
)
NO_CLUSTER = """no Kubernetes cluster to run on: {why}
Point KUBECONFIG (or ~/.kube/config) at one (kind, k3d, minikube or a real cluster), load the
worker image into it (kind load docker-image laino/worker:VERSION, after just worker-image),
and set LAINO_K8S_NAMESPACE [default]. Pods dial this machine at LAINO_ADVERTISE [the docker
bridge address]; a server of your own goes in LAINO_SERVER."""


@dataclass
class Run:
    """What the CLI showed of one job, and when."""

    name: str
    lines: list[tuple[float, str]] = field(default_factory=list)
    stderr: str = ""
    returncode: int = 0
    started: float = 0.0
    ended: float = 0.0


def run(
    server: str, provider: str, name: str, *, echo: bool = True, token: str = ""
) -> dict[str, Any]:
    """Runs one scenario through `laino job run`; raises AssertionError when it disappoints.

    Without `token`, the CLI finds one as it would for the user (LAINO_TOKEN, files).
    """
    scenario = GPU if name == "gpu" else SCENARIOS[name]
    tag = uuid4().hex
    args = [LAINO, "job", "run", "--provider", provider, "-l", f"scenario={tag}"]
    env = {**os.environ, "LAINO_SERVER": server, **({"LAINO_TOKEN": token} if token else {})}
    shown = Run(name, started=time.time())
    proc = subprocess.Popen(
        [*args, *scenario.options, "--", *scenario.command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    errors = threading.Thread(target=lambda: setattr(shown, "stderr", proc.stderr.read()))
    errors.start()
    for line in proc.stdout:
        shown.lines.append((time.time(), line.rstrip("\n")))
        if echo:
            print(f"  {name} | {line}", end="", flush=True)
    shown.returncode = proc.wait()
    shown.ended = time.time()
    errors.join()
    job = _job(env, tag)
    _check(scenario, shown, job)
    _no_worker_left(job["id"], provider)
    return job


def _job(env: dict[str, str], tag: str) -> dict[str, Any]:
    listed = subprocess.run(
        [LAINO, "job", "list", "-l", f"scenario={tag}", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    (job,) = json.loads(listed.stdout)
    result: dict[str, Any] = job
    return result


def _check(scenario: Scenario, shown: Run, job: dict[str, Any]) -> None:
    what = f"{shown.name}: job {job['id']} {job['state']} ({job['message']})"
    what += f"; stderr: {shown.stderr}"
    assert job["state"] == scenario.state, what
    assert shown.returncode == scenario.exit_code, f"CLI exit {shown.returncode}; {what}"
    took = job["updated_at"] - job["created_at"]
    assert took <= DEADLINE, f"{what}: terminal after {took:.1f}s"
    assert shown.ended - shown.started <= DEADLINE + 2, f"{what}: the CLI took too long"
    text = "\n".join(line for _, line in shown.lines)
    assert scenario.output in text, f"{what}: {scenario.output!r} not in the output"
    assert scenario.message in job["message"] + shown.stderr, what
    if scenario.live:
        ahead = job["updated_at"] - shown.lines[0][0]
        assert ahead >= 0.5, f"{what}: the first line arrived {ahead:.2f}s before the end"


def _no_worker_left(job_id: str, provider: str) -> None:
    if provider not in LEFT:
        return
    deadline = time.monotonic() + 10
    while left := LEFT[provider](f"laino.job={job_id}"):
        assert time.monotonic() < deadline, f"workers left behind by job {job_id}: {left}"
        time.sleep(0.2)


def pods(label: str) -> list[str]:
    """Names of the pods and Secrets in $LAINO_K8S_NAMESPACE that carry `label` (KEY=VALUE)."""
    from kubernetes import client

    from laino.providers.kubernetes import connect

    core = client.CoreV1Api(connect())
    namespace = os.environ.get("LAINO_K8S_NAMESPACE", "default")
    key, _, value = label.partition("=")
    found = [*core.list_namespaced_pod(namespace, label_selector=label).items]
    found += core.list_namespaced_secret(namespace, label_selector=label).items
    return [
        str(o.metadata.name)
        for o in found
        if o.metadata is not None and (o.metadata.labels or {}).get(key) == value
    ]


LEFT = {"docker": containers, "kubernetes": pods}


def _no_cluster() -> str:
    """Why no Kubernetes cluster answers, or "" when one does."""
    from kubernetes import client

    from laino.providers.base import ProviderError
    from laino.providers.kubernetes import API_ERRORS, connect

    try:
        client.VersionApi(connect()).get_code(_request_timeout=5)
    except ProviderError as err:
        return str(err)
    except API_ERRORS as err:
        return f"the cluster does not answer: {str(err).splitlines()[0]}"
    return ""


def _gpu_nodes() -> int:
    """How many nodes offer nvidia.com/gpu, or -1 when the nodes cannot be listed."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from laino.providers.kubernetes import connect

    try:
        nodes = client.CoreV1Api(connect()).list_node(_request_timeout=10).items
    except ApiException:
        return -1
    return sum(1 for n in nodes if n.status and (n.status.allocatable or {}).get("nvidia.com/gpu"))


def _serving(server: str) -> bool:
    with grpc.insecure_channel(server) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return True


def main(argv: list[str]) -> int:
    e2e = "--e2e" in argv
    provider, *names = [arg for arg in argv if arg != "--e2e"]
    names = names or list(SCENARIOS) + (["gpu"] if provider == "kubernetes" else [])
    if provider == "kubernetes" and (why := _no_cluster()):
        print(NO_CLUSTER.format(why=why), file=sys.stderr)
        return 2
    server = os.environ.get("LAINO_SERVER", "127.0.0.1:50661")
    home, own = _ensure_server(server, provider)
    token = (home / ADMIN).read_text().strip() if home else ""
    results: dict[str, str] = {}
    try:
        for name in names:
            print(f"== {provider} {name}", flush=True)
            if name == "gpu" and _gpu_nodes() == 0:
                results[name] = "ok   no GPU is present: no node offers nvidia.com/gpu"
                print(results[name], flush=True)
                continue
            try:
                job = run(server, provider, name, token=token)
            except AssertionError as err:
                results[name] = f"FAIL {err}"
            else:
                took = job["updated_at"] - job["created_at"]
                results[name] = f"ok   {job['state']} in {took:.1f}s"
            print(f"{results[name][:4]} {name}: {results[name][5:]}", flush=True)
    finally:
        if own is not None:
            own.terminate()
            own.wait()
    failed = [name for name, result in results.items() if result.startswith("FAIL")]
    if e2e:
        print("\ncriteria: terminal within 15 s, lines shown live, expected state, nothing left")
        for name, result in results.items():
            print(f"  {name:12} {result}")
        if home is not None and provider in LEFT:
            left = LEFT[provider](f"laino.installation={(home / 'installation').read_text()}")
            print(f"  workers of this installation left behind: {len(left)}")
            failed += ["leftovers"] if left else []
    print(f"{len(names) - len(failed)} of {len(names)} as expected", flush=True)
    return 1 if failed else 0


def _ensure_server(
    server: str, provider: str
) -> tuple[Path | None, subprocess.Popen[bytes] | None]:
    """The server at `server`, or one of our own there when none answers."""
    if _serving(server):
        return None, None
    home = Path(tempfile.mkdtemp(prefix="laino-scenarios-"))
    print(f"starting a server on {server} (home {home})")
    args = [LAINO, "server", "--home", str(home), "--listen", server]
    if provider == "kubernetes":
        agent_port = int(server.rsplit(":", 1)[1]) + 1
        host = os.environ.get("LAINO_ADVERTISE") or interface_address()
        if host is None:
            raise SystemExit("set LAINO_ADVERTISE to an address of this machine that pods reach")
        advertise = host if ":" in host else f"{host}:{agent_port}"
        namespace = os.environ.get("LAINO_K8S_NAMESPACE", "default")
        # Plaintext to pods on the cluster's network: a test set-up, not a deployment.
        args += ["--agent-listen", f"0.0.0.0:{agent_port}", "--advertise", advertise, "--insecure"]
        args += ["--k8s-namespace", namespace]
    log = open(home / "server.log", "wb")  # noqa: SIM115
    own = subprocess.Popen(args, stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while not _serving(server):
        assert time.monotonic() < deadline and own.poll() is None, "the server did not start"
        time.sleep(0.1)
    return home, own


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
