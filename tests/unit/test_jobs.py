"""The Job aggregate's state machine."""

from __future__ import annotations

import json
from dataclasses import replace
from uuid import uuid4

import pytest

from laino.orchestrator.apps import JobsApp
from laino.orchestrator.domain.jobs import IllegalTransition, Job, StaleAttempt, State
from laino.orchestrator.domain.spec import InvalidSpec, JobSpec


def _running(**spec: object) -> Job:
    job = Job(key="k", spec=JobSpec(command=("true",), max_attempts=2, **spec).as_dict())  # type: ignore[arg-type]
    job.start_provisioning(1, uuid4())
    job.assign(1)
    job.start_running(1)
    return job


def _report(job: Job, code: int, **how: bool) -> None:
    job.record_exit(
        job.attempt,
        code,
        timed_out=how.get("timed_out", False),
        cancelled=how.get("cancelled", False),
        error="",
    )


def test_non_zero_exit_is_failed_with_that_code_never_succeeded() -> None:
    job = _running()
    _report(job, 3)
    assert (job.state, job.exit_code, job.failure_reason) == (State.FAILED, 3, "user")


def test_zero_exit_succeeds() -> None:
    job = _running()
    _report(job, 0)
    assert (job.state, job.exit_code) == (State.SUCCEEDED, 0)


def test_user_failure_retries_only_when_the_job_asks_to() -> None:
    job = _running(retry_on_failure=True)
    _report(job, 1)
    assert job.state == State.RETRYING


def test_infrastructure_failure_retries_until_attempts_run_out() -> None:
    job = _running()
    job.fail_attempt(1, "worker lost", retry_at=0)
    assert job.state == State.RETRYING
    job.start_provisioning(2, uuid4())
    job.fail_attempt(2, "worker lost", retry_at=0)
    assert (job.state, job.failure_reason) == (State.FAILED, "infrastructure")


def test_a_refused_spec_is_not_retried() -> None:
    job = _running()
    job.fail_attempt(1, "bad image", retry_at=0, retryable=False)
    assert job.state == State.FAILED


def test_reports_about_an_old_attempt_are_refused() -> None:
    job = _running()
    job.fail_attempt(1, "lost", retry_at=0)
    job.start_provisioning(2, uuid4())
    with pytest.raises(StaleAttempt):
        job.record_exit(1, 0, timed_out=False, cancelled=False, error="")


def test_illegal_transitions_raise() -> None:
    job = Job(key="k", spec=JobSpec(command=("true",)).as_dict())
    with pytest.raises(IllegalTransition):
        job.start_running(0)
    with pytest.raises(IllegalTransition):
        job.start_provisioning(2, uuid4())


def test_cancel_of_an_ended_job_is_refused_and_a_cancelled_run_ends_cancelled() -> None:
    job = _running()
    job.request_cancel()
    _report(job, 143, cancelled=True)
    assert job.state == State.CANCELLED
    with pytest.raises(IllegalTransition):
        job.request_cancel()


def test_timeout_is_its_own_ending() -> None:
    job = _running()
    _report(job, 143, timed_out=True)
    assert job.state == State.TIMED_OUT


def test_same_key_same_id() -> None:
    assert Job.create_id("a") == Job.create_id("a") != Job.create_id("b")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"command": ()}, "command"),
        ({"command": ("",)}, "command"),
        ({"command": ("x",), "timeout_seconds": -1}, "timeout_seconds"),
        ({"command": ("x",), "memory_bytes": -1}, "memory_bytes"),
        ({"command": ("x",), "gpus": -1}, "gpus"),
        ({"command": ("x",), "env": {"A=B": "c"}}, "env"),
    ],
)
def test_invalid_specs_name_their_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        JobSpec.parse(**fields)
    assert caught.value.field == field


def test_a_job_recorded_before_jobs_said_whether_they_have_secrets_still_gets_them() -> None:
    """A job queued before an upgrade: its Submitted event has no `has_secrets`, so the runner
    must still ask the secret store, or the job would run without the secrets it was given."""
    before, after = JobsApp(), JobsApp()
    job, _ = before.submit(JobSpec(command=("true",)), has_secrets=False)
    (stored,) = before.recorder.select_events(job.id)
    state = json.loads(stored.state)
    del state["has_secrets"]
    after.recorder.insert_events([replace(stored, state=json.dumps(state).encode())])
    assert after.get_job(job.id).has_secrets
    assert not before.get_job(job.id).has_secrets
