"""The jobs whose saga is not finished, as the runner sees them from one pass to the next.

Listed from the view once, then kept up to date in memory from the sagas' notification log, so
that a pass costs what changed since the last, not how many sagas are open.
"""

from __future__ import annotations

from uuid import UUID

from laino.orchestrator.apps import SagasApp
from laino.orchestrator.domain.saga import ExecutionSaga
from laino.orchestrator.notifying import notifications_after
from laino.orchestrator.views import Views


class OpenSagas:
    def __init__(self, views: Views, sagas: SagasApp):
        self.views = views
        self.sagas = sagas
        # Saga id → job id, and the sagas' notification that includes.
        self.open: dict[UUID, UUID] = {}
        self.position: int | None = None
        # The jobs whose saga finished since the caller last took them.
        self.closed: list[UUID] = []

    def news(self) -> list[UUID]:
        """The jobs whose saga opened since the last call: every open one, the first time."""
        opened: list[UUID] = []
        if self.position is None:
            self.position, opened = self.views.open_sagas()
            for job_id in opened:
                self.open[ExecutionSaga.create_id(job_id)] = job_id
        for note in notifications_after(self.sagas.notification_log, self.position):
            if note.topic.endswith(".Started"):
                started = self.sagas.mapper.to_domain_event(note)
                job_id = UUID(str(started.job_id))  # type: ignore[attr-defined]
                self.open[started.originator_id] = job_id
                opened.append(job_id)
            elif note.topic.endswith(".Finished"):
                saga_id = UUID(str(note.originator_id))
                if saga_id in self.open:
                    self.closed.append(self.open.pop(saga_id))
            self.position = note.id
        return opened

    def take_closed(self) -> list[UUID]:
        closed, self.closed = self.closed, []
        return closed

    def __contains__(self, job_id: object) -> bool:
        return ExecutionSaga.create_id(job_id) in self.open if isinstance(job_id, UUID) else False
