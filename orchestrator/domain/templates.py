"""The Template aggregate: a named job definition with parameters, kept as numbered versions.

Every change is a new version; the old ones stay readable, and each job made from one records
which (JobSpec.template, template_version, template_params).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from laino.orchestrator.domain.jobs import NAMESPACE
from laino.orchestrator.domain.spec import JobSpec
from laino.orchestrator.domain.tokens import NAME

PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# {{P}}, spaces allowed inside the braces.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_PARAMS = 64
MAX_PATTERN = 256


class InvalidTemplate(ValueError):
    """A template, or a run's parameters, that cannot be: says which and why."""


class TemplateExists(ValueError):
    """A template of that name is defined: update it instead."""


class Template(Aggregate):
    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE, f"template:{name}")

    @event("Defined")
    def __init__(self, name: str, version: dict[str, Any]):
        self.name = name
        self.versions: list[dict[str, Any]] = [{**version, "version": 1}]
        self.deleted = False

    def update(self, version: dict[str, Any]) -> None:
        self._updated(version)

    @event("Updated")
    def _updated(self, version: dict[str, Any]) -> None:
        """Also a deleted template's name used again: its numbers go on."""
        self.versions = [*self.versions, {**version, "version": len(self.versions) + 1}]
        self.deleted = False

    def delete(self) -> None:
        if not self.deleted:
            self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True

    @property
    def latest(self) -> dict[str, Any]:
        return self.versions[-1]

    def numbered(self, number: int) -> dict[str, Any]:
        """Version `number` (from 1), or the latest with 0."""
        if not 0 <= number <= len(self.versions):
            raise InvalidTemplate(
                f"template {self.name!r} has versions 1 to {len(self.versions)}, not {number}"
            )
        return self.versions[number - 1] if number else self.latest


def check_template_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise InvalidTemplate(
            f"name {name[:80]!r}: 1 to 63 letters, digits, '.', '_', '@' or '-',"
            " starting with a letter or digit"
        )


def placeholders(spec: JobSpec) -> set[str]:
    """The parameters the command and the env refer to."""
    texts = [*spec.command, *spec.env.values()]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def filled(spec: JobSpec, values: dict[str, str]) -> dict[str, Any]:
    """The spec's fields with each {{P}} of its command and env replaced by P's value."""

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda found: values[found.group(1)], text)

    fields = spec.as_dict()
    fields["command"] = [fill(arg) for arg in spec.command]
    fields["env"] = {key: fill(value) for key, value in spec.env.items()}
    return fields
