"""Kubernetes jobs through a real server and CLI, on the fake cluster of tests/kube.py.

The server talks to the fake API server as it would to a real one (a kubeconfig in
KUBECONFIG); the fake kubelet runs each pod's agent as a local process, which dials the
server's advertised address.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from kubernetes import client

from laino.providers.base import WorkerSpec
from laino.providers.kubernetes import KubernetesProvider
from tests import scenarios
from tests.conftest import LAINO, TERMINAL, Server, assert_eventually, free_port
from tests.kube import FakeCluster, FakeKubelet

K8S = ("--provider", "kubernetes")
IMAGE = f"laino/worker:{version('laino')}"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    made = FakeCluster().start()
    made.kubeconfig(tmp_path / "kubeconfig")
    kubelet = FakeKubelet(made, tmp_path / "node", images={IMAGE}).start()
    yield made
    kubelet.stop()
    made.stop()


@pytest.fixture
def k8s_server(tmp_path: Path, cluster: FakeCluster) -> Iterator[Server]:
    home = tmp_path / "home"
    home.mkdir()
    running = Server(home, env={"KUBECONFIG": str(tmp_path / "kubeconfig")})
    running.flags.update({"k8s-namespace": cluster.namespace, "advertise": running.agent_address})
    running.flags.update({"reconcile-interval": 0.5, "reconcile-grace": 1})
    running.start()
    yield running
    running.stop()


def _objects(cluster: FakeCluster, job_id: str) -> list[str]:
    """The pods and Secrets of a job that are still in the fake cluster."""
    core = client.CoreV1Api(cluster.api())
    found = [*core.list_namespaced_pod(cluster.namespace).items]
    found += core.list_namespaced_secret(cluster.namespace).items
    return [
        str(o.metadata.name)
        for o in found
        if o.metadata is not None and (o.metadata.labels or {}).get("laino.job") == job_id
    ]


def _only_job(server: Server) -> dict[str, Any]:
    (job,) = json.loads(server.cli("job", "list", "-o", "json", check=True).stdout)
    return dict(job)


def test_hello_job_in_a_pod_through_the_cli(k8s_server: Server, cluster: FakeCluster) -> None:
    done = k8s_server.cli("job", "run", *K8S, "--", "sh", "-c", "echo hello from a pod; pwd")
    assert done.returncode == 0, done.stderr + k8s_server.log()
    assert done.stdout.startswith("hello from a pod\n")
    assert done.stdout.rstrip().endswith("/scratch")  # the pod's /work, as the node mapped it
    job = _only_job(k8s_server)
    assert job["state"] == "SUCCEEDED" and job["attempt"] == 1
    assert_eventually(lambda: _objects(cluster, job["id"]) == [], timeout=10)


def test_an_image_that_cannot_be_pulled_fails_the_job_at_once(
    k8s_server: Server, cluster: FakeCluster
) -> None:
    done = k8s_server.cli("job", "run", *K8S, "--image", "laino/nothing:1", "--", "true")
    assert done.returncode != 0
    assert "the image cannot be pulled (ErrImagePull): laino/nothing:1: not found" in done.stderr
    job = _only_job(k8s_server)
    assert job["state"] == "FAILED" and job["attempt"] == 1  # no retry can help
    assert_eventually(lambda: _objects(cluster, job["id"]) == [], timeout=10)


def test_a_deleted_pod_is_lost_and_its_job_runs_again_in_a_new_one(
    k8s_server: Server, cluster: FakeCluster
) -> None:
    job_id = k8s_server.submit("sh", "-c", "echo running; sleep 3; echo finished", options=K8S)
    assert_eventually(lambda: "running" in k8s_server.cli("job", "logs", job_id).stdout)
    (pod,) = [name for name in _objects(cluster, job_id) if not name.endswith("-token")]
    # `kubectl delete pod`: the fake kubelet stops the agent, as a node would.
    client.CoreV1Api(cluster.api()).delete_namespaced_pod(pod, cluster.namespace)
    job = k8s_server.wait_state(job_id, TERMINAL, timeout=40)
    assert (job["state"], job["attempt"]) == ("SUCCEEDED", 2), job
    assert_eventually(lambda: _objects(cluster, job_id) == [], timeout=10)


def test_cancel_deletes_the_pod_and_its_secret(k8s_server: Server, cluster: FakeCluster) -> None:
    job_id = k8s_server.submit("sh", "-c", "echo started; sleep 600", options=K8S)
    assert_eventually(lambda: "started" in k8s_server.cli("job", "logs", job_id).stdout)
    k8s_server.cli("job", "cancel", job_id, check=True)
    assert k8s_server.wait_state(job_id, TERMINAL)["state"] == "CANCELLED"
    assert_eventually(lambda: _objects(cluster, job_id) == [], timeout=10)


def test_reconciler_removes_an_orphan_pod_and_its_secret(
    k8s_server: Server, cluster: FakeCluster
) -> None:
    # What a crash between a pod's start and its record leaves: a pod of no known worker.
    provider = KubernetesProvider(
        cluster.api(),
        installation=(k8s_server.home / "installation").read_text(),
        namespace=cluster.namespace,
        image="laino/nothing:1",
        server="127.0.0.1:9",
    )
    spec = WorkerSpec(
        name="laino-orphan-of-nobody",
        worker_id=str(UUID(int=7)),
        job_id="no-job",
        attempt=1,
        server="",
        bootstrap_token="stale",
        installation=provider.installation,
    )
    provider.start(spec)
    assert _objects(cluster, "no-job") == ["laino-orphan-of-nobody", "laino-orphan-of-nobody-token"]
    assert_eventually(lambda: _objects(cluster, "no-job") == [], timeout=10)


@pytest.mark.parametrize("name", ["hello", "build"])
def test_kubernetes_scenario_ends_as_a_user_expects(
    k8s_server: Server, cluster: FakeCluster, tmp_path: Path, name: str, monkeypatch: Any
) -> None:
    # The scenario runner looks for the job's pods where KUBECONFIG points, as the recipes do.
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("LAINO_K8S_NAMESPACE", cluster.namespace)
    scenarios.run(k8s_server.address, "kubernetes", name, echo=False, token=k8s_server.token)


def _refusal(home: Path, env: dict[str, str], *flags: str) -> str:
    done = subprocess.run(
        [LAINO, "server", "--home", str(home), "--listen", "127.0.0.1:0", *flags],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1, done.stderr
    return done.stderr


def test_the_server_refuses_to_start_and_says_what_is_missing(
    tmp_path: Path, cluster: FakeCluster
) -> None:
    kubeconfig = {"KUBECONFIG": str(tmp_path / "kubeconfig")}
    advertise = ("--advertise", "10.0.0.1:50051")
    cluster.denied.add(("delete", "secrets"))
    said = _refusal(tmp_path / "a", kubeconfig, "--k8s-namespace", cluster.namespace, *advertise)
    assert "no permission to delete secrets in 'laino-jobs'" in said
    assert "deploy/kubernetes/role.yaml" in said
    said = _refusal(tmp_path / "b", kubeconfig, "--k8s-namespace", "nowhere", *advertise)
    assert "the namespace 'nowhere' does not exist" in said
    said = _refusal(tmp_path / "c", kubeconfig, "--k8s-namespace", cluster.namespace)
    assert "worker pods cannot reach an agent door that listens on 127.0.0.1" in said
    nothing = {"KUBECONFIG": str(tmp_path / "absent"), "KUBERNETES_SERVICE_HOST": ""}
    said = _refusal(tmp_path / "d", nothing, "--k8s-namespace", "jobs", *advertise)
    assert "no Kubernetes configuration: give --kubeconfig, set KUBECONFIG" in said
    cluster.stop()
    said = _refusal(tmp_path / "e", kubeconfig, "--k8s-namespace", "jobs", *advertise)
    assert "kubernetes API unreachable" in said


def test_a_server_without_kubernetes_says_how_to_turn_it_on(tmp_path: Path) -> None:
    running = Server(tmp_path)
    running.start()
    try:
        done = running.cli("job", "run", *K8S, "--", "true")
    finally:
        running.stop()
    assert "provider 'kubernetes' is not enabled on this server" in done.stderr
    assert "--k8s-namespace" in done.stderr


def test_the_k8s_recipes_run_on_a_cluster_and_stop_at_once_without_one(
    tmp_path: Path, cluster: FakeCluster
) -> None:
    env = {
        **os.environ,
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "LAINO_K8S_NAMESPACE": cluster.namespace,
        "LAINO_ADVERTISE": "127.0.0.1",
        "LAINO_SERVER": f"127.0.0.1:{free_port()}",
    }
    recipe = [sys.executable, "-m", "tests.scenarios", "kubernetes"]
    done = subprocess.run(
        [*recipe, "hello", "gpu", "--e2e"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no GPU is present" in done.stdout  # the fake node has none
    assert "workers of this installation left behind: 0" in done.stdout
    env["KUBECONFIG"] = str(tmp_path / "absent")
    done = subprocess.run(recipe, env=env, capture_output=True, text=True, timeout=20)
    assert done.returncode == 2
    assert "no Kubernetes cluster to run on" in done.stderr and "KUBECONFIG" in done.stderr


def test_a_pod_job_gets_nothing_of_the_servers_environment(
    k8s_server: Server, cluster: FakeCluster
) -> None:
    leaks = {"LAINO_TEST_DATABASE_PASSWORD": "hunter2", "AWS_SECRET_ACCESS_KEY": "AKIAXXXXXXXX"}
    k8s_server.env.update(leaks)
    k8s_server.stop()
    k8s_server.start()
    done = k8s_server.cli("job", "run", *K8S, "--", "env")
    assert done.returncode == 0, done.stderr + k8s_server.log()
    for value in leaks.values():
        assert value not in done.stdout
    names = {line.split("=", 1)[0] for line in done.stdout.splitlines()}
    assert not {n for n in names if n.startswith(("LAINO_SERVER", "LAINO_TOKEN", "OTEL_"))}


def test_a_pods_inputs_and_outputs_arrive_byte_for_byte(
    k8s_server: Server, cluster: FakeCluster
) -> None:
    local = k8s_server.home / "local.bin"
    local.write_bytes(os.urandom(2_000_000))
    script = "sha256sum in.bin | cut -c1-64 > sum.txt; cp in.bin copy.bin; exit 5"
    done = k8s_server.cli(
        "job",
        "run",
        *K8S,
        "--input",
        f"{local}=in.bin",
        "--output",
        "sum.txt",
        "--output",
        "copy.bin",
        "--",
        "sh",
        "-c",
        script,
    )
    assert done.returncode == 5, done.stderr + k8s_server.log()
    job = _only_job(k8s_server)
    listed = json.loads(k8s_server.cli("job", "artifacts", job["id"], "-o", "json").stdout)
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    assert {a["path"]: a["sha256"] for a in listed}["copy.bin"] == digest
    got = k8s_server.cli("job", "download", job["id"], "sum.txt", "-o", "-", check=True)
    assert got.stdout == digest + "\n"
