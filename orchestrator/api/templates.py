"""The templates' servicer: decode, one call, encode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc

from laino.orchestrator.api import convert
from laino.orchestrator.api.auth import CALLER
from laino.orchestrator.api.servicers import JobService
from laino.orchestrator.commands import spec_message
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.templates import InvalidTemplate, Template
from laino.orchestrator.templates import Param, TemplatesApp, render
from laino.v1 import laino_pb2 as pb
from laino.v1 import laino_pb2_grpc as rpc

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


@dataclass(kw_only=True, eq=False)
class TemplateService(rpc.TemplateServiceServicer):
    templates: TemplatesApp
    submitter: JobService

    async def CreateTemplate(
        self, request: pb.DefineTemplateRequest, context: Context
    ) -> pb.Template:
        params, spec = _definition(request)
        made = self.templates.create(request.name, params, spec, CALLER.get().name)
        return _message(made)

    async def UpdateTemplate(
        self, request: pb.DefineTemplateRequest, context: Context
    ) -> pb.Template:
        params, spec = _definition(request)
        return _message(self.templates.update(request.name, params, spec, CALLER.get().name))

    async def GetTemplate(self, request: pb.TemplateRequest, context: Context) -> pb.Template:
        return _message(self.templates.get(request.name))

    async def ListTemplates(
        self, request: pb.ListTemplatesRequest, context: Context
    ) -> pb.ListTemplatesResponse:
        return pb.ListTemplatesResponse(templates=[_message(t) for t in self.templates.templates()])

    async def TemplateHistory(
        self, request: pb.TemplateRequest, context: Context
    ) -> pb.TemplateHistoryResponse:
        found = self.templates.get(request.name)
        return pb.TemplateHistoryResponse(versions=[_version(v) for v in found.versions])

    async def DeleteTemplate(self, request: pb.TemplateRequest, context: Context) -> pb.Template:
        return _message(self.templates.delete(request.name))

    async def RunTemplate(
        self, request: pb.RunTemplateRequest, context: Context
    ) -> pb.SubmitJobResponse:
        template = self.templates.get(request.name)
        spec = render(template, request.version, dict(request.params))
        return self.submitter.submit(spec, request.idempotency_key, request.client_dir, {}, context)


def _definition(request: pb.DefineTemplateRequest) -> tuple[list[Param], JobSpec]:
    spec = convert.spec_from(request.spec)
    if spec.stdin or spec.tty:
        raise InvalidTemplate("a template's jobs have no input and no terminal")
    params = [
        Param(p.name, p.default if p.HasField("default") else None, p.pattern)
        for p in request.params
    ]
    return params, spec


def _version(version: dict[str, Any]) -> pb.TemplateVersion:
    return pb.TemplateVersion(
        version=version["version"],
        params=[
            pb.TemplateParam(
                name=p["name"],
                pattern=p["pattern"],
                **({"default": p["default"]} if p["default"] is not None else {}),
            )
            for p in version["params"]
        ],
        spec=spec_message(JobSpec(**version["spec"])),
        created_by=version["created_by"],
        created_at=version["created_at"],
    )


def _message(template: Template) -> pb.Template:
    return pb.Template(name=template.name, latest=_version(template.latest))
