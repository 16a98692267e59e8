"""Structured logs: the ids bound where they are learnt appear on every line after."""

from __future__ import annotations

import contextvars
import json
import logging

from laino.providers import logfmt


def _record(message: str) -> logging.LogRecord:
    record = logging.LogRecord("laino.test", logging.INFO, __file__, 1, message, (), None)
    logfmt._WithIds().filter(record)
    return record


def _in_fresh_context(message: str, **ids: str) -> logging.LogRecord:
    def make() -> logging.LogRecord:
        logfmt.bind(**ids)
        return _record(message)

    return contextvars.copy_context().run(make)


def test_json_lines_carry_the_bound_ids_as_fields() -> None:
    record = _in_fresh_context("worker registered", job="j1", worker="w1", trace="t1")
    line = json.loads(logfmt.JsonFormatter("server").format(record))
    assert line["message"] == "worker registered" and line["level"] == "info"
    assert (line["job"], line["worker"], line["trace"], line["process"]) == (
        "j1",
        "w1",
        "t1",
        "server",
    )


def test_text_lines_end_with_the_ids_and_leave_out_empty_ones() -> None:
    record = _in_fresh_context("attempt 1 failed", job="j1", trace="")
    assert logfmt.TextFormatter("agent").format(record).endswith("attempt 1 failed job=j1")


def test_ids_bound_in_one_context_do_not_leak_into_another() -> None:
    _in_fresh_context("first", job="j1")
    assert _in_fresh_context("second").ids == {}
