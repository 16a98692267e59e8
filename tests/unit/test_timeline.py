"""`laino job trace`: phases computed from a job's event history."""

from __future__ import annotations

from typing import Any

from laino.orchestrator.phases import phases


def _event(at: float, source: str, kind: str, **data: Any) -> dict[str, Any]:
    return {"source": source, "type": kind, "timestamp": 1000.0 + at, "data": data}


HISTORY = [
    _event(0.0, "job", "Submitted", key="k"),
    _event(0.001, "saga", "Started"),
    _event(0.01, "job", "ProvisioningStarted", attempt=1),
    _event(0.02, "saga", "StepBegun", step="provision_worker#1"),
    _event(0.3, "saga", "StepSucceeded", step="provision_worker#1"),
    _event(0.5, "worker", "Registered"),
    _event(0.52, "job", "Assigned", attempt=1),
    _event(0.55, "job", "Started", attempt=1),
    _event(1.0, "worker", "Lost", message="worker lost"),
    _event(1.2, "job", "RetryScheduled", message="worker lost"),
    _event(1.7, "job", "ProvisioningStarted", attempt=2),
    _event(2.0, "saga", "StepSucceeded", step="provision_worker#2"),
    _event(2.2, "worker", "Registered"),
    _event(2.25, "job", "Started", attempt=2),
    _event(3.25, "job", "Ended", state="SUCCEEDED"),
    _event(3.5, "saga", "Finished", outcome="SUCCEEDED"),
]


def test_each_phase_lasts_until_the_next_one_starts_attempt_by_attempt() -> None:
    found = [
        (p.name, p.attempt, round(p.start, 3), round(p.seconds, 3)) for p in phases(HISTORY, 0)
    ]
    assert found == [
        ("queued", 0, 0.0, 0.01),
        ("provisioning", 1, 0.01, 0.29),
        ("registration", 1, 0.3, 0.2),
        ("dispatch", 1, 0.5, 0.05),
        ("running", 1, 0.55, 0.65),
        ("retry backoff", 1, 1.2, 0.5),
        ("provisioning", 2, 1.7, 0.3),
        ("registration", 2, 2.0, 0.2),
        ("dispatch", 2, 2.2, 0.05),
        ("running", 2, 2.25, 1.0),
        ("cleanup", 2, 3.25, 0.25),
    ]
    assert round(sum(p.seconds for p in phases(HISTORY, 0)), 6) == 3.5  # submit to finish


def test_an_agent_that_registers_before_its_start_is_recorded_waited_no_time() -> None:
    raced = [
        _event(0.0, "job", "Submitted", key="k"),
        _event(0.01, "job", "ProvisioningStarted", attempt=1),
        _event(0.2, "worker", "Registered"),
        _event(0.25, "saga", "StepSucceeded", step="provision_worker#1"),
        _event(0.3, "job", "Started", attempt=1),
        _event(1.0, "job", "Ended", state="SUCCEEDED"),
        _event(1.1, "saga", "Finished", outcome="SUCCEEDED"),
    ]
    found = [(p.name, round(p.start, 3), round(p.seconds, 3)) for p in phases(raced, 0)]
    assert found == [
        ("queued", 0.0, 0.01),
        ("provisioning", 0.01, 0.19),
        ("registration", 0.2, 0.0),
        ("dispatch", 0.2, 0.1),
        ("running", 0.3, 0.7),
        ("cleanup", 1.0, 0.1),
    ]


def test_a_job_still_running_shows_its_current_phase_as_ongoing() -> None:
    last = phases(HISTORY[:8], now=1000.0 + 2.0)[-1]
    assert (last.name, last.attempt, last.ongoing) == ("running", 1, True)
    assert round(last.seconds, 3) == 1.45
