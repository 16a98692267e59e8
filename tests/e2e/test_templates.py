"""End to end: templates define a job once, with parameters checked before anything runs, and
keep every version; each job records the one it came from."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc
from tests.conftest import Server

GREET = (
    "greet",
    "--param",
    "who",
    "--param",
    "greeting=hello",
    "--param-pattern",
    "who=[a-z]+",
    "-e",
    "WHO={{who}}",
    "--",
    "sh",
    "-c",
    'echo "{{greeting}}, $WHO"',
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    found = Server(tmp_path)
    found.start()
    yield found
    found.stop()
    found.cleanup_workers()


def _jobs(server: Server) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        server.cli("job", "list", "-o", "json", check=True).stdout
    )
    return found


def test_a_template_with_two_parameters_runs_with_p_and_its_job_records_them(
    server: Server,
) -> None:
    server.cli("template", "create", *GREET, check=True)
    ran = server.cli("template", "run", "greet", "-p", "who=world", "-p", "greeting=hi")
    assert (ran.returncode, ran.stdout) == (0, "hi, world\n")
    defaulted = server.cli("template", "run", "greet", "-p", "who=ann", check=True)
    assert defaulted.stdout == "hello, ann\n"
    job = server.job(_jobs(server)[0]["id"])
    assert job["template"] == "greet v1 greeting=hello who=ann"
    assert job["spec"]["labels"] == {"laino.template": "greet"}
    events = json.loads(server.cli("job", "events", job["id"], "-o", "json", check=True).stdout)
    submitted = events[0]["data"]["spec"]
    assert (submitted["template"], submitted["template_version"]) == ("greet", 1)
    assert submitted["template_params"] == {"greeting": "hello", "who": "ann"}
    # A failing command's exit code is `template run`'s, as it is `job run`'s.
    server.cli("template", "create", "fail", "--", "sh", "-c", "exit 7", check=True)
    assert server.cli("template", "run", "fail").returncode == 7


def test_bad_parameters_are_refused_before_anything_is_submitted(server: Server) -> None:
    server.cli("template", "create", *GREET, check=True)
    cases = [
        ((), "missing parameter 'who': give -p who=VALUE"),
        (("-p", "who=World"), "who='World' does not match '[a-z]+'"),
        (("-p", "who=x", "-p", "bogus=1"), "unknown parameter 'bogus': greet takes greeting, who"),
        (("-p", "who=x", "--version", "2"), "has versions 1 to 1, not 2"),
    ]
    for args, said in cases:
        refused = server.cli("template", "run", "greet", *args)
        assert refused.returncode != 0 and said in refused.stderr, (args, refused.stderr)
    assert _jobs(server) == []
    missing = server.cli("template", "run", "nope")
    assert "no template 'nope'" in missing.stderr


def test_bad_definitions_are_clear_errors(server: Server) -> None:
    cases = [
        (("t", "--", "echo", "{{who}}"), "{{who}} is used but no --param declares it"),
        (("t", "--param", "a-b", "--", "true"), "parameter 'a-b': letters, digits and '_'"),
        (("t", "--param", "a", "--param", "a", "--", "true"), "'a' is declared twice"),
        (("t", "--param", "a", "--param-pattern", "a=(", "--", "true"), "bad pattern '('"),
        (("t", "--param", "a=X", "--param-pattern", "a=[a-z]", "--", "true"), "its default"),
        (("t", "--param-pattern", "b=x", "--", "true"), "b: no --param declares it"),
        (("bad name", "--", "true"), "1 to 63 letters"),
        (("t", "--secret", "A=1", "--", "true"), "a template's jobs take none"),
    ]
    for args, said in cases:
        refused = server.cli("template", "create", *args)
        assert refused.returncode != 0 and said in refused.stderr, (args, refused.stderr)
    server.cli("template", "create", "t", "--", "true", check=True)
    again = server.cli("template", "create", "t", "--", "true")
    assert "template 't' exists: `laino template update` it" in again.stderr


def test_an_update_is_a_new_version_and_earlier_jobs_keep_theirs(server: Server) -> None:
    server.cli("template", "create", *GREET, check=True)
    server.cli("template", "run", "greet", "-p", "who=one", check=True)
    first = _jobs(server)[0]["id"]
    updated = server.cli(
        "template", "update", "greet", "--param", "who", "--", "echo", "bye {{who}}"
    )
    assert updated.stdout == "template greet: version 2\n"
    assert server.cli("template", "run", "greet", "-p", "who=two", check=True).stdout == "bye two\n"
    assert server.job(first)["template"] == "greet v1 greeting=hello who=one"
    assert server.job(_jobs(server)[0]["id"])["template"] == "greet v2 who=two"
    old = server.cli("template", "run", "greet", "-p", "who=three", "--version", "1", check=True)
    assert old.stdout == "hello, three\n"
    history = json.loads(
        server.cli("template", "history", "greet", "-o", "json", check=True).stdout
    )
    assert [v["version"] for v in history] == [1, 2]
    assert history[0]["spec"]["command"] == ["sh", "-c", 'echo "{{greeting}}, $WHO"']
    # Deleted, then defined again: its numbers go on, so no two versions share one.
    server.cli("template", "delete", "greet", check=True)
    gone = server.cli("template", "run", "greet", "-p", "who=x")
    assert "no template 'greet'" in gone.stderr
    assert "greet" not in server.cli("template", "list", check=True).stdout
    made = server.cli("template", "create", "greet", "--", "true", check=True)
    assert made.stdout == "template greet: version 3\n"


def test_a_schedule_runs_a_template_with_its_parameters(server: Server) -> None:
    server.cli("template", "create", *GREET, check=True)
    refused = server.cli("schedule", "create", "s", "--every", "1h", "--template", "greet")
    assert "missing parameter 'who'" in refused.stderr
    both = server.cli(
        "schedule", "create", "s", "--every", "1h", "--template", "greet", "--", "echo"
    )
    assert "the command and its options are the template's" in both.stderr
    server.cli(
        "schedule",
        "create",
        "s",
        "--every",
        "1h",
        "--template",
        "greet",
        "-p",
        "who=cron",
        check=True,
    )
    job_id = server.cli("schedule", "trigger", "s", check=True).stdout.strip()
    assert (
        server.wait_state(job_id, {"SUCCEEDED"})["template"] == "greet v1 greeting=hello who=cron"
    )
    assert server.cli("job", "logs", job_id, check=True).stdout == "hello, cron\n"


def test_a_read_token_reads_templates_and_may_not_define_or_run_them(server: Server) -> None:
    server.cli("template", "create", *GREET, check=True)
    viewer = server.cli("token", "create", "viewer", "--role", "read", check=True).stdout.strip()
    channel = grpc.insecure_channel(server.address)
    stub = rpc.TemplateServiceStub(channel)
    metadata = [("authorization", f"Bearer {viewer}")]
    assert stub.GetTemplate(pb.TemplateRequest(name="greet"), metadata=metadata).latest.version == 1
    for call, request in (
        (stub.RunTemplate, pb.RunTemplateRequest(name="greet", params={"who": "x"})),
        (
            stub.CreateTemplate,
            pb.DefineTemplateRequest(name="x", spec=pb.JobSpec(command=["true"])),
        ),
        (stub.DeleteTemplate, pb.TemplateRequest(name="greet")),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            call(request, metadata=metadata)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _jobs(server) == []


def test_a_submission_cannot_claim_to_come_from_a_template(server: Server) -> None:
    spec = pb.JobSpec(command=["true"], template="greet", template_version=9)
    spec.template_params["who"] = "forged"
    reply = server.jobs.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=10)
    job = server.job(reply.job.id)
    assert job["template"] is None and "template" not in job["spec"]


def test_a_pattern_that_backtracks_elsewhere_answers_at_once(server: Server) -> None:
    server.cli(
        "template",
        "create",
        "t",
        "--param",
        "a",
        "--param-pattern",
        "a=(a+)+",
        "--",
        "echo",
        "{{a}}",
        check=True,
    )
    started = time.monotonic()
    refused = server.cli("template", "run", "t", "-p", "a=" + "a" * 4000 + "b")
    assert "does not match" in refused.stderr
    assert time.monotonic() - started < 5  # a backtracking engine takes longer than the universe
