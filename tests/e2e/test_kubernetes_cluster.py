"""Kubernetes jobs on a real cluster: run only when KUBECONFIG names one that answers.

The cluster needs the worker image (`kind load docker-image laino/worker:VERSION`) and the
namespace LAINO_K8S_NAMESPACE [default]; pods dial this machine at LAINO_ADVERTISE [the docker
bridge address]. With no such cluster, as on the machines CI runs on, these are skipped, and
shown as skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from laino.providers.bridge import interface_address
from tests import scenarios
from tests.conftest import TERMINAL, Server, assert_eventually

why = "KUBECONFIG is not set" if not os.environ.get("KUBECONFIG") else scenarios._no_cluster()
pytestmark = pytest.mark.skipif(bool(why), reason=f"no real Kubernetes cluster: {why}")
NAMESPACE = os.environ.get("LAINO_K8S_NAMESPACE", "default")


@pytest.fixture
def cluster_server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path, **{"k8s-namespace": NAMESPACE})
    port = running.address.rsplit(":", 1)[1]
    running.address = f"127.0.0.1:{port}"
    host = os.environ.get("LAINO_ADVERTISE") or interface_address() or "127.0.0.1"
    agent_port = running.agent_address.rsplit(":", 1)[1]
    running.flags.update(
        {
            "listen": f"127.0.0.1:{port}",
            "agent-listen": f"0.0.0.0:{agent_port}",
            "advertise": f"{host}:{agent_port}",
        }
    )
    running.start()
    yield running
    running.stop()


@pytest.mark.parametrize("name", ["hello", "memory", "memory-oom", "gpu"])
def test_scenario_on_a_real_cluster(cluster_server: Server, name: str) -> None:
    if name == "gpu" and scenarios._gpu_nodes() == 0:
        pytest.skip("no node of this cluster offers nvidia.com/gpu")
    scenarios.run(
        cluster_server.address, "kubernetes", name, echo=False, token=cluster_server.token
    )


def test_cancel_on_a_real_cluster_deletes_the_pod(cluster_server: Server) -> None:
    job_id = cluster_server.submit(
        "sh", "-c", "echo started; sleep 600", options=("--provider", "kubernetes")
    )
    assert_eventually(
        lambda: "started" in cluster_server.cli("job", "logs", job_id).stdout, timeout=60
    )
    cluster_server.cli("job", "cancel", job_id, check=True)
    assert cluster_server.wait_state(job_id, TERMINAL)["state"] == "CANCELLED"
    assert_eventually(lambda: scenarios.pods(f"laino.job={job_id}") == [], timeout=30)
