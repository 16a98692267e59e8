"""The Docker provider: each worker is a container that runs the agent, on a real engine."""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container

from laino.providers.base import (
    LABEL_INSTALLATION,
    NO_GPUS,
    Handle,
    Observed,
    PermanentProviderError,
    ProviderError,
    Status,
    WorkerSpec,
)

# Inside the container the host is this name, mapped to the bridge's gateway by the engine.
HOST_ALIAS = "host.docker.internal"
# The token goes in as a file copied into the container: never an env var that `docker
# inspect` would show.
TOKEN_PATH = "/.laino-token"
# What the agent needs to run the job as another user, signal it, and set its OOM score.
AGENT_CAPABILITIES = ["SETUID", "SETGID", "KILL", "DAC_OVERRIDE", "FOWNER", "CHOWN"]
AGENT_COMMAND = ["laino-agent"]
NO_AGENT = 127
BROKEN_IMAGE = "the worker cannot start its agent: is laino installed in the image?"
ENGINE_ERRORS = (DockerException, requests.RequestException)


class DockerProvider:
    """Starts one container per worker, named after the job and attempt, labelled as ours."""

    name = "docker"

    def __init__(
        self,
        *,
        installation: str,
        image: str,
        server: str | None,
        unreachable: str = "",
        grace_seconds: float = 3.0,
        connect: Callable[[], docker.DockerClient] = docker.from_env,
    ):
        self.installation = installation
        self.image = image
        # The orchestrator's address as containers see it, or None with the reason why none is.
        self.server = server
        self.unreachable = unreachable
        self.grace_seconds = grace_seconds
        self._connect = connect
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    def start(self, spec: WorkerSpec) -> Handle:
        if self.server is None:
            raise PermanentProviderError(self.unreachable)
        if spec.gpus:
            raise PermanentProviderError(NO_GPUS.format(provider=self.name))
        image = spec.image or self.image
        with _engine():
            try:
                container = self._create(spec, image)
            except APIError as err:
                if err.status_code != 409:
                    raise
                container = self._adopt(spec.name)
            status = container.status
            if status == "created":
                container.start()
                status = "running"
            if status == "running":
                # After the start, not before: the copy (~75 ms) overlaps the agent's own
                # start-up, and the agent waits for the file. Repeated on adoption, in case a
                # crash came between the start and the copy.
                _hand_token(container, spec.bootstrap_token)
        return Handle(self.name, spec.name, spec.labels)

    def status(self, handle: Handle) -> Observed:
        with _engine():
            try:
                container = self.client.containers.get(handle.name)
            except NotFound:
                return Observed(Status.MISSING)
        if container.status not in ("exited", "dead"):
            return Observed(Status.RUNNING)
        # tini says 127 when it cannot exec the agent: the image does not have it.
        if container.attrs["State"]["ExitCode"] == NO_AGENT:
            return Observed(Status.BROKEN, BROKEN_IMAGE)
        return Observed(Status.EXITED)

    def logs(self, handle: Handle, tail: int) -> str:
        with _engine():
            try:
                output: bytes = self.client.containers.get(handle.name).logs(tail=tail)
            except NotFound:
                return ""
        return output.decode(errors="replace")

    def destroy(self, handle: Handle) -> None:
        """Stops the container with a grace period, then removes it; gone already is fine."""
        with _engine():
            try:
                container = self.client.containers.get(handle.name)
                if container.status == "running":
                    container.stop(timeout=max(1, round(self.grace_seconds)))
                container.remove(force=True)
            except NotFound:
                pass
            except APIError as err:
                # Two removals racing: the loser is told the removal is already under way.
                if err.status_code != 409:
                    raise

    def owned(self) -> list[Handle]:
        label = f"{LABEL_INSTALLATION}={self.installation}"
        with _engine():
            containers = self.client.containers.list(all=True, filters={"label": label})
        return [Handle(self.name, c.name, dict(c.labels)) for c in containers]

    @property
    def client(self) -> docker.DockerClient:
        # Connecting asks the engine its version: do it on first use, not at server start.
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _create(self, spec: WorkerSpec, image: str) -> Container:
        options: dict[str, Any] = {
            "name": spec.name,
            "command": AGENT_COMMAND,
            "labels": spec.labels,
            "environment": {
                **spec.env,
                "LAINO_SERVER": self.server,
                "LAINO_WORKER_ID": spec.worker_id,
                "LAINO_TOKEN_FILE": TOKEN_PATH,
                # The job runs as the image's user, as `docker run` would run it.
                "LAINO_AGENT_JOB_USER": self._image_user(image),
            },
            # The agent runs as root, able only to become the job's user and signal it: a job
            # that is not root cannot read the agent's memory, its token or its files.
            "user": "0",
            "cap_drop": ["ALL"],
            "cap_add": AGENT_CAPABILITIES,
            "security_opt": ["no-new-privileges"],
            # tini as PID 1 forwards `docker stop`'s SIGTERM to the agent and reaps zombies.
            "init": True,
            "extra_hosts": {HOST_ALIAS: "host-gateway"},
        }
        if spec.cpu:
            options["nano_cpus"] = int(spec.cpu * 1e9)
        if spec.memory_bytes:
            # The same value for memory and memory+swap: no swap, so the limit is the limit.
            options["mem_limit"] = options["memswap_limit"] = spec.memory_bytes
        container: Container = self.client.containers.create(image, **options)
        return container

    def _image_user(self, image: str) -> str:
        try:
            found = self.client.images.get(image)
        except ImageNotFound:
            self._pull(image)
            found = self.client.images.get(image)
        return str(found.attrs.get("Config", {}).get("User") or "0")

    def _pull(self, image: str) -> None:
        try:
            self.client.images.pull(image)
        except APIError as err:
            raise PermanentProviderError(
                f"image {image!r} is not on the engine and cannot be pulled: {err.explanation}"
            ) from err

    def _adopt(self, name: str) -> Container:
        container: Container = self.client.containers.get(name)
        if container.labels.get(LABEL_INSTALLATION) != self.installation:
            raise PermanentProviderError(f"a container named {name} exists and is not ours")
        return container


def _hand_token(container: Container, token: str) -> None:
    try:
        container.put_archive("/", _token_archive(token))
    except APIError as err:
        # The agent reads and removes the file as soon as it is whole, which can be before the
        # engine has set its owner: the engine then fails on the file that is gone. The agent
        # has the token; that is what the copy was for.
        if f"{TOKEN_PATH}: no such file or directory" not in str(err.explanation):
            raise


def _token_archive(token: str) -> bytes:
    data = token.encode()
    info = tarfile.TarInfo(TOKEN_PATH.lstrip("/"))
    info.size = len(data)
    # The agent's alone (it runs as root), and removed by it once read.
    info.mode = 0o400
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@contextlib.contextmanager
def _engine() -> Iterator[None]:
    """Translates the docker SDK's errors: an engine that is away is worth retrying."""
    try:
        yield
    except ProviderError:
        raise
    except APIError as err:
        if err.is_client_error():
            raise PermanentProviderError(f"docker refused: {err.explanation}") from err
        raise ProviderError(f"docker engine: {err.explanation}") from err
    except ENGINE_ERRORS as err:
        raise ProviderError(f"docker engine unreachable: {err}") from err
