"""Sizes and times as people type them: 512m, 2g; 10m, 1h30m, or an ISO 8601 time."""

from __future__ import annotations

import re
import time
from datetime import datetime

import click

SIZES = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Size(click.ParamType):
    """Bytes: a number with an optional unit k, m, g or t (powers of 1024), e.g. 512m."""

    name = "size"

    def convert(self, value: object, param: click.Parameter | None, ctx: object) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower().removesuffix("ib").removesuffix("i")
        number, unit = text.rstrip("bkmgt"), text[len(text.rstrip("bkmgt")) :]
        try:
            found = float(number) * SIZES[unit]
        except (ValueError, KeyError):
            self.fail(f"{value!r} is not a size like 512m or 2g", param)
        if not 0 <= found < 2**63:
            self.fail(f"{value!r} is out of range", param)
        return int(found)


class Duration(click.ParamType):
    """Seconds: 30s, 10m, 1h30m, 7d."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: object) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        parts = DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            self.fail(f"{value!r} is not a duration like 30s, 10m, 1h30m or 7d", param)
        return sum(float(n) * SECONDS[u] for n, u in parts)


class Since(click.ParamType):
    """A Unix time: a duration back from now (10m, 1h30m, 45s) or an ISO 8601 time."""

    name = "since"

    def convert(self, value: object, param: click.Parameter | None, ctx: object) -> float:
        text = str(value).strip()
        parts = DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return time.time() - Duration().convert(text, param, ctx)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            example = "a duration like 10m nor a time like 2026-01-02T15:04:05Z"
            self.fail(f"{value!r} is neither {example}", param)
        if moment.tzinfo is None:
            moment = moment.astimezone()  # a time without a zone is the local time
        return moment.timestamp()
