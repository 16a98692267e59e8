"""The client door's gate: every call but health's needs a token whose role allows it."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from laino.orchestrator.access import Caller, TokensApp
from laino.orchestrator.domain.tokens import Role

# The caller of the call being served; set by the gate before the servicer runs.
CALLER: ContextVar[Caller] = ContextVar("laino_caller")

# What each method needs; any other JobService method needs `read`.
NEEDS = {
    "/laino.v1.JobService/SubmitJob": Role.SUBMIT,
    "/laino.v1.JobService/CancelJob": Role.SUBMIT,
    "/laino.v1.JobService/AttachStdin": Role.SUBMIT,
    "/laino.v1.JobService/UploadInput": Role.SUBMIT,
    "/laino.v1.JobService/PruneLogs": Role.ADMIN,
    "/laino.v1.ScheduleService/CreateSchedule": Role.SUBMIT,
    "/laino.v1.ScheduleService/PauseSchedule": Role.SUBMIT,
    "/laino.v1.ScheduleService/ResumeSchedule": Role.SUBMIT,
    "/laino.v1.ScheduleService/DeleteSchedule": Role.SUBMIT,
    "/laino.v1.ScheduleService/TriggerSchedule": Role.SUBMIT,
    "/laino.v1.TemplateService/CreateTemplate": Role.SUBMIT,
    "/laino.v1.TemplateService/UpdateTemplate": Role.SUBMIT,
    "/laino.v1.TemplateService/DeleteTemplate": Role.SUBMIT,
    "/laino.v1.TemplateService/RunTemplate": Role.SUBMIT,
    # A pool holds places of its provider's capacity for everyone: the operator's to set.
    "/laino.v1.PoolService/SetPool": Role.ADMIN,
    "/laino.v1.PoolService/DeletePool": Role.ADMIN,
}
ADMIN_SERVICES = ("/laino.v1.TokenService/",)


class Gate:
    """Checks the bearer token of each call against the token store, every time."""

    def __init__(self, tokens: TokensApp):
        self.tokens = tokens

    def admit(self, method: str, metadata: Sequence[tuple[str, Any]] | None) -> None:
        needed = Role.ADMIN if method.startswith(ADMIN_SERVICES) else NEEDS.get(method, Role.READ)
        caller = self.tokens.authenticate(bearer(metadata))
        caller.require(needed)
        CALLER.set(caller)


def bearer(metadata: Sequence[tuple[str, Any]] | None) -> str:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""
