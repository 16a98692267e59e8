"""Conversions between the API's messages and the orchestrator's plain data."""

from __future__ import annotations

import dataclasses

from laino.orchestrator.api.convert import spec_from
from laino.orchestrator.commands import spec_message
from laino.orchestrator.domain.spec import JobSpec
from laino.v1 import laino_pb2 as pb


def test_a_spec_survives_the_round_trip_through_its_message() -> None:
    spec = JobSpec.parse(
        command=("make", "test"),
        image="img",
        env={"CI": "1"},
        working_dir="/src",
        timeout_seconds=9.5,
        cpu=1.5,
        memory_bytes=2**30,
        gpus=1,
        labels={"team": "web"},
        provider="process",
        max_attempts=4,
        retry_on_failure=True,
    )
    assert spec_from(spec_message(spec)) == spec


def test_every_spec_field_is_in_the_message() -> None:
    fields = {f.name for f in dataclasses.fields(JobSpec)}
    assert fields == set(pb.JobSpec.DESCRIPTOR.fields_by_name)
