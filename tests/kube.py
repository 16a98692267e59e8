"""A fake Kubernetes for the tests, since no real cluster can run on these machines.

`FakeCluster` is kmock's stateful API server, on a thread of its own, with what kmock lacks
filled in here, openly: RBAC (`denied` requests get 403, and access reviews say so), the
namespace, pod logs from what the fake kubelet captured, and /version/. `FakeKubelet` plays
the node, which kmock has none of: it runs each new pod's agent as a local process, with the
pod's env and its Secret volume mapped into a folder, and writes the pod's phase back as a
kubelet would. It pulls no images (it "has" only `images`) and enforces no cpu or memory
limits.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import kmock
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

AGENT = str(Path(sys.executable).parent / "laino-agent")
LOG_PATH = re.compile(r"/api/v1/namespaces/[^/]+/pods/([^/]+)/log")
REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
VERSION = {
    **{key: "" for key in ("buildDate", "compiler", "gitCommit", "gitTreeState", "goVersion")},
    **{"major": "1", "minor": "34", "gitVersion": "v1.34.0", "platform": "linux/amd64"},
}
VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class _ApiServer(kmock.KubernetesEmulator):  # type: ignore[misc]
    """kmock, with RBAC as a real server has it: `denied` requests are refused with 403, and
    a SelfSubjectAccessReview is answered and not kept."""

    denied: set[tuple[str, str]]  # the FakeCluster's own set, given before the first request

    async def _handle(self, request: Any) -> Any:
        if request.resource is None:
            return await super()._handle(request)
        if request.resource.plural == "selfsubjectaccessreviews":
            return await kmock.KubernetesScaffold._handle(self, request)
        resource = "/".join(filter(None, [request.resource.plural, request.subresource]))
        verb = VERBS[request.method.value.upper()]
        if verb == "get" and request.name is None:
            verb = "list"
        if (verb, resource) in self.denied:
            message = f'{resource} is forbidden: cannot {verb} resource "{resource}"'
            raise kmock.KubernetesError(status=403, reason="Forbidden", message=message)
        return await super()._handle(request)


class FakeCluster:
    """A fake API server on 127.0.0.1 with one namespace; `stop()` ends it."""

    def __init__(self, namespace: str = "laino-jobs"):
        self.namespace = namespace
        # (verb, "resource" or "resource/subresource") the caller's identity may not do.
        self.denied: set[tuple[str, str]] = set()
        self.output: dict[str, str] = {}
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._server: _ApiServer | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    def start(self) -> FakeCluster:
        self._thread.start()
        assert self._ready.wait(10), "the fake API server did not start"
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            assert self._loop is not None and self._stopped is not None
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(10)

    async def _serve(self) -> None:
        self._loop, self._stopped = asyncio.get_running_loop(), asyncio.Event()
        async with _ApiServer() as server, kmock.Server(server) as endpoint:
            server.denied = self.denied
            server.resources["v1/pods"] = kmock.ResourceInfo(namespaced=True, kind="Pod")
            server.resources["v1/secrets"] = kmock.ResourceInfo(namespaced=True, kind="Secret")
            namespace = {"apiVersion": "v1", "kind": "Namespace"}
            server["get", f"/api/v1/namespaces/{self.namespace}"] << {
                **namespace,
                "metadata": {"name": self.namespace},
            }
            server["post", REVIEWS] << self._review
            # The official client asks /version/, with a slash kmock does not serve.
            server["get", "/version/"] << VERSION
            server["get", LOG_PATH] << self._log
            self._server, self.url = server, str(endpoint.url).rstrip("/")
            self._ready.set()
            await self._stopped.wait()

    def _review(self, request: Any) -> dict[str, Any]:
        wanted = request.data["spec"]["resourceAttributes"]
        resource = "/".join(filter(None, [wanted["resource"], wanted.get("subresource")]))
        allowed = (wanted["verb"], resource) not in self.denied
        return {**request.data, "status": {"allowed": allowed}}

    def _log(self, request: Any) -> str:
        (name,) = LOG_PATH.fullmatch(request.url.path).groups()  # type: ignore[union-attr]
        lines = self.output.get(name, "").splitlines(keepends=True)
        tail = int(request.params.get("tailLines", 0))
        return "".join(lines[-tail:] if tail else lines)

    def requests(self) -> list[tuple[str, str]]:
        """Every (METHOD, path) the server was asked, oldest first."""
        assert self._server is not None
        return [(str(r.method.value).upper(), r.url.path) for r in list(self._server)]

    def api(self) -> client.ApiClient:
        configuration = client.Configuration()
        configuration.host = self.url
        configuration.retries = 0  # as laino's own client has it
        return client.ApiClient(configuration)

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig file (JSON is YAML) whose current context is this server."""
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "laino", "user": {"token": "fake"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "laino"}}],
                    "current-context": "fake",
                }
            )
        )
        return path

    def set_status(self, pod: str, status: dict[str, Any]) -> None:
        """What a kubelet or scheduler would write; kmock has neither."""
        client.CoreV1Api(self.api()).patch_namespaced_pod_status(
            pod, self.namespace, {"status": status}
        )


