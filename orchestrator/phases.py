"""Where a job's time went, phase by phase, from its event history: for `laino job trace`
and the HTTP API's /v1/jobs/{id}/trace (the dashboard's waterfall)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Phase:
    name: str
    attempt: int
    start: float  # seconds after submission
    seconds: float
    ongoing: bool = False


def _milestone(event: dict[str, Any], pooled: bool) -> str | None:
    """The phase an event starts, if it starts one. `pooled`: the attempt claimed a warm pool
    worker, registered already, so that its provisioning ends in the dispatch."""
    source, kind, data = event["source"], event["type"], event["data"]
    step = str(data.get("step", "")).split("#")[0]
    return {
        ("job", "Submitted"): "queued",
        ("job", "ProvisioningStarted"): "provisioning",
        ("saga", "StepSucceeded", "provision_worker"): "dispatch" if pooled else "registration",
        ("worker", "Registered"): "dispatch",
        ("job", "Started"): "running",
        ("job", "CancelRequested"): "cancelling",
        ("job", "RetryScheduled"): "retry backoff",
        ("job", "Ended"): "cleanup",
        ("saga", "Finished"): "",
    }.get((source, kind, step) if source == "saga" and step else (source, kind))


def phases(events: list[dict[str, Any]], now: float) -> list[Phase]:
    """Each phase lasts from the event that starts it to the next such event."""
    marks: list[tuple[str, int, float]] = []
    attempt = 0
    pooled = pools(events)
    for event in events:
        attempt = event["data"].get("attempt", attempt) if event["source"] == "job" else attempt
        name = _milestone(event, attempt in pooled)
        last = marks[-1][0] if marks else ""
        # The agent may register before the provision step is recorded as done (its start
        # returns a moment after the fork): no time went to waiting for it.
        if name == "dispatch" and last == "provisioning":
            marks.append(("registration", attempt, event["timestamp"]))
        elif name == "registration" and last == "dispatch":
            continue
        if name is not None and (not marks or marks[-1][0] != name):
            marks.append((name, attempt, event["timestamp"]))
    if not marks:
        return []
    submitted = marks[0][2]
    result = []
    for (name, number, at), following in zip(marks, [*marks[1:], None], strict=True):
        if not name:
            break
        end = following[2] if following else now
        result.append(Phase(name, number, at - submitted, end - at, ongoing=following is None))
    return result


def pools(events: list[dict[str, Any]]) -> dict[int, str]:
    """The attempts that claimed a warm pool worker, and its pool."""
    return {
        int(e["data"]["attempt"]): str(e["data"].get("pool", ""))
        for e in events
        if e["source"] == "worker" and e["type"] == "Claimed"
    }
