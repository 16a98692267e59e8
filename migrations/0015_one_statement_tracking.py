"""Each event store made again as this version's recorders make it: on PostgreSQL, that adds
the function that saves a process application's events with its tracking record in one
statement (orchestrator/store/pgevents.py). As 0014 did for the events alone."""

from __future__ import annotations

import importlib


def apply(event_stores: dict[str, dict[str, str]]) -> None:
    importlib.import_module(f"{__package__}.0014_one_statement_saves").apply(event_stores)
