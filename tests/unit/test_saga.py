"""The ExecutionSaga aggregate: what was begun is what gets undone, latest first."""

from __future__ import annotations

from uuid import uuid4

from laino.orchestrator.domain.saga import ExecutionSaga


def test_compensates_every_begun_step_of_the_attempt_in_reverse() -> None:
    saga = ExecutionSaga(uuid4())
    saga.begin("provision_worker", 1)
    saga.succeed("provision_worker", 1, {"name": "w"})
    saga.begin("dispatch_job", 1)  # begun, never confirmed: still undone
    saga.begin("provision_worker", 2)
    assert saga.to_compensate(1) == ["dispatch_job", "provision_worker"]
    saga.compensated("dispatch_job", 1)
    assert saga.to_compensate(1) == ["provision_worker"]


def test_a_compensation_begun_in_an_earlier_version_is_still_to_be_undone() -> None:
    # Earlier versions recorded CompensationBegun before undoing a step; a server that died
    # before recording it undone left histories that end there.
    saga = ExecutionSaga(uuid4())
    saga.begin("provision_worker", 1)
    saga.succeed("provision_worker", 1, {"name": "w"})
    saga._compensation_begun("provision_worker#1")
    replayed = None
    for recorded in saga.collect_events():  # as the event store replays a history
        replayed = recorded.mutate(replayed)
    assert isinstance(replayed, ExecutionSaga)
    assert replayed.to_compensate(1) == ["provision_worker"]
    replayed.compensated("provision_worker", 1)
    assert replayed.to_compensate(1) == []


def test_a_failed_compensation_stays_visible() -> None:
    saga = ExecutionSaga(uuid4())
    saga.begin("provision_worker", 1)
    saga.compensation_failed("provision_worker", 1, "daemon down")
    assert saga.status("provision_worker", 1) == "compensation_failed"
    assert type(saga.collect_events()[-1]).__name__ == "CompensationFailed"


def test_saga_id_is_derived_from_the_job_id() -> None:
    job_id = uuid4()
    assert ExecutionSaga.create_id(job_id) == ExecutionSaga.create_id(job_id)
