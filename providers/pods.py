"""What a worker pod is and what its state means: the Pod and Secret the kubernetes provider
sends, and the reading of a pod's status. No API calls: those are the provider's."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from laino.providers.base import Observed, Status, WorkerSpec

CONTAINER = "agent"
AGENT_COMMAND = ["laino-agent"]
# The token is a file from a Secret volume: never an env var that `kubectl get pod` shows.
TOKEN_DIR = "/var/run/laino"
TOKEN_KEY = "token"
# The root filesystem is read-only: the job works, and keeps its home, in a scratch volume.
SCRATCH = "/work"
JOB_UID = 1000
# The orchestrator enforces the job's timeout itself. The pod's own deadline is the backstop
# for when it cannot, with room for pulling the image and registering.
DEADLINE_MARGIN = 300
NO_AGENT = 127
# Waiting reasons that no amount of waiting fixes.
BROKEN_WAITING = {
    "ErrImagePull": "the image cannot be pulled",
    "ImagePullBackOff": "the image cannot be pulled",
    "InvalidImageName": "the image name is invalid",
    "CreateContainerConfigError": "the container's configuration is invalid",
    "CreateContainerError": "the container cannot be created",
}


@dataclass(frozen=True)
class PodTemplate:
    """Everything a worker's pod takes from the server's settings rather than from the job."""

    namespace: str
    image: str
    server: str
    service_account: str = ""
    node_selector: dict[str, str] = field(default_factory=dict)
    grace_seconds: float = 3.0

    def pod(self, spec: WorkerSpec) -> dict[str, Any]:
        """The Pod: the agent alone in a restricted container, with the job's limits."""
        limits: dict[str, str] = {}
        if spec.cpu:
            limits["cpu"] = f"{math.ceil(spec.cpu * 1000)}m"
        if spec.memory_bytes:
            limits["memory"] = str(spec.memory_bytes)
        if spec.gpus:
            limits["nvidia.com/gpu"] = str(spec.gpus)
        env = {
            **spec.env,
            "LAINO_SERVER": self.server,
            "LAINO_WORKER_ID": spec.worker_id,
            "LAINO_TOKEN_FILE": f"{TOKEN_DIR}/{TOKEN_KEY}",
            "HOME": SCRATCH,
            "TMPDIR": "/tmp",
        }
        pod_spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": max(1, round(self.grace_seconds)),
            "enableServiceLinks": False,
            # Only a worker given a service account of its own gets a token for the API.
            "automountServiceAccountToken": bool(self.service_account),
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": JOB_UID,
                "runAsGroup": JOB_UID,
                "fsGroup": JOB_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": CONTAINER,
                    "image": spec.image or self.image,
                    "command": AGENT_COMMAND,
                    "workingDir": SCRATCH,
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                    "resources": {"limits": limits, "requests": dict(limits)},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "privileged": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True},
                        {"name": "scratch", "mountPath": SCRATCH},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "token",
                    "secret": {"secretName": secret_name(spec.name), "defaultMode": 0o440},
                },
                {"name": "scratch", "emptyDir": {}},
                {"name": "tmp", "emptyDir": {}},
            ],
        }
        if spec.timeout_seconds:
            pod_spec["activeDeadlineSeconds"] = math.ceil(spec.timeout_seconds) + DEADLINE_MARGIN
        if self.service_account:
            pod_spec["serviceAccountName"] = self.service_account
        if self.node_selector:
            pod_spec["nodeSelector"] = dict(self.node_selector)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": spec.name, "namespace": self.namespace, "labels": spec.labels},
            "spec": pod_spec,
        }

    def secret(self, spec: WorkerSpec, pod_uid: str | None) -> dict[str, Any]:
        """The Secret with the bootstrap token; owned by the pod when the server gave it a uid."""
        metadata: dict[str, Any] = {
            "name": secret_name(spec.name),
            "namespace": self.namespace,
            "labels": spec.labels,
        }
        if pod_uid:
            metadata["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Pod", "name": spec.name, "uid": pod_uid}
            ]
        token = base64.b64encode(spec.bootstrap_token.encode()).decode()
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "type": "Opaque",
            "data": {TOKEN_KEY: token},
        }


def observe(pod: client.V1Pod) -> Observed:
    """The pod's phase and its container's state, as a status and a reason a user can act on."""
    status = pod.status or client.V1PodStatus()
    phase = status.phase or "Pending"
    container = next(iter(status.container_statuses or []), None)
    state = container.state if container is not None else None
    if phase == "Pending":
        waiting = state.waiting if state is not None else None
        if waiting is not None and waiting.reason in BROKEN_WAITING:
            why = f"{BROKEN_WAITING[waiting.reason]} ({waiting.reason})"
            return Observed(Status.BROKEN, _with(why, waiting.message))
        for condition in status.conditions or []:
            if condition.type == "PodScheduled" and condition.status == "False":
                return Observed(
                    Status.RUNNING, _with("the pod cannot be scheduled", condition.message)
                )
        return Observed(Status.RUNNING, "the pod is pending")
    if phase in ("Running", "Unknown"):
        return Observed(Status.RUNNING)
    terminated = state.terminated if state is not None else None
    if status.reason == "DeadlineExceeded":
        return Observed(Status.EXITED, "the pod's deadline (the job's timeout) passed")
    if status.reason == "Evicted":
        return Observed(Status.EXITED, _with("the pod was evicted", status.message))
    if terminated is None:
        return Observed(Status.EXITED, _with(f"the pod {phase.lower()}", status.message))
    if terminated.reason == "OOMKilled":
        return Observed(Status.EXITED, "out of memory: the kernel killed the pod at its limit")
    if terminated.exit_code == NO_AGENT:
        return Observed(Status.BROKEN, "the pod cannot start its agent: is laino in the image?")
    return Observed(Status.EXITED, f"the agent exited with code {terminated.exit_code}")


def _with(reason: str, detail: str | None) -> str:
    return f"{reason}: {detail}" if detail else reason


def secret_name(pod: str) -> str:
    return f"{pod}-token"
