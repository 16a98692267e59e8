"""How laino processes log: readable lines by default, one JSON object per line when asked.

Each line carries the ids it is about (job, worker, trace), taken from a context variable that
the code sets where it learns them: asyncio tasks and `to_thread` calls inherit it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from urllib.parse import urlsplit, urlunsplit

FORMATS = ("text", "json")

_ids: ContextVar[dict[str, str]] = ContextVar("laino_log_ids", default={})  # noqa: B039


def redacted(url: str) -> str:
    """A URL fit to print: its password, if any, as ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=user + host))


def bind(**ids: str) -> None:
    """Adds ids to every line logged from here on in this task (and what it starts)."""
    _ids.set({**_ids.get(), **{k: v for k, v in ids.items() if v}})


class _WithIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.ids = _ids.get()
        return True


class TextFormatter(logging.Formatter):
    """`time name LEVEL message job=… worker=… trace=…`"""

    def __init__(self, process: str):
        super().__init__(f"%(asctime)s {process} %(name)s %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids: dict[str, str] = getattr(record, "ids", {})
        return line + "".join(f" {key}={value}" for key, value in ids.items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the ids as fields."""

    def __init__(self, process: str):
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "ids", {}),
        }
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document)


def configure(process: str, fmt: str = "text") -> None:
    """Sends INFO and above to stderr in the chosen format."""
    if fmt not in FORMATS:
        raise UnknownFormat(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_WithIds())
    handler.setFormatter(JsonFormatter(process) if fmt == "json" else TextFormatter(process))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


class UnknownFormat(ValueError):
    """A log format laino does not write."""