class FakeKubelet:
    """Runs the pods of one namespace as local agent processes; `stop()` ends them all."""

    def __init__(self, cluster: FakeCluster, root: Path, images: set[str]):
        self.cluster = cluster
        self.root = root
        self.images = images
        self.core = client.CoreV1Api(cluster.api())
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> FakeKubelet:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for name in list(self.running):
            self._kill(name)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self._sync()
            except (ApiException, urllib3.exceptions.HTTPError):
                continue  # the fake server is going away with the test

    def _sync(self) -> None:
        pods = {
            p.metadata.name: p for p in self.core.list_namespaced_pod(self.cluster.namespace).items
        }
        for name, pod in pods.items():
            if name not in self.running and name not in self.done:
                self._launch(pod)
        for name, proc in list(self.running.items()):
            self.cluster.output[name] = (self.root / name / "output").read_text(errors="replace")
            if name not in pods:
                self._kill(name)
            elif proc.poll() is not None:
                del self.running[name]
                self.done.add(name)
                code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
                self.cluster.set_status(
                    name,
                    {
                        "phase": "Succeeded" if code == 0 else "Failed",
                        "containerStatuses": [container_status({"terminated": {"exitCode": code}})],
                    },
                )

    def _launch(self, pod: client.V1Pod) -> None:
        name = pod.metadata.name
        (container,) = pod.spec.containers
        if container.image not in self.images:
            self.done.add(name)
            waiting = {"reason": "ErrImagePull", "message": f"{container.image}: not found"}
            status = [container_status({"waiting": waiting})]
            self.cluster.set_status(name, {"phase": "Pending", "containerStatuses": status})
            return
        mounts: dict[str, Path] = {}
        for volume in pod.spec.volumes:
            folder = self.root / name / volume.name
            folder.mkdir(parents=True, exist_ok=True)
            if volume.secret is not None:
                try:
                    secret = self.core.read_namespaced_secret(
                        volume.secret.secret_name, self.cluster.namespace
                    )
                except ApiException:
                    return  # ContainerCreating until the Secret exists
                for key, value in (secret.data or {}).items():
                    (folder / key).write_bytes(base64.b64decode(value))
            mounts[volume.name] = folder
        paths = {m.mount_path: mounts[m.name] for m in container.volume_mounts}

        def mapped(value: str) -> str:
            for inside, outside in paths.items():
                if value == inside or value.startswith(inside + "/"):
                    return str(outside) + value[len(inside) :]
            return value

        env = {"PATH": os.environ["PATH"]}
        env.update({e.name: mapped(e.value) for e in container.env})
        with open(self.root / name / "output", "wb") as output:
            self.running[name] = subprocess.Popen(
                [AGENT],
                env=env,
                cwd=mapped(container.working_dir),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        status = [container_status({"running": {}}, ready=True)]
        self.cluster.set_status(name, {"phase": "Running", "containerStatuses": status})

    def _kill(self, name: str) -> None:
        proc = self.running.pop(name)
        self.done.add(name)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass


def container_status(state: dict[str, Any], *, ready: bool = False) -> dict[str, Any]:
    """The agent container's status, with the fields the API's schema requires."""
    return {
        "name": "agent",
        "image": "laino/worker:test",
        "imageID": "",
        "ready": ready,
        "restartCount": 0,
        "state": state,
    }
