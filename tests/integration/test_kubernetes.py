"""The kubernetes provider beyond the shared contract, on a fake API server (tests/kube.py).

Pods never run on kmock: where a test needs a pod in some phase, it writes the status a
kubelet or scheduler would, and says so.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from laino.providers.base import PermanentProviderError, ProviderError, Status, WorkerSpec
from laino.providers.kubernetes import PERMISSIONS, KubernetesProvider, connect
from laino.providers.pods import PodTemplate
from tests.kube import FakeCluster, container_status

ROOT = Path(__file__).resolve().parents[2]
INSTALLATION = "k8s-test"


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    made = FakeCluster().start()
    yield made
    made.stop()


@pytest.fixture
def provider(cluster: FakeCluster) -> KubernetesProvider:
    return _provider(cluster)


def _provider(cluster: FakeCluster, **options: Any) -> KubernetesProvider:
    defaults = {"installation": INSTALLATION, "namespace": cluster.namespace}
    return KubernetesProvider(
        cluster.api(),
        image="laino/worker:test",
        server="laino.laino.svc:50051",
        **{**defaults, **options},
    )


def _spec(**changes: Any) -> WorkerSpec:
    spec = WorkerSpec(
        name="laino-0123456789ab-1",
        worker_id="0d5c5d6e-1111-2222-3333-444455556666",
        job_id="0123456789ab-job",
        attempt=1,
        server="unused",
        bootstrap_token="t0ken-never-shown",
        installation=INSTALLATION,
    )
    return dataclasses.replace(spec, **changes)


def _core(cluster: FakeCluster) -> client.CoreV1Api:
    return client.CoreV1Api(cluster.api())


def test_the_pod_manifest_is_a_valid_pod_and_restricted() -> None:
    template = PodTemplate(
        namespace="jobs",
        image="laino/worker:test",
        server="laino.laino.svc:50051",
        service_account="builder",
        node_selector={"pool": "batch"},
    )
    spec = _spec(cpu=0.5, memory_bytes=256 * 2**20, gpus=1, timeout_seconds=60, env={"A": "b"})
    manifest = template.pod(spec)
    # The client's models carry the API's schema: an unknown or mistyped field fails here,
    # and the round trip shows that nothing was dropped on the way.
    pod = client.V1Pod.model_validate(manifest)
    assert client.ApiClient().sanitize_for_serialization(pod) == manifest

    assert pod.spec is not None and pod.spec.security_context is not None
    assert pod.spec.restart_policy == "Never"
    assert pod.spec.security_context.run_as_non_root is True
    assert pod.spec.service_account_name == "builder"
    assert pod.spec.node_selector == {"pool": "batch"}
    assert pod.spec.active_deadline_seconds == 60 + 300
    (container,) = pod.spec.containers
    restricted = container.security_context
    assert restricted is not None and restricted.capabilities is not None
    assert restricted.allow_privilege_escalation is False
    assert restricted.read_only_root_filesystem is True
    assert restricted.capabilities.drop == ["ALL"]
    limits = {"cpu": "500m", "memory": str(256 * 2**20), "nvidia.com/gpu": "1"}
    assert container.resources is not None
    assert container.resources.limits == container.resources.requests == limits
    writable = {m.mount_path for m in container.volume_mounts or [] if not m.read_only}
    assert {container.working_dir, "/tmp"} <= writable
    assert spec.bootstrap_token not in str(manifest)
    assert pod.metadata is not None and pod.metadata.labels == spec.labels


def test_a_job_without_a_timeout_gets_no_pod_deadline(provider: KubernetesProvider) -> None:
    assert "activeDeadlineSeconds" not in provider.template.pod(_spec())["spec"]


def test_the_token_travels_in_a_secret_that_goes_with_the_pod(
    cluster: FakeCluster, provider: KubernetesProvider
) -> None:
    handle = provider.start(_spec())
    core = _core(cluster)
    secret = core.read_namespaced_secret(f"{handle.name}-token", cluster.namespace)
    assert base64.b64decode((secret.data or {})["token"]).decode() == "t0ken-never-shown"
    pod = core.read_namespaced_pod(handle.name, cluster.namespace)
    assert pod.spec is not None and pod.spec.volumes is not None
    assert pod.spec.volumes[0].secret is not None
    assert pod.spec.volumes[0].secret.secret_name == f"{handle.name}-token"
    provider.destroy(handle)
    names = [
        s.metadata.name for s in core.list_namespaced_secret(cluster.namespace).items if s.metadata
    ]
    assert names == []


def test_the_secret_names_its_pod_as_owner_when_the_server_gives_uids(
    provider: KubernetesProvider,
) -> None:
    # kmock gives objects no uid; a real API server always does.
    secret = provider.template.secret(_spec(), "1234-uid")
    (owner,) = secret["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "laino-0123456789ab-1",
        "uid": "1234-uid",
    }


def test_a_pod_of_another_installation_is_not_adopted(
    cluster: FakeCluster, provider: KubernetesProvider
) -> None:
    _provider(cluster, installation="other").start(_spec(installation="other"))
    with pytest.raises(PermanentProviderError, match="exists and is not ours"):
        provider.start(_spec())
    assert provider.owned() == []


# Statuses a kubelet or scheduler would write: kmock has neither.
PHASES = [
    (
        "pull error",
        {
            "phase": "Pending",
            "containerStatuses": [
                container_status(
                    {
                        "waiting": {
                            "reason": "ImagePullBackOff",
                            "message": 'Back-off pulling image "nope:1"',
                        }
                    }
                )
            ],
        },
        Status.BROKEN,
        'the image cannot be pulled (ImagePullBackOff): Back-off pulling image "nope:1"',
    ),
    (
        "unschedulable",
        {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
                }
            ],
        },
        Status.RUNNING,
        "the pod cannot be scheduled: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
    ),
    ("pending", {"phase": "Pending"}, Status.RUNNING, "the pod is pending"),
    (
        "running",
        {"phase": "Running", "containerStatuses": [container_status({"running": {}})]},
        Status.RUNNING,
        "",
    ),
    (
        "oom",
        {
            "phase": "Failed",
            "containerStatuses": [
                container_status({"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
            ],
        },
        Status.EXITED,
        "out of memory: the kernel killed the pod at its limit",
    ),
    (
        "no agent",
        {
            "phase": "Failed",
            "containerStatuses": [
                container_status({"terminated": {"exitCode": 127, "reason": "Error"}})
            ],
        },
        Status.BROKEN,
        "the pod cannot start its agent: is laino in the image?",
    ),
    (
        "deadline",
        {
            "phase": "Failed",
            "reason": "DeadlineExceeded",
            "message": "Pod was active on the node longer than the specified deadline",
        },
        Status.EXITED,
        "the pod's deadline (the job's timeout) passed",
    ),
    (
        "evicted",
        {
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory.",
        },
        Status.EXITED,
        "the pod was evicted: The node was low on resource: memory.",
    ),
    (
        "exited",
        {
            "phase": "Succeeded",
            "containerStatuses": [container_status({"terminated": {"exitCode": 0}})],
        },
        Status.EXITED,
        "the agent exited with code 0",
    ),
]


@pytest.mark.parametrize(
    ("case", "status", "expected", "reason"), PHASES, ids=[p[0] for p in PHASES]
)
def test_status_says_why_in_words_a_user_can_act_on(
    cluster: FakeCluster,
    provider: KubernetesProvider,
    case: str,
    status: dict[str, Any],
    expected: Status,
    reason: str,
) -> None:
    handle = provider.start(_spec())
    cluster.set_status(handle.name, status)
    seen = provider.status(handle)
    assert (seen.status, seen.reason) == (expected, reason)


def test_logs_of_a_pod_that_is_gone_are_empty(provider: KubernetesProvider) -> None:
    handle = provider.start(_spec())
    provider.destroy(handle)
    assert provider.logs(handle, 10) == ""


def test_check_finds_nothing_missing_on_a_namespace_with_the_role(
    provider: KubernetesProvider,
) -> None:
    assert provider.check() == []


def test_check_names_a_missing_namespace_and_each_missing_permission(
    cluster: FakeCluster,
) -> None:
    cluster.denied.update({("delete", "pods"), ("get", "pods/log")})
    assert _provider(cluster).check() == [
        "no permission to delete pods in 'laino-jobs'",
        "no permission to get pods/log in 'laino-jobs'",
    ]
    assert _provider(cluster, namespace="nowhere").check()[0] == (
        "the namespace 'nowhere' does not exist"
    )


def test_the_role_grants_exactly_what_the_provider_asks_for(
    cluster: FakeCluster, provider: KubernetesProvider
) -> None:
    role = next(
        d
        for d in yaml.safe_load_all((ROOT / "deploy/kubernetes/role.yaml").read_text())
        if d["kind"] == "Role"
    )
    granted = {
        (verb, resource)
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == set(PERMISSIONS)

    handle = provider.start(_spec())
    provider.start(_spec())
    provider.status(handle)
    provider.logs(handle, 5)
    provider.owned()
    provider.destroy(handle)
    used = {_permission(method, path) for method, path in cluster.requests()}
    assert used == granted


def _permission(method: str, path: str) -> tuple[str, str]:
    """The RBAC verb and resource of a namespaced core API request."""
    match = re.fullmatch(r"/api/v1/namespaces/[^/]+/(\w+)(?:/([^/]+))?(?:/(\w+))?", path)
    assert match, path
    resource, name, subresource = match.groups()
    verb = {"POST": "create", "DELETE": "delete", "GET": "get" if name else "list"}[method]
    return verb, f"{resource}/{subresource}" if subresource else resource


def test_an_api_server_that_is_away_is_a_retryable_error(cluster: FakeCluster) -> None:
    cluster.stop()
    made = _provider(cluster)
    for call in (lambda: made.start(_spec()), made.owned):
        with pytest.raises(ProviderError) as raised:
            call()
        assert raised.value.retryable and "kubernetes API unreachable" in str(raised.value)


def test_a_refusal_by_the_api_server_is_permanent(
    cluster: FakeCluster, provider: KubernetesProvider
) -> None:
    cluster.denied.add(("create", "pods"))
    with pytest.raises(PermanentProviderError, match=r"kubernetes refused: 403 Forbidden: pods"):
        provider.start(_spec())


def test_connect_reads_a_kubeconfig_and_says_what_is_missing(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = connect(str(cluster.kubeconfig(tmp_path / "config")))
    assert _provider(cluster).check() == [] and api.configuration.host == cluster.url
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(
        PermanentProviderError, match="no Kubernetes configuration: give --kubeconfig"
    ):
        connect()
    (tmp_path / "broken").write_text("clusters: [")
    with pytest.raises(PermanentProviderError, match="configuration cannot be used"):
        connect(str(tmp_path / "broken"))


MODELS = {
    "ServiceAccount": client.V1ServiceAccount,
    "Role": client.V1Role,
    "RoleBinding": client.V1RoleBinding,
    "Service": client.V1Service,
    "Deployment": client.V1Deployment,
}


@pytest.mark.parametrize("name", ["role.yaml", "orchestrator.yaml"])
def test_the_deployment_assets_are_valid_objects(name: str) -> None:
    documents = list(yaml.safe_load_all((ROOT / "deploy/kubernetes" / name).read_text()))
    for document in documents:
        made = MODELS[document["kind"]].model_validate(document)
        assert client.ApiClient().sanitize_for_serialization(made) == document


def test_the_in_cluster_server_is_given_only_options_it_has() -> None:
    from click.testing import CliRunner

    from laino.cli.main import cli

    documents = yaml.safe_load_all((ROOT / "deploy/kubernetes/orchestrator.yaml").read_text())
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    usage = CliRunner().invoke(cli, ["server", "--help"]).output
    for arg in container["args"]:
        assert arg.split("=")[0] in usage, arg
    assert container["command"] == ["laino", "server"]
