"""Trust boundaries, tried as an attacker would: what a container on the host can reach."""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest

from laino.providers.bridge import interface_address
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.conftest import LAINO, Server, shared_folder


def _attack(server: Server, marker: Path) -> str:
    """A shell script that asks the server, on every address a container sees, to run a
    process job on the host that writes `marker`."""
    bridge = interface_address()
    assert bridge is not None, "the tests' docker engine has a bridge"
    port = server.address.rsplit(":", 1)[1]
    agent_port = server.agent_address.rsplit(":", 1)[1]
    steps = []
    for host in (bridge, "host.docker.internal"):
        for target in (port, agent_port):
            steps.append(
                f"LAINO_SERVER={host}:{target} timeout 20 laino job submit --provider process"
                f" -- sh -c 'id > {marker}'; echo {host}:{target} exit=$?"
            )
    return "; ".join(steps)


def test_a_docker_job_cannot_reach_the_client_api(docker_server: Server) -> None:
    marker = shared_folder() / "marker"  # where a process job, as nobody, could write
    done = docker_server.cli(
        "job", "run", "--provider", "docker", "--", "sh", "-c", _attack(docker_server, marker)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("exit=1") == 4, done.stdout  # each refused, none submitted
    assert not marker.exists()
    (only,) = docker_server.jobs.ListJobs(pb.ListJobsRequest()).jobs  # the docker job itself
    assert only.spec.provider == "docker"


def test_a_plain_container_on_the_bridge_cannot_reach_the_client_api(
    docker_server: Server, worker_image: str
) -> None:
    marker = shared_folder() / "marker"
    run = ["docker", "run", "--rm", "--add-host", "host.docker.internal:host-gateway"]
    done = subprocess.run(
        [*run, "--entrypoint", "sh", worker_image, "-c", _attack(docker_server, marker)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.count("exit=1") == 4, done.stdout + done.stderr
    assert not marker.exists()
    assert list(docker_server.jobs.ListJobs(pb.ListJobsRequest()).jobs) == []


def test_each_door_serves_only_its_own_service(server: Server) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        server.workers.Register(pb.RegisterRequest(worker_id="x"), timeout=5)
    assert caught.value.code() != grpc.StatusCode.UNIMPLEMENTED  # the agent door answers
    agents_only = rpc.JobServiceStub(server.agent_channel)
    with pytest.raises(grpc.RpcError) as caught:
        agents_only.ListJobs(pb.ListJobsRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    clients_only = rpc.WorkerServiceStub(server.channel)
    with pytest.raises(grpc.RpcError) as caught:
        clients_only.Register(pb.RegisterRequest(worker_id="x"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_a_second_server_on_a_port_in_use_refuses_to_start(server: Server, tmp_path: Path) -> None:
    taken = [
        ("--listen", server.address, []),
        ("--agent-listen", server.agent_address, ["--listen", "127.0.0.1:0"]),
    ]
    for flag, address, other in taken:
        done = subprocess.run(
            [LAINO, "server", "--home", str(tmp_path / flag), *other, flag, address],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 1
        assert done.stderr.strip().splitlines()[-1] == (
            f"Error: cannot listen on {address} ({flag}): the address is in use,"
            " or not this machine's"
        )
