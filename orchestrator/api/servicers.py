"""The gRPC servicers: decode, one call, encode; errors are the interceptor's business."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeAlias
from uuid import uuid4

import grpc

from laino.orchestrator.access import TokensApp
from laino.orchestrator.api import convert
from laino.orchestrator.api.agents import AgentGateway
from laino.orchestrator.api.auth import CALLER
from laino.orchestrator.api.convert import InvalidRequest
from laino.orchestrator.api.files import UPLOADS, AgentFiles, input_file, off_loop
from laino.orchestrator.apps import JobsApp, SagasApp, WorkersApp, WorkerView
from laino.orchestrator.domain.jobs import Job, State
from laino.orchestrator.domain.spec import JobSpec, in_client_dir, validate_secrets
from laino.orchestrator.follow import Followers
from laino.orchestrator.history import job_history
from laino.orchestrator.retention import Retention
from laino.orchestrator.sessions import Session
from laino.orchestrator.settings import Settings
from laino.orchestrator.stdin import StdinRelay
from laino.orchestrator.store.artifacts import ArtifactStore
from laino.orchestrator.store.secrets import SecretStore
from laino.orchestrator.views import Views
from laino.providers.tracing import TRACEPARENT, Tracing
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


@dataclass(kw_only=True, eq=False)
class JobService(rpc.JobServiceServicer):
    """The client API."""

    settings: Settings
    jobs: JobsApp
    workers: WorkersApp
    sagas: SagasApp
    views: Views
    followers: Followers
    stdin: StdinRelay
    tracing: Tracing
    secrets: SecretStore
    retention: Retention
    artifacts: ArtifactStore

    async def SubmitJob(
        self, request: pb.SubmitJobRequest, context: Context
    ) -> pb.SubmitJobResponse:
        spec = convert.spec_from(request.spec)
        return self.submit(
            spec, request.idempotency_key, request.client_dir, dict(request.secrets), context
        )

    def submit(
        self, spec: JobSpec, key: str, client_dir: str, secrets: dict[str, str], context: Context
    ) -> pb.SubmitJobResponse:
        """A job as the caller may submit it: where it runs, with which provider and secrets."""
        spec = self._with_inputs(self.settings.complete(spec))
        caller = CALLER.get()
        folders = caller.host_folders(self.settings.allowed_workdirs, local=_local(context))
        if spec.provider == "process" and not spec.working_dir.startswith("/"):
            spec = in_client_dir(spec, client_dir, folders)
        spec.check_working_dir(folders)
        caller.require_provider(spec.provider)
        validate_secrets(secrets)
        key = key or str(uuid4())
        stored = bool(secrets) and not self.jobs.exists(Job.create_id(key))
        if stored:
            # Stored first: a job must never run without the secrets it was submitted with.
            self.secrets.put(Job.create_id(key), secrets)
        parent = dict(context.invocation_metadata() or ()).get(TRACEPARENT, "")
        with self.tracing.span("SubmitJob", parent=parent) as span:
            trace = span.traceparent or parent
            job, created = self.jobs.submit(
                spec, key, trace, caller.name, has_secrets=bool(secrets)
            )
            span.set(job=str(job.id), created=created)
        if stored and not job.has_secrets:
            # The same key's submission without secrets won a race: this job never reads them.
            self.secrets.forget(job.id)
        return pb.SubmitJobResponse(job=convert.job_message(job), created=created)

    async def UploadInput(
        self, requests: AsyncIterator[pb.ArtifactData], context: Context
    ) -> pb.ArtifactStored:
        spool = self.artifacts.spool()
        try:
            async for piece in requests:
                spool.write(piece.data)
                if spool.size > self.settings.artifact_limit_bytes:
                    raise InvalidRequest(
                        f"an input is at most {self.settings.artifact_limit_bytes} bytes"
                        " (the server's --artifact-limit)"
                    )
            kept = await asyncio.to_thread(
                self.artifacts.keep, UPLOADS, spool.hash.hexdigest(), spool
            )
        finally:
            spool.discard()
        return pb.ArtifactStored(sha256=kept.sha256, size=kept.size)

    def _with_inputs(self, spec: JobSpec) -> JobSpec:
        """Each input from a file laino keeps, with that file's sha256; one that is not kept
        (or not any more) is refused now, not when the job starts."""
        if not spec.inputs:
            return spec
        resolved = []
        for given in spec.inputs:
            if given["source"].startswith(("job:", "upload:")):
                owner, path = input_file(given["source"])
                found = self.artifacts.find(owner, path)
                if found is None:
                    raise InvalidRequest(f"input {given['source'][:200]}: no such file is kept")
                if given["sha256"] and given["sha256"] != found.sha256:
                    raise InvalidRequest(f"input {given['source'][:200]}: not that sha256")
                given = {**given, "sha256": found.sha256}
            resolved.append(given)
        return dataclasses.replace(spec, inputs=tuple(resolved))

    async def ListArtifacts(
        self, request: pb.ListArtifactsRequest, context: Context
    ) -> pb.ListArtifactsResponse:
        job = self.jobs.get_job(convert.job_id(request.job_id))
        return pb.ListArtifactsResponse(
            artifacts=[
                pb.Artifact(path=a.path, size=a.size, sha256=a.sha256, created_at=a.created_at)
                for a in self.artifacts.listed(str(job.id))
            ]
        )

    async def DownloadArtifact(
        self, request: pb.DownloadArtifactRequest, context: Context
    ) -> AsyncIterator[pb.ArtifactData]:
        job = self.jobs.get_job(convert.job_id(request.job_id))
        async for piece in off_loop(self.artifacts.read(str(job.id), request.path)):
            yield pb.ArtifactData(data=piece)

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.Job:
        job = self.jobs.get_job(convert.job_id(request.job_id))
        if job.state != State.QUEUED:
            return convert.job_message(job)
        self.views.catch_up()  # the queue as it is now, not as the view last saw it
        return convert.job_message(job, self.views.queue_position(job.id))

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        size, before = convert.page_from(request)
        states = convert.states_from(list(request.states))
        self.views.catch_up()
        since = convert.seconds_from(request.created_since, "created_since")
        found = self.views.list_jobs(states, dict(request.labels), size, before, since)
        return convert.jobs_page(found, size, self.jobs.get_job, self.views.queue_positions())

    async def CancelJob(self, request: pb.CancelJobRequest, context: Context) -> pb.Job:
        return convert.job_message(self.jobs.cancel(convert.job_id(request.job_id)))

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: Context
    ) -> AsyncIterator[pb.Job]:
        async for job in self.followers.changes_of(convert.job_id(request.job_id)):
            yield convert.job_message(job)

    async def StreamLogs(
        self, request: pb.StreamLogsRequest, context: Context
    ) -> AsyncIterator[pb.StreamLogsResponse]:
        last_seq = 0
        items = self.followers.logs_of(
            convert.job_id(request.job_id),
            from_seq=convert.seq_from(request.from_seq),
            follow=request.follow,
            tail=request.tail,
            since=convert.since_from(request.since),
        )
        async for item in items:
            if isinstance(item, list):
                last_seq = item[-1].next - 1
                # Encoded pages concatenated are one message with all their chunks.
                yield b"".join(convert.encoded_page(page) for page in item)
            else:
                yield convert.end_message(item, last_seq)

    async def AttachStdin(
        self, requests: AsyncIterator[pb.StdinRequest], context: Context
    ) -> AsyncIterator[pb.StdinProgress]:
        first = await anext(aiter(requests), None)
        if first is None:
            return
        job_id = convert.job_id(first.job_id)
        pieces = convert.stdin_pieces(first, requests)
        async for progress in self.stdin.relay(job_id, await anext(pieces), pieces):
            yield pb.StdinProgress(written=progress.written, closed=progress.closed)

    async def GetJobEvents(
        self, request: pb.GetJobEventsRequest, context: Context
    ) -> pb.GetJobEventsResponse:
        history = job_history(convert.job_id(request.job_id), self.jobs, self.workers, self.sagas)
        return pb.GetJobEventsResponse(events=[convert.event_message(e) for e in history])

    async def ListWorkers(
        self, request: pb.ListWorkersRequest, context: Context
    ) -> pb.ListWorkersResponse:
        states = convert.worker_states_from(list(request.states))
        limit = convert.limit_from(request.limit)
        self.views.catch_up()
        workers = self.views.list_workers(states, limit)
        return pb.ListWorkersResponse(workers=[convert.worker_message(w) for w in workers])

    async def PruneLogs(
        self, request: pb.PruneLogsRequest, context: Context
    ) -> pb.PruneLogsResponse:
        older_than = convert.seconds_from(request.older_than_seconds, "older_than_seconds")
        why = "it was pruned (laino job prune)"
        total = 0
        while expired := self.retention.expire(older_than, why):
            total += expired
            await asyncio.sleep(0)  # a long backlog goes in batches, the server answering others
        return pb.PruneLogsResponse(jobs=total)


def _local(context: Context) -> bool:
    """Whether the caller is on this machine: over loopback or a Unix socket."""
    return context.peer().startswith(("ipv4:127.", "ipv6:[::1]", "unix:"))


@dataclass(eq=False)
class TokenService(rpc.TokenServiceServicer):
    """Client tokens; the gate lets only admin tokens in."""

    tokens: TokensApp

    async def CreateToken(
        self, request: pb.CreateTokenRequest, context: Context
    ) -> pb.CreateTokenResponse:
        token, secret = self.tokens.issue(
            request.name,
            request.role,
            providers=convert.providers_from(list(request.providers)),
            ttl=request.ttl_seconds,
            by=CALLER.get().name,
        )
        return pb.CreateTokenResponse(token=convert.token_message(token), secret=secret)

    async def ListTokens(
        self, request: pb.ListTokensRequest, context: Context
    ) -> pb.ListTokensResponse:
        tokens = [convert.token_message(token) for token in self.tokens.tokens()]
        return pb.ListTokensResponse(tokens=tokens)

    async def RevokeToken(self, request: pb.RevokeTokenRequest, context: Context) -> pb.Token:
        return convert.token_message(self.tokens.revoke(request.name, by=CALLER.get().name))


class WorkerService(rpc.WorkerServiceServicer):
    """The agents' API."""

    def __init__(self, gateway: AgentGateway, uploads: AgentFiles):
        self.gateway = gateway
        self.uploads = uploads

    async def UploadArtifact(
        self, requests: AsyncIterator[pb.ArtifactUpload], context: Context
    ) -> pb.ArtifactStored:
        return await self.uploads.upload(requests)

    async def FetchInput(
        self, request: pb.FetchInputRequest, context: Context
    ) -> AsyncIterator[pb.ArtifactData]:
        async for piece in off_loop(self.uploads.fetch(request)):
            yield pb.ArtifactData(data=piece)

    async def Register(self, request: pb.RegisterRequest, context: Context) -> pb.RegisterResponse:
        return self.gateway.register(request)

    async def Connect(
        self, requests: AsyncIterator[pb.AgentMessage], context: Context
    ) -> AsyncIterator[pb.ServerMessage]:
        session, worker = self.gateway.hello(await anext(aiter(requests)))
        reader = asyncio.create_task(self._read(requests, worker, session))
        try:
            while (message := await session.outbox.get()) is not None:
                yield message
            if reader.done():
                reader.result()  # a malformed message ends the stream with its error
        finally:
            reader.cancel()
            self.gateway.closed(session, worker)

    async def _read(
        self, requests: AsyncIterator[pb.AgentMessage], worker: WorkerView, session: Session
    ) -> None:
        try:
            async for message in requests:
                reply = self.gateway.handle(worker, session, message)
                if reply is not None:
                    session.outbox.put_nowait(reply)
        finally:
            session.outbox.put_nowait(None)
