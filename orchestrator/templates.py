"""Use cases of templates: define, update, read, delete, and render one into a job's spec.

A run's parameters are checked before anything is submitted: each is declared, each required
one is given, each value matches its pattern (RE2, so no pattern takes more than linear time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import re2
from eventsourcing.application import AggregateNotFoundError

from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.templates import (
    MAX_PARAMS,
    MAX_PATTERN,
    PARAM,
    InvalidTemplate,
    Template,
    TemplateExists,
    check_template_name,
    filled,
    placeholders,
)
from laino.orchestrator.notifying import NotifyingApplication, notifications_after

# The label on each job a template makes.
LABEL = "laino.template"
MAX_VALUE = 4096
_QUIET = re2.Options()
_QUIET.log_errors = False  # a bad pattern is the caller's error, not the server's log's


@dataclass(frozen=True)
class Param:
    name: str
    default: str | None = None  # None: required
    pattern: str = ""  # RE2, the whole value must match

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "default": self.default, "pattern": self.pattern}


class TemplateNotFound(LookupError):
    pass


class TemplatesApp(NotifyingApplication):
    name = "Templates"

    def create(self, name: str, params: list[Param], spec: JobSpec, by: str) -> Template:
        version = _version(name, params, spec, by)

        def change() -> Template:
            found = self.find(name)
            if found is None:
                return Template(name, version)
            if not found.deleted:
                raise TemplateExists(f"template {name!r} exists: `laino template update` it")
            found.update(version)
            return found

        return self._saved(change)

    def update(self, name: str, params: list[Param], spec: JobSpec, by: str) -> Template:
        version = _version(name, params, spec, by)

        def change() -> Template:
            found = self.get(name)
            found.update(version)
            return found

        return self._saved(change)

    def delete(self, name: str) -> Template:
        def change() -> Template:
            found = self.get(name)
            found.delete()
            return found

        return self._saved(change)

    def find(self, name: str) -> Template | None:
        try:
            found: Template = self.repository.get(Template.create_id(name))
        except AggregateNotFoundError:
            return None
        return found

    def get(self, name: str) -> Template:
        found = self.find(name)
        if found is None or found.deleted:
            raise TemplateNotFound(f"no template {name[:80]!r}")
        return found

    def templates(self) -> list[Template]:
        ids = {UUID(str(n.originator_id)) for n in notifications_after(self.notification_log, 0)}
        found: list[Template] = [self.repository.get(i) for i in ids]
        return sorted((t for t in found if not t.deleted), key=lambda t: t.name)

    def _saved(self, change: Callable[[], Template]) -> Template:
        saved = self.save_changed(change)
        assert saved is not None
        return saved


def render(template: Template, number: int, values: dict[str, str]) -> JobSpec:
    """The job spec of version `number` (0: the latest) with these parameters, checked."""
    version = template.numbered(number)
    params = [Param(**p) for p in version["params"]]
    declared = {p.name for p in params}
    unknown = sorted(set(values) - declared)
    if unknown:
        takes = ", ".join(sorted(declared)) or "none"
        raise InvalidTemplate(f"unknown parameter {unknown[0]!r}: {template.name} takes {takes}")
    given: dict[str, str] = {}
    for param in params:
        value = values.get(param.name, param.default)
        if value is None:
            raise InvalidTemplate(f"missing parameter {param.name!r}: give -p {param.name}=VALUE")
        if len(value) > MAX_VALUE or "\0" in value:
            raise InvalidTemplate(f"{param.name}: at most {MAX_VALUE} characters, no NUL")
        if param.pattern and not re2.compile(param.pattern, _QUIET).fullmatch(value):
            raise InvalidTemplate(f"{param.name}={value[:80]!r} does not match {param.pattern!r}")
        given[param.name] = value
    fields = filled(JobSpec(**version["spec"]), given)
    fields.update(
        template=template.name,
        template_version=version["version"],
        template_params=given,
    )
    return JobSpec.parse(**fields)


def _version(name: str, params: list[Param], spec: JobSpec, by: str) -> dict[str, Any]:
    check_template_name(name)
    if len(params) > MAX_PARAMS:
        raise InvalidTemplate(f"at most {MAX_PARAMS} parameters")
    names = [p.name for p in params]
    for param in params:
        if not PARAM.fullmatch(param.name):
            raise InvalidTemplate(f"parameter {param.name[:80]!r}: letters, digits and '_'")
        if names.count(param.name) > 1:
            raise InvalidTemplate(f"parameter {param.name!r} is declared twice")
        if len(param.pattern) > MAX_PATTERN:
            raise InvalidTemplate(f"{param.name}: a pattern is at most {MAX_PATTERN} characters")
        if param.pattern:
            try:
                pattern = re2.compile(param.pattern, _QUIET)
            except re2.error as err:
                said = err.args[0].decode() if isinstance(err.args[0], bytes) else err.args[0]
                raise InvalidTemplate(
                    f"{param.name}: bad pattern {param.pattern!r}: {said}"
                ) from None
            if param.default is not None and not pattern.fullmatch(param.default):
                raise InvalidTemplate(f"{param.name}: its default does not match its pattern")
    undeclared = sorted(placeholders(spec) - set(names))
    if undeclared:
        raise InvalidTemplate(f"{{{{{undeclared[0]}}}}} is used but no --param declares it")
    spec.validate()
    labelled = JobSpec(**{**spec.as_dict(), "labels": {**spec.labels, LABEL: name}})
    return {
        "params": [p.as_dict() for p in params],
        "spec": labelled.as_dict(),
        "created_by": by,
        "created_at": time.time(),
    }
