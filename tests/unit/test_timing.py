"""When schedules fire: a table of known next fire times, DST changes included."""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from laino.orchestrator.domain.timing import InvalidSchedule, Timing


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _shown(at: float, zone: str) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(zone)).isoformat()


NEXT = [
    # cron, zone, after, the next three fire times as the zone's clock shows them
    (
        "0 2 * * *",
        "UTC",
        "2026-06-01T00:00:00+00:00",
        ["2026-06-01T02:00:00+00:00", "2026-06-02T02:00:00+00:00", "2026-06-03T02:00:00+00:00"],
    ),
    (
        "*/15 9-10 * * 1-5",
        "America/New_York",
        "2026-01-02T10:40:00-05:00",  # a Friday
        ["2026-01-02T10:45:00-05:00", "2026-01-05T09:00:00-05:00", "2026-01-05T09:15:00-05:00"],
    ),
    (
        "@monthly",
        "Asia/Tokyo",
        "2026-12-15T12:00:00+09:00",
        ["2027-01-01T00:00:00+09:00", "2027-02-01T00:00:00+09:00", "2027-03-01T00:00:00+09:00"],
    ),
    # Spring forward in Madrid (2026-03-29, 02:00 → 03:00): 02:30 does not exist that day and
    # fires at the first moment after the change; the offset changes from +01 to +02.
    (
        "30 2 * * *",
        "Europe/Madrid",
        "2026-03-28T00:00:00+01:00",
        ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
    ),
    # Fall back (2026-10-25, 03:00 → 02:00): 02:30 comes twice and fires once, the first time.
    (
        "30 2 * * *",
        "Europe/Madrid",
        "2026-10-24T12:00:00+02:00",
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00"],
    ),
    # A schedule within the hour keeps its pace through the repeated hour: both halves fire.
    (
        "0 * * * *",
        "Europe/Madrid",
        "2026-10-25T01:30:00+02:00",
        ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"],
    ),
]


@pytest.mark.parametrize(("cron", "zone", "after", "expected"), NEXT)
def test_cron_fires_at_the_known_times(
    cron: str, zone: str, after: str, expected: list[str]
) -> None:
    timing = Timing(cron=cron, timezone=zone)
    timing.validate()
    assert [_shown(at, zone) for at in islice(timing.after(_at(after)), 3)] == expected
    # Read back from the last of them, the same times.
    found = timing.between(_at(after), _at(expected[-1]), 10)
    assert [_shown(at, zone) for at in found] == expected


def test_every_counts_from_its_anchor_and_a_long_gap_costs_little() -> None:
    timing = Timing(every=2.0, anchor=100.0)
    assert list(islice(timing.after(101.0), 3)) == [102.0, 104.0, 106.0]
    assert timing.between(100.0, 111.0, 100) == [102.0, 104.0, 106.0, 108.0, 110.0]
    assert timing.between(100.0, 111.0, 2) == [108.0, 110.0]  # the latest ones
    assert timing.between(100.0, 100.0 + 10 * 365 * 86400, 3)[-1] == 100.0 + 10 * 365 * 86400
    minutely = Timing(cron="* * * * *")
    year = _at("2026-01-01T00:00:00+00:00")
    assert len(minutely.between(year, year + 365 * 86400, 5)) == 5


@pytest.mark.parametrize(
    ("timing", "field"),
    [
        (Timing(), "timing"),
        (Timing(cron="* * * * *", every=5), "timing"),
        (Timing(cron="61 * * * *"), "cron"),
        (Timing(cron="every day"), "cron"),
        (Timing(cron="0 0 30 2 *"), "cron"),  # 30 February never comes
        (Timing(cron="0 2 * * *", timezone="Mars/Olympus"), "timezone"),
        (Timing(every=0.5), "every"),
        (Timing(every=float("nan")), "every"),
        (Timing(every=1e12), "every"),
    ],
)
def test_a_timing_that_cannot_fire_is_refused_naming_its_field(timing: Timing, field: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        timing.validate()
    assert str(refused.value).startswith(f"{field}: ")
