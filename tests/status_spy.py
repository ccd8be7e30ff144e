"""An engine that notes what an adapter hands back after the application answered, shared by
the adapter tests (a protected read answered 404 or 410 feeds probing counts; adapters hand
back only the statuses in ``Engine.recorded_statuses``)."""

from __future__ import annotations

from typing import Any

from antiscrape.decision import Decision
from antiscrape.engine import Engine
from antiscrape.request import RequestView


class StatusSpy(Engine):
    """An engine recording ``(path, status)`` for every response handed back to it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statuses: list[tuple[str, int]] = []

    def record_response(self, view: RequestView, decision: Decision, status: int) -> None:
        self.statuses.append((view.path, status))
        super().record_response(view, decision, status)

    async def arecord_response(self, view: RequestView, decision: Decision, status: int) -> None:
        self.statuses.append((view.path, status))
        await super().arecord_response(view, decision, status)
