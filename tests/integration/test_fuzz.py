"""Fuzzing both doors with hypothesis: whatever a client or an agent sends, the answer is never
INTERNAL or UNKNOWN, and the server keeps serving. Bounded in examples and time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.conftest import Server

BROKEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The job ids a fuzzer tries: real-looking, malformed, empty and absurd.
IDS = st.one_of(st.uuids().map(str), st.text(max_size=40), st.just(""), st.just("x" * 5000))
TEXT = st.text(max_size=30)  # NUL bytes, surrogates excluded by protobuf, any other character
NUMBERS = st.floats(allow_nan=True, allow_infinity=True)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
UINT64 = st.integers(0, 2**64 - 1)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("fuzz"))
    server.start()
    yield server
    server.stop()
    server.cleanup_workers()


def _answer(call: object) -> None:
    """Calls; any status is fine but the two that mean the server broke."""
    try:
        result = call()  # type: ignore[operator]
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            for _ in result:
                pass
    except grpc.RpcError as err:
        assert err.code() not in BROKEN, (err.code(), err.details())  # type: ignore[attr-defined]


specs = st.builds(
    pb.JobSpec,
    command=st.lists(TEXT, max_size=4),
    image=TEXT,
    env=st.dictionaries(TEXT, TEXT, max_size=3),
    working_dir=TEXT,
    timeout_seconds=NUMBERS,
    cpu=NUMBERS,
    memory_bytes=INT64,
    labels=st.dictionaries(TEXT, TEXT, max_size=3),
    # Not docker: a valid fuzzed job would start containers; the spec checks are the same.
    provider=st.sampled_from(["", "process", "kubernetes", "mainframe"]),
    max_attempts=INT32,
    retry_on_failure=st.booleans(),
    priority=INT32,
    concurrency=TEXT,
    concurrency_limit=INT32,
    cancel_in_progress=st.booleans(),
)


@FUZZ
@given(spec=specs, key=TEXT, secrets=st.dictionaries(TEXT, TEXT, max_size=2))
def test_fuzzed_submissions_are_refused_or_taken_never_broken(
    fuzzed: Server, spec: pb.JobSpec, key: str, secrets: dict[str, str]
) -> None:
    # Nothing here runs for long: a fuzzed command that is valid still only sleeps.
    spec.command[:] = ["true", *spec.command] if spec.command else []
    request = pb.SubmitJobRequest(spec=spec, idempotency_key=key, secrets=secrets)
    _answer(lambda: fuzzed.jobs.SubmitJob(request, timeout=10))


@FUZZ
@given(
    states=st.lists(INT32, max_size=4),
    labels=st.dictionaries(TEXT, TEXT, max_size=4),
    size=INT32,
    token=st.one_of(TEXT, st.integers(-(2**80), 2**80).map(str)),
)
def test_fuzzed_listings_never_break(
    fuzzed: Server, states: list[int], labels: dict[str, str], size: int, token: str
) -> None:
    request = pb.ListJobsRequest(states=states, labels=labels, page_size=size, page_token=token)
    _answer(lambda: fuzzed.jobs.ListJobs(request, timeout=10))


@FUZZ
@given(job_id=IDS, from_seq=UINT64, tail=st.integers(0, 2**32 - 1), since=st.floats())
def test_fuzzed_reads_of_a_job_never_break(
    fuzzed: Server, job_id: str, from_seq: int, tail: int, since: float
) -> None:
    real = fuzzed.submit("true")
    for target in (job_id, real):
        logs = pb.StreamLogsRequest(job_id=target, from_seq=from_seq, tail=tail, since=since)
        _answer(lambda t=target: fuzzed.jobs.GetJob(pb.GetJobRequest(job_id=t), timeout=10))
        _answer(lambda r=logs: fuzzed.jobs.StreamLogs(r, timeout=10))
        _answer(lambda t=target: fuzzed.jobs.GetJobEvents(pb.GetJobEventsRequest(job_id=t)))


@FUZZ
@given(
    name=TEXT,
    cron=st.one_of(TEXT, st.sampled_from(["* * * * *", "@hourly", "0 2 * * 1-5", "61 * * * *"])),
    timezone=st.one_of(TEXT, st.sampled_from(["", "UTC", "Europe/Madrid", "Etc/GMT+99"])),
    every=NUMBERS,
    catchup=st.one_of(TEXT, st.sampled_from(["none", "last", "all"])),
    overlap=st.one_of(TEXT, st.sampled_from(["skip", "allow", "cancel-previous"])),
    spec=specs,
)
def test_fuzzed_schedules_are_refused_or_made_never_broken(
    fuzzed: Server,
    name: str,
    cron: str,
    timezone: str,
    every: float,
    catchup: str,
    overlap: str,
    spec: pb.JobSpec,
) -> None:
    spec.command[:] = ["true", *spec.command] if spec.command else []
    schedules = rpc.ScheduleServiceStub(fuzzed.channel)
    request = pb.CreateScheduleRequest(
        name=name,
        cron=cron,
        timezone=timezone,
        every_seconds=every,
        catchup=catchup,
        overlap=overlap,
        spec=spec,
    )
    _answer(lambda: schedules.CreateSchedule(request, timeout=10))
    for method in ("GetSchedule", "TriggerSchedule", "PauseSchedule", "DeleteSchedule"):
        call = getattr(schedules, method)
        _answer(lambda c=call: c(pb.ScheduleRequest(name=name), timeout=10))


messages = st.one_of(
    st.builds(
        lambda w, t: pb.AgentMessage(hello=pb.Hello(worker_id=w, session_token=t)), IDS, TEXT
    ),
    st.just(pb.AgentMessage(heartbeat=pb.Heartbeat())),
    st.builds(
        lambda j, a, s, k, t, d: pb.AgentMessage(
            logs=pb.LogBatch(
                job_id=j, attempt=a, chunks=[pb.LogChunk(seq=s, stream=k, time=t, data=d)]
            )
        ),
        IDS,
        INT32,
        UINT64,
        st.integers(0, 2**31 - 1),
        st.floats(),
        st.binary(max_size=64),
    ),
    st.builds(
        lambda j, a, c: pb.AgentMessage(finished=pb.JobFinished(job_id=j, attempt=a, exit_code=c)),
        IDS,
        INT32,
        INT32,
    ),
    st.just(pb.AgentMessage()),
)


@FUZZ
@given(worker_id=IDS, token=TEXT, frames=st.lists(messages, min_size=1, max_size=4))
def test_fuzzed_agent_messages_are_refused_never_broken(
    fuzzed: Server, worker_id: str, token: str, frames: list[pb.AgentMessage]
) -> None:
    register = pb.RegisterRequest(worker_id=worker_id, bootstrap_token=token)
    _answer(lambda: fuzzed.workers.Register(register, timeout=10))
    _answer(lambda: fuzzed.workers.Connect(iter(frames), timeout=10))


def test_the_server_still_serves_after_the_fuzzing(fuzzed: Server) -> None:
    started = time.monotonic()
    done = fuzzed.cli("job", "run", "--", "echo", "still here")
    assert (done.returncode, done.stdout) == (0, "still here\n"), done.stderr + fuzzed.log()
    assert time.monotonic() - started < 30
    assert "Traceback" not in fuzzed.log()
