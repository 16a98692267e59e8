"""The Kubernetes provider: each worker is a pod that runs the agent, in one namespace."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from laino.providers.base import (
    LABEL_INSTALLATION,
    Handle,
    Observed,
    PermanentProviderError,
    ProviderError,
    Status,
    WorkerSpec,
)
from laino.providers.pods import CONTAINER, PodTemplate, observe, secret_name

CALL_TIMEOUT = 10
# Every (verb, resource) the provider uses; deploy/kubernetes/role.yaml grants exactly these.
PERMISSIONS = (
    ("create", "pods"),
    ("get", "pods"),
    ("list", "pods"),
    ("delete", "pods"),
    ("get", "pods/log"),
    ("create", "secrets"),
    ("delete", "secrets"),
)
API_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)


class KubernetesProvider:
    """Starts one pod per worker, with its token in a Secret that goes when the pod goes."""

    name = "kubernetes"

    def __init__(
        self,
        api: client.ApiClient,
        *,
        installation: str,
        namespace: str,
        image: str,
        server: str,
        service_account: str = "",
        node_selector: dict[str, str] | None = None,
        grace_seconds: float = 3.0,
    ):
        self.api = api
        self.core = client.CoreV1Api(api)
        self.installation = installation
        self.template = PodTemplate(
            namespace=namespace,
            image=image,
            server=server,
            service_account=service_account,
            node_selector=node_selector or {},
            grace_seconds=grace_seconds,
        )

    @property
    def namespace(self) -> str:
        return self.template.namespace

    def start(self, spec: WorkerSpec) -> Handle:
        with _api():
            try:
                pod = self.core.create_namespaced_pod(
                    self.namespace,
                    client.V1Pod.model_validate(self.template.pod(spec)),
                    _request_timeout=CALL_TIMEOUT,
                )
            except ApiException as err:
                if err.status != 409:
                    raise
                pod = self._adopt(spec.name)
            # The pod waits in ContainerCreating until its Secret exists. Created second, the
            # Secret can name the pod as its owner: the cluster deletes it with the pod even
            # when laino never gets to. Repeated on adoption: a crash may have come in between.
            try:
                self.core.create_namespaced_secret(
                    self.namespace,
                    client.V1Secret.model_validate(self.template.secret(spec, _meta(pod).uid)),
                    _request_timeout=CALL_TIMEOUT,
                )
            except ApiException as err:
                # The token is derived from the worker's id: an existing Secret holds it.
                if err.status != 409:
                    raise
        return Handle(self.name, spec.name, spec.labels)

    def status(self, handle: Handle) -> Observed:
        with _api():
            try:
                pod = self.core.read_namespaced_pod(
                    handle.name, self.namespace, _request_timeout=CALL_TIMEOUT
                )
            except ApiException as err:
                if err.status != 404:
                    raise
                return Observed(Status.MISSING)
        return observe(pod)

    def logs(self, handle: Handle, tail: int) -> str:
        with _api():
            try:
                output: str = self.core.read_namespaced_pod_log(
                    handle.name,
                    self.namespace,
                    container=CONTAINER,
                    tail_lines=tail,
                    _request_timeout=CALL_TIMEOUT,
                )
            except ApiException as err:
                # 404: no pod; 400: its container never started, so it has no output yet.
                if err.status not in (400, 404):
                    raise
                return ""
        return output

    def destroy(self, handle: Handle) -> None:
        """Deletes the pod with the grace period, then its Secret; gone already is fine."""
        grace = max(1, round(self.template.grace_seconds))
        deletions = (
            (self.core.delete_namespaced_pod, handle.name),
            (self.core.delete_namespaced_secret, secret_name(handle.name)),
        )
        with _api():
            for delete, name in deletions:
                try:
                    delete(
                        name,
                        self.namespace,
                        grace_period_seconds=grace,
                        _request_timeout=CALL_TIMEOUT,
                    )
                except ApiException as err:
                    if err.status != 404:
                        raise

    def owned(self) -> list[Handle]:
        label = f"{LABEL_INSTALLATION}={self.installation}"
        with _api():
            pods = self.core.list_namespaced_pod(
                self.namespace, label_selector=label, _request_timeout=CALL_TIMEOUT
            ).items
        # Filtered again here: a label selector is the server's to honour, ownership is ours.
        return [
            Handle(self.name, str(_meta(pod).name), labels)
            for pod in pods
            if (labels := dict(_meta(pod).labels or {})).get(LABEL_INSTALLATION)
            == self.installation
        ]

    def check(self) -> list[str]:
        """What keeps this provider from working, in words that say what to fix; [] when none."""
        problems = []
        with _api():
            try:
                self.core.read_namespace(self.namespace, _request_timeout=CALL_TIMEOUT)
            except ApiException as err:
                # 403: a namespaced Role cannot read namespaces; the permission checks tell.
                if err.status == 404:
                    problems.append(f"the namespace {self.namespace!r} does not exist")
                elif err.status != 403:
                    raise
            reviews = client.AuthorizationV1Api(self.api)
            for verb, resource in PERMISSIONS:
                plural, _, subresource = resource.partition("/")
                wanted = client.V1ResourceAttributes(
                    namespace=self.namespace, verb=verb, resource=plural, subresource=subresource
                )
                review = reviews.create_self_subject_access_review(
                    client.V1SelfSubjectAccessReview(
                        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=wanted)
                    ),
                    _request_timeout=CALL_TIMEOUT,
                )
                if not (review.status and review.status.allowed):
                    problems.append(f"no permission to {verb} {resource} in {self.namespace!r}")
        return problems

    def _adopt(self, name: str) -> client.V1Pod:
        pod: client.V1Pod = self.core.read_namespaced_pod(
            name, self.namespace, _request_timeout=CALL_TIMEOUT
        )
        if (_meta(pod).labels or {}).get(LABEL_INSTALLATION) != self.installation:
            raise PermanentProviderError(f"a pod named {name} exists and is not ours")
        return pod


def _meta(pod: client.V1Pod) -> client.V1ObjectMeta:
    assert pod.metadata is not None, "the API server returned a pod without metadata"
    return pod.metadata


def connect(kubeconfig: str = "") -> client.ApiClient:
    """An API client configured from `kubeconfig`, else KUBECONFIG or ~/.kube/config, else the
    in-cluster service account."""
    configuration = client.Configuration()
    # Read here, not at the client's import: KUBECONFIG may name several files.
    chosen = kubeconfig or os.environ.get("KUBECONFIG") or ""
    paths = (chosen or "~/.kube/config").split(os.pathsep)
    try:
        if kubeconfig or any(Path(path).expanduser().exists() for path in paths):
            config.load_kube_config(config_file=chosen or None, client_configuration=configuration)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            raise PermanentProviderError(
                "no Kubernetes configuration: give --kubeconfig, set KUBECONFIG, put one at"
                " ~/.kube/config, or run the server in a cluster with a service account"
            )
    except (config.ConfigException, OSError, yaml.YAMLError) as err:
        message = f"the Kubernetes configuration cannot be used: {err}"
        raise PermanentProviderError(message) from err
    # One try per call: the saga retries a failed start on its own schedule.
    configuration.retries = 0
    return client.ApiClient(configuration)


@contextlib.contextmanager
def _api() -> Iterator[None]:
    """Translates the client's errors: an API server away or overloaded is worth retrying."""
    try:
        yield
    except ProviderError:
        raise
    except ApiException as err:
        if err.status in (408, 429) or err.status >= 500 or err.status == 0:
            raise ProviderError(f"kubernetes API: {err.status} {err.reason}") from err
        raise PermanentProviderError(f"kubernetes refused: {_message(err)}") from err
    except API_ERRORS as err:
        raise ProviderError(f"kubernetes API unreachable: {err}") from err


def _message(err: ApiException) -> str:
    try:
        message = json.loads(err.body or "{}").get("message", "")
    except ValueError:
        message = ""
    return f"{err.status} {err.reason}: {message}" if message else f"{err.status} {err.reason}"
