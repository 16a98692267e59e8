"""Secrets at submission: kept only for a job that reads them, whoever wins a race for its key.

These drive the client API's submission against real SQLite stores. Two servers given one
idempotency key at once are played by a jobs application in which the other server's job
appears between the check for it and this server's save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from laino.orchestrator.access import Caller
from laino.orchestrator.api.auth import CALLER
from laino.orchestrator.api.servicers import JobService
from laino.orchestrator.apps import JobsApp, JobView
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.tokens import Role
from laino.orchestrator.settings import Settings
from laino.orchestrator.store.artifacts import ArtifactStore
from laino.orchestrator.store.database import Database
from laino.orchestrator.store.secrets import SecretStore
from laino.providers.tracing import Tracing

KEY = "nightly-build"


class RacedJobs(JobsApp):
    """Another server saves the key's job, without secrets, just before this one's save."""

    raced = False

    def submit(self, spec: JobSpec, key: str = "", *args: Any, **kw: Any) -> tuple[JobView, bool]:
        if not self.raced:
            self.raced = True
            super().submit(spec, key, has_secrets=False)
        return super().submit(spec, key, *args, **kw)


class Context:
    def peer(self) -> str:
        return "ipv4:127.0.0.1:5000"

    def invocation_metadata(self) -> tuple[Any, ...]:
        return ()


@pytest.fixture
def service(tmp_path: Path) -> JobService:
    database = Database(tmp_path)
    database.migrate()
    engine = database.engine()
    CALLER.set(Caller("ci", Role.ADMIN))
    return JobService(
        settings=Settings(home=tmp_path),
        jobs=RacedJobs(database.event_store("jobs")),
        tracing=Tracing("laino-test", env={}),
        secrets=SecretStore(engine, b"k" * 32),
        artifacts=ArtifactStore(engine, tmp_path / "artifacts"),
        **dict.fromkeys(("workers", "sagas", "views", "followers", "stdin", "retention")),
    )


def test_secrets_that_lost_a_race_for_their_key_are_not_kept(service: JobService) -> None:
    spec = JobSpec(command=("true",))
    reply = service.submit(spec, KEY, "/", {"TOKEN": "s3cr3t"}, Context())  # type: ignore[arg-type]
    assert not reply.created  # the other server's job, which has no secrets
    job_id = UUID(reply.job.id)
    assert not service.jobs.get_job(job_id).has_secrets
    assert service.secrets.get(job_id) == {}


def test_a_job_submitted_with_secrets_says_so_and_keeps_them(service: JobService) -> None:
    service.jobs.raced = True  # type: ignore[attr-defined]
    spec = JobSpec(command=("true",))
    reply = service.submit(spec, KEY, "/", {"TOKEN": "s3cr3t"}, Context())  # type: ignore[arg-type]
    job_id = UUID(reply.job.id)
    assert reply.created and service.jobs.get_job(job_id).has_secrets
    assert service.secrets.get(job_id) == {"TOKEN": "s3cr3t"}
