"""When a schedule fires: a cron expression in a time zone, or every so many seconds.

Cron expressions are croniter's (five fields, or six with seconds; @hourly and the like), read
in the schedule's time zone, so `0 2 * * *` in Europe/Madrid is 02:00 there in winter and in
summer. As cron does: a local time that a DST change skips fires at the first moment after
the change (02:30 becomes 03:00 that day); one that it repeats fires once, the first time,
unless the expression's hour is a wildcard (`0 * * * *` fires in both halves of the hour).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

# The shortest interval: the scheduler looks twice a second.
MIN_EVERY = 1.0
MAX_EVERY = 366 * 86400.0


@dataclass(frozen=True)
class Timing:
    """Exactly one of `cron` and `every` (seconds) is set; `every` counts from `anchor`."""

    cron: str = ""
    timezone: str = "UTC"
    every: float = 0.0
    anchor: float = 0.0

    def validate(self) -> None:
        if bool(self.cron) == bool(self.every):
            raise InvalidSchedule("timing", "give either a cron expression or an interval")
        if self.every:
            if not math.isfinite(self.every) or not MIN_EVERY <= self.every <= MAX_EVERY:
                raise InvalidSchedule("every", f"an interval from {MIN_EVERY:g}s to 366 days")
            return
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidSchedule("timezone", f"unknown time zone {self.timezone[:60]!r}") from None
        if not croniter.is_valid(self.cron):
            raise InvalidSchedule("cron", f"{self.cron[:100]!r} is not a cron expression")
        try:
            croniter(self.cron, datetime.now(zone)).get_next(float)
        except (CroniterBadCronError, CroniterBadDateError) as err:
            raise InvalidSchedule("cron", f"{self.cron[:100]!r} never fires: {err}") from None

    def after(self, moment: float) -> Iterator[float]:
        """The fire times after `moment` (Unix seconds), in order, for ever."""
        if self.every:
            k = max(0, math.floor((moment - self.anchor) / self.every)) + 1
            while True:
                yield self.anchor + k * self.every
                k += 1
        zone = ZoneInfo(self.timezone)
        times = croniter(self.cron, datetime.fromtimestamp(moment, zone))
        last = None
        while True:
            at = times.get_next(float)
            local = _wall(at, zone)
            if local != last or not self._fixed_hour:  # a local time DST repeats: once
                yield at
            last = local

    def before(self, moment: float) -> Iterator[float]:
        """The fire times at or before `moment`, newest first."""
        if self.every:
            k = math.floor((moment - self.anchor) / self.every)
            while k >= 1:
                yield self.anchor + k * self.every
                k -= 1
            return
        zone = ZoneInfo(self.timezone)
        # croniter's get_prev is strictly before its start: start just after `moment`.
        times = croniter(self.cron, datetime.fromtimestamp(moment + 1e-3, zone))
        held, held_local = None, None
        while True:
            at = times.get_prev(float)
            if at > moment:
                continue
            local = _wall(at, zone)
            if local == held_local and self._fixed_hour:  # DST repeats it: the first stands
                held = at
                continue
            if held is not None:
                yield held
            held, held_local = at, local

    def between(self, start: float, end: float, most: int) -> list[float]:
        """The latest `most` fire times in (start, end], oldest first: read back from the end,
        so that a long gap costs no more than `most` steps."""
        found: list[float] = []
        for at in self.before(end):
            if at <= start or len(found) == most:
                break
            found.append(at)
        return found[::-1]

    @property
    def _fixed_hour(self) -> bool:
        """Whether the cron names its hours, rather than firing every hour or every few."""
        fields = self.cron.split()
        return not self.cron.startswith("@hourly") and (len(fields) < 2 or "*" not in fields[1])


def _wall(at: float, zone: ZoneInfo) -> datetime:
    """The local time on a wall clock: the same for both instances of a repeated hour."""
    return datetime.fromtimestamp(at, zone).replace(tzinfo=None, fold=0)


class InvalidSchedule(ValueError):
    """A schedule's definition is not acceptable: `FIELD: why`."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
