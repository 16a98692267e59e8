"""The schedules' servicer: decode, one call, encode."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, TypeAlias
from uuid import UUID

import grpc

from laino.orchestrator.api import convert
from laino.orchestrator.api.auth import CALLER
from laino.orchestrator.apps import JobsApp
from laino.orchestrator.commands import spec_message
from laino.orchestrator.domain.schedules import Schedule
from laino.orchestrator.domain.timing import InvalidSchedule, Timing
from laino.orchestrator.schedules import SchedulesApp, fire
from laino.orchestrator.settings import Settings
from laino.orchestrator.templates import TemplatesApp, render
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
NEXT_FIRES = 5


@dataclass(kw_only=True, eq=False)
class ScheduleService(rpc.ScheduleServiceServicer):
    settings: Settings
    schedules: SchedulesApp
    jobs: JobsApp
    templates: TemplatesApp

    async def CreateSchedule(
        self, request: pb.CreateScheduleRequest, context: Context
    ) -> pb.Schedule:
        if request.template:
            if request.HasField("spec"):
                raise InvalidSchedule("spec", "give a template or a spec, not both")
            template = self.templates.get(request.template)
            spec = render(template, 0, dict(request.template_params))
        else:
            spec = convert.spec_from(request.spec)
        spec = self.settings.complete(spec)
        if spec.stdin or spec.tty:
            raise InvalidSchedule("spec", "a scheduled job has no input and no terminal")
        caller = CALLER.get()
        # Its jobs run in folders of their own, whoever made it: nobody's CLI is there.
        spec.check_working_dir(self.settings.allowed_workdirs)
        caller.require_provider(spec.provider)
        timing = Timing(
            cron=request.cron,
            timezone=request.timezone or "UTC",
            every=convert.seconds_from(request.every_seconds, "every_seconds"),
        )
        made = self.schedules.create(
            request.name,
            timing,
            catchup=request.catchup or "last",
            overlap=request.overlap or "skip",
            spec=spec,
            by=caller.name,
        )
        return self._message(made)

    async def GetSchedule(self, request: pb.ScheduleRequest, context: Context) -> pb.Schedule:
        return self._message(self.schedules.get(request.name))

    async def ListSchedules(
        self, request: pb.ListSchedulesRequest, context: Context
    ) -> pb.ListSchedulesResponse:
        found = self.schedules.schedules()
        return pb.ListSchedulesResponse(schedules=[self._message(s, runs=False) for s in found])

    async def PauseSchedule(self, request: pb.ScheduleRequest, context: Context) -> pb.Schedule:
        return self._message(self.schedules.pause(request.name))

    async def ResumeSchedule(self, request: pb.ScheduleRequest, context: Context) -> pb.Schedule:
        return self._message(self.schedules.resume(request.name))

    async def DeleteSchedule(self, request: pb.ScheduleRequest, context: Context) -> pb.Schedule:
        return self._message(self.schedules.delete(request.name))

    async def TriggerSchedule(self, request: pb.ScheduleRequest, context: Context) -> pb.Job:
        schedule = self.schedules.get(request.name)
        CALLER.get().require_provider(schedule.spec.provider)
        job = fire(self.schedules, self.jobs, schedule, time.time(), manual=True)
        assert job is not None  # a trigger is never skipped
        return convert.job_message(job)

    def _message(self, schedule: Schedule, *, runs: bool = True) -> pb.Schedule:
        timing = schedule.timing
        upcoming = [] if schedule.paused else timing.after(max(time.time(), schedule.done_until))
        message = pb.Schedule(
            name=schedule.name,
            cron=timing.cron,
            timezone=timing.timezone if timing.cron else "",
            every_seconds=timing.every,
            catchup=schedule.catchup.value,
            overlap=schedule.overlap.value,
            spec=spec_message(schedule.spec),
            paused=schedule.paused,
            created_by=schedule.created_by,
            created_at=schedule.defined_at,
            next_fires=list(itertools.islice(upcoming, NEXT_FIRES)),
        )
        for at, job_id, what in schedule.runs if runs else []:
            state = self.jobs.get_job(UUID(job_id)).state if job_id else None
            message.runs.append(
                pb.ScheduleRun(
                    fire_time=at,
                    job_id=job_id,
                    what=what,
                    state=pb.JobState.Value(state) if state else pb.JOB_STATE_UNSPECIFIED,
                )
            )
        return message
