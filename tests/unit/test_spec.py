"""Job specs: what one job may ask for without breaking what every user shares."""

from __future__ import annotations

import pytest

from laino.orchestrator.domain.spec import MAX_SPEC_BYTES, InvalidSpec, JobSpec


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cpu": float("nan")}, "cpu"),
        ({"cpu": float("inf")}, "cpu"),
        ({"timeout_seconds": float("nan")}, "timeout_seconds"),
        ({"timeout_seconds": float("inf")}, "timeout_seconds"),
        ({"max_attempts": 2_147_483_647}, "max_attempts"),
        ({"command": ("echo", "a\0b")}, "command"),
        ({"env": {"A": "x\0y"}}, "env"),
        ({"labels": {"team": "\0"}}, "labels"),
        ({"working_dir": "../../"}, "working_dir"),
        ({"working_dir": "a/../../b"}, "working_dir"),
        ({"command": ("echo", "x" * MAX_SPEC_BYTES)}, "command"),
        ({"env": {f"V{i}": "" for i in range(1001)}}, "env"),
    ],
)
def test_a_spec_that_would_break_shared_things_is_refused_with_its_field(
    fields: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidSpec) as refused:
        JobSpec.parse(**{"command": ("true",), **fields})
    assert refused.value.field == field


def test_a_working_directory_inside_the_jobs_folder_is_fine() -> None:
    assert JobSpec.parse(command=("true",), working_dir="src/../build").working_dir


def test_an_absolute_working_directory_of_a_process_job_must_be_allowed() -> None:
    spec = JobSpec.parse(command=("true",), working_dir="/srv/builds/x", provider="process")
    spec.check_working_dir(("/srv/builds",))
    with pytest.raises(InvalidSpec, match="not allowed by --allow-workdir"):
        spec.check_working_dir(("/srv/other",))
    with pytest.raises(InvalidSpec):
        JobSpec.parse(
            command=("true",), working_dir="/srv/builds2", provider="process"
        ).check_working_dir(("/srv/builds",))
    docker = JobSpec.parse(command=("true",), working_dir="/anywhere", provider="docker")
    docker.check_working_dir(())  # a container's own filesystem
