"""Schedules: occurrences on a local-date cadence that keeps its wall-clock time across DST,
and the `!horaire` argument types. Every instant is explicit; nothing reads the real clock."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.schedule
from bot.schedule import (
    Cadence,
    Schedule,
    Weekday,
    first_anchor,
    is_on_cadence,
    local_instant,
    next_occurrence,
    occurrences,
)
from commandes.arguments import Arg, BadArgument, TimeOfDay
from commandes.registry import Registry, Router

ROOM = "!salle:example.org"
MONTREAL = "America/Montreal"
TUESDAY, SUNDAY = 1, 6
NOON = time(12, 0)
# A Monday afternoon in Montréal (09:00 EST).
MONDAY_NOV_23 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def a_schedule(**changes: object) -> Schedule:
    """Tuesdays 12:00, Montréal, weekly, anchored on Tuesday 2026-01-06."""
    values: dict[str, object] = {
        "room_id": ROOM,
        "weekday": TUESDAY,
        "start": NOON,
        "every_weeks": 1,
        "timezone": MONTREAL,
        "anchor": date(2026, 1, 6),
    }
    values.update(changes)
    return Schedule(**values)  # type: ignore[arg-type]


def refused(arg_type: object, raw: str) -> BadArgument:
    with pytest.raises(BadArgument) as caught:
        arg_type.parse(raw)  # type: ignore[attr-defined]
    return caught.value


# --- the cadence -----------------------------------------------------------------------------


def test_weekly_with_an_anchor_in_the_past() -> None:
    assert occurrences(a_schedule(), MONDAY_NOV_23, 3) == [
        utc(2026, 11, 24, 17),
        utc(2026, 12, 1, 17),
        utc(2026, 12, 8, 17),
    ]


def test_weekly_with_an_anchor_in_the_future_counts_backwards() -> None:
    schedule = a_schedule(anchor=date(2027, 6, 1))
    assert occurrences(schedule, MONDAY_NOV_23, 2) == [utc(2026, 11, 24, 17), utc(2026, 12, 1, 17)]


def test_every_two_weeks_with_an_anchor_in_the_past() -> None:
    schedule = a_schedule(every_weeks=2, anchor=date(2026, 11, 17))
    assert occurrences(schedule, MONDAY_NOV_23, 3) == [
        utc(2026, 12, 1, 17),
        utc(2026, 12, 15, 17),
        utc(2026, 12, 29, 17),
    ]


@pytest.mark.parametrize(
    ("anchor", "first"),
    [
        # 2027-01-12 is 6 weeks after 2026-12-01: the same fortnights.
        (date(2027, 1, 12), utc(2026, 12, 1, 17)),
        # 2027-01-19 is 8 weeks after 2026-11-24: the other fortnights.
        (date(2027, 1, 19), utc(2026, 11, 24, 17)),
    ],
)
def test_every_two_weeks_with_an_anchor_in_the_future(anchor: date, first: datetime) -> None:
    schedule = a_schedule(every_weeks=2, anchor=anchor)
    assert occurrences(schedule, MONDAY_NOV_23, 2) == [first, first + timedelta(weeks=2)]


def test_every_twelve_weeks_far_from_its_anchor() -> None:
    schedule = a_schedule(every_weeks=12, anchor=date(2020, 1, 7))
    found = occurrences(schedule, MONDAY_NOV_23, 2)
    assert [d.astimezone(ZoneInfo(MONTREAL)).date() for d in found] == [
        date(2026, 12, 1),  # 360 weeks after the anchor
        date(2027, 2, 23),
    ]
    assert all((d.date() - date(2020, 1, 7)).days % 84 == 0 for d in found)


def test_an_occurrence_exactly_at_after_is_not_after_it() -> None:
    assert next_occurrence(a_schedule(), utc(2026, 11, 24, 17)) == utc(2026, 12, 1, 17)
    just_before = utc(2026, 11, 24, 17) - timedelta(microseconds=1)
    assert next_occurrence(a_schedule(), just_before) == utc(2026, 11, 24, 17)


def test_after_in_another_zone_is_the_same_instant() -> None:
    paris = MONDAY_NOV_23.astimezone(ZoneInfo("Europe/Paris"))
    assert occurrences(a_schedule(), paris, 2) == occurrences(a_schedule(), MONDAY_NOV_23, 2)


def test_skipped_dates_are_left_out() -> None:
    schedule = a_schedule(skips=frozenset({date(2026, 12, 1), date(2026, 12, 9)}))
    # 2026-12-09 is a Wednesday: not a check-in date, so it changes nothing.
    assert occurrences(schedule, MONDAY_NOV_23, 3) == [
        utc(2026, 11, 24, 17),
        utc(2026, 12, 8, 17),
        utc(2026, 12, 15, 17),
    ]


def test_hundreds_of_skipped_dates_in_a_row_still_end_and_find_the_next() -> None:
    skipped = frozenset(date(2026, 11, 24) + timedelta(weeks=k) for k in range(400))
    schedule = a_schedule(skips=skipped)
    assert occurrences(schedule, MONDAY_NOV_23, 1) == [
        local_instant(date(2026, 11, 24) + timedelta(weeks=400), NOON, ZoneInfo(MONTREAL))
    ]


def test_paused_schedule_has_no_occurrence() -> None:
    schedule = a_schedule(paused=True)
    assert occurrences(schedule, MONDAY_NOV_23, 5) == []
    assert next_occurrence(schedule, MONDAY_NOV_23) is None


def test_zero_count_is_an_empty_list() -> None:
    assert occurrences(a_schedule(), MONDAY_NOV_23, 0) == []


def test_no_occurrence_after_the_last_representable_date() -> None:
    schedule = a_schedule(timezone="UTC", anchor=date(9999, 12, 28))  # a Tuesday
    assert occurrences(schedule, utc(9999, 12, 1), 5) == [
        utc(9999, 12, day, 12) for day in (7, 14, 21, 28)
    ]


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        occurrences(a_schedule(), datetime(2026, 11, 23, 14, 0), 1)  # noqa: DTZ001


@pytest.mark.parametrize(
    "changes",
    [
        {"weekday": 7},
        {"every_weeks": 0},
        {"every_weeks": 13},
        {"anchor": date(2026, 1, 7)},  # a Wednesday, for a Tuesday schedule
        {"start": time(12, 0, 30)},
        {"start": time(12, 0, tzinfo=UTC)},
    ],
)
def test_inconsistent_schedule_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case names a different field
        a_schedule(**changes)


def test_is_on_cadence() -> None:
    schedule = a_schedule(every_weeks=2, anchor=date(2026, 11, 17))
    assert is_on_cadence(schedule, date(2026, 12, 1))
    assert is_on_cadence(schedule, date(2026, 11, 3))
    assert not is_on_cadence(schedule, date(2026, 11, 24))
    assert not is_on_cadence(schedule, date(2026, 12, 2))


# --- daylight saving -----------------------------------------------------------------------


def test_noon_stays_noon_in_montreal_across_spring_forward() -> None:
    # 2026-03-08: EST (UTC-5) becomes EDT (UTC-4).
    assert occurrences(a_schedule(), utc(2026, 2, 23), 4) == [
        utc(2026, 2, 24, 17),
        utc(2026, 3, 3, 17),
        utc(2026, 3, 10, 16),
        utc(2026, 3, 17, 16),
    ]


def test_noon_stays_noon_in_montreal_across_fall_back() -> None:
    # 2026-11-01: EDT becomes EST.
    assert occurrences(a_schedule(), utc(2026, 10, 21), 3) == [
        utc(2026, 10, 27, 16),
        utc(2026, 11, 3, 17),
        utc(2026, 11, 10, 17),
    ]


def test_every_two_weeks_across_both_changes_keeps_local_noon() -> None:
    schedule = a_schedule(every_weeks=2, anchor=date(2026, 1, 6))
    zone = ZoneInfo(MONTREAL)
    found = occurrences(schedule, utc(2026, 1, 1), 26)
    assert {d.astimezone(zone).time() for d in found} == {NOON}
    assert {d.hour for d in found} == {16, 17}
    local_days = [d.astimezone(zone).date() for d in found]
    assert all(b - a == timedelta(weeks=2) for a, b in pairwise(local_days))


def test_a_time_in_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    # 02:30 does not exist on 2026-03-08 in Montréal: the check-in is at 03:30 EDT that day.
    schedule = a_schedule(weekday=SUNDAY, start=time(2, 30), anchor=date(2026, 3, 1))
    found = occurrences(schedule, utc(2026, 3, 2), 2)
    assert found == [utc(2026, 3, 8, 7, 30), utc(2026, 3, 15, 6, 30)]
    zone = ZoneInfo(MONTREAL)
    assert found[0].astimezone(zone).time() == time(3, 30)
    assert found[1].astimezone(zone).time() == time(2, 30)


def test_an_ambiguous_fall_back_time_takes_the_first_and_happens_once() -> None:
    # 01:30 happens twice on 2026-11-01 in Montréal (EDT, then EST): the first one counts.
    schedule = a_schedule(weekday=SUNDAY, start=time(1, 30), anchor=date(2026, 10, 25))
    assert occurrences(schedule, utc(2026, 10, 30), 2) == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 8, 6, 30),
    ]
    # Between the two readings of 01:30 the next check-in is a week away, not an hour.
    assert next_occurrence(schedule, utc(2026, 11, 1, 5, 30)) == utc(2026, 11, 8, 6, 30)


def test_paris_changes_on_its_own_dates() -> None:
    # Europe/Paris changes on 2026-03-29, three weeks after Montréal.
    schedule = a_schedule(start=time(18, 0), timezone="Europe/Paris")
    assert occurrences(schedule, utc(2026, 3, 16), 3) == [
        utc(2026, 3, 17, 17),
        utc(2026, 3, 24, 17),
        utc(2026, 3, 31, 16),
    ]
    gap = a_schedule(weekday=SUNDAY, start=time(2, 30), timezone="Europe/Paris",
                     anchor=date(2026, 3, 22))  # fmt: skip
    assert next_occurrence(gap, utc(2026, 3, 28)) == utc(2026, 3, 29, 1, 30)  # 03:30 CEST


def test_a_half_hour_gap_moves_by_half_an_hour() -> None:
    # Lord Howe Island springs forward 30 minutes (02:00 → 02:30) on 2026-10-04: the gap, not
    # an hour, is what a time inside it moves by. The UTC instant falls on the previous day.
    schedule = a_schedule(
        weekday=SUNDAY, start=time(2, 15), timezone="Australia/Lord_Howe", anchor=date(2026, 9, 27)
    )
    found = occurrences(schedule, utc(2026, 9, 1), 6)
    zone = ZoneInfo("Australia/Lord_Howe")
    assert [d.astimezone(zone).strftime("%m-%d %H:%M") for d in found] == [
        "09-06 02:15", "09-13 02:15", "09-20 02:15", "09-27 02:15", "10-04 02:45", "10-11 02:15"
    ]  # fmt: skip
    assert found[4] == utc(2026, 10, 3, 15, 45)


def test_a_check_in_moved_past_midnight_by_a_gap_is_still_ahead() -> None:
    # Samoa jumped from 2011-12-29 to 2011-12-31: Friday the 30th's 12:00 check-in moved a day
    # forward, to Saturday 12:00. On Saturday morning it is still to come.
    apia = "Pacific/Apia"
    saturday_morning = datetime(2011, 12, 31, 8, tzinfo=ZoneInfo(apia))
    schedule = a_schedule(weekday=4, timezone=apia, anchor=date(2011, 12, 23))
    assert occurrences(schedule, saturday_morning, 2) == [
        utc(2011, 12, 30, 22),  # Saturday 12:00 +14:00
        utc(2012, 1, 5, 22),  # Friday 12:00 +14:00
    ]
    assert first_anchor(4, NOON, apia, saturday_morning) == date(2011, 12, 30)


def test_vancouver_thursday_morning() -> None:
    schedule = a_schedule(
        weekday=3, start=time(9, 0), timezone="America/Vancouver", anchor=date(2026, 1, 1)
    )
    assert occurrences(schedule, utc(2026, 3, 1), 2) == [utc(2026, 3, 5, 17), utc(2026, 3, 12, 16)]
    assert occurrences(schedule, utc(2026, 10, 27), 2) == [
        utc(2026, 10, 29, 16),
        utc(2026, 11, 5, 17),
    ]


def test_a_late_evening_check_in_falls_on_the_next_utc_day() -> None:
    schedule = a_schedule(start=time(21, 30))
    assert next_occurrence(schedule, MONDAY_NOV_23) == utc(2026, 11, 25, 2, 30)


# --- first_anchor --------------------------------------------------------------------------


def test_first_anchor_is_today_when_the_time_is_still_ahead() -> None:
    # Tuesday 11:59 in Montréal.
    assert first_anchor(TUESDAY, NOON, MONTREAL, utc(2026, 11, 24, 16, 59)) == date(2026, 11, 24)


def test_first_anchor_is_next_week_when_today_s_time_has_come() -> None:
    assert first_anchor(TUESDAY, NOON, MONTREAL, utc(2026, 11, 24, 17)) == date(2026, 12, 1)
    assert first_anchor(TUESDAY, NOON, MONTREAL, utc(2026, 11, 24, 20)) == date(2026, 12, 1)


def test_first_anchor_on_another_weekday() -> None:
    assert first_anchor(4, NOON, MONTREAL, MONDAY_NOV_23) == date(2026, 11, 27)
    assert first_anchor(0, time(8, 0), MONTREAL, MONDAY_NOV_23) == date(2026, 11, 30)


def test_first_anchor_uses_the_local_date_not_the_utc_date() -> None:
    # 2026-11-25 03:00 UTC is Tuesday 22:00 in Montréal.
    late_tuesday = utc(2026, 11, 25, 3)
    assert first_anchor(TUESDAY, time(23, 0), MONTREAL, late_tuesday) == date(2026, 11, 24)
    assert first_anchor(2, time(8, 0), MONTREAL, late_tuesday) == date(2026, 11, 25)
    assert first_anchor(TUESDAY, time(21, 0), MONTREAL, late_tuesday) == date(2026, 12, 1)


def test_first_anchor_in_the_gap_compares_instants() -> None:
    # 03:10 EDT on 2026-03-08: a 02:30 series is still ahead today (it runs at 03:30).
    assert first_anchor(SUNDAY, time(2, 30), MONTREAL, utc(2026, 3, 8, 7, 10)) == date(2026, 3, 8)
    assert first_anchor(SUNDAY, time(2, 30), MONTREAL, utc(2026, 3, 8, 7, 30)) == date(2026, 3, 15)


def test_first_anchor_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        first_anchor(TUESDAY, NOON, MONTREAL, datetime(2026, 11, 23))  # noqa: DTZ001


# --- properties ----------------------------------------------------------------------------

ZONES = [
    "America/Montreal",
    "America/Vancouver",
    "America/St_Johns",  # UTC-3:30
    "America/Santiago",  # changes at midnight
    "America/Havana",  # changes at midnight
    "Europe/Paris",
    "Australia/Lord_Howe",  # half-hour DST
    "Pacific/Chatham",  # 02:45 gap
    "Asia/Kolkata",
    "UTC",
]
PERIOD_START, PERIOD_END = datetime(2020, 1, 1), datetime(2036, 1, 1)  # noqa: DTZ001


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    weekday = draw(st.integers(0, 6))
    base = draw(st.dates(date(2020, 1, 1), date(2035, 12, 1)))
    minute = draw(st.sampled_from([0, 15, 30, 45, 59]) | st.integers(0, 59))
    hour = draw(st.sampled_from([0, 1, 2, 3, 23]) | st.integers(0, 23))
    return Schedule(
        room_id=ROOM,
        weekday=weekday,
        start=time(hour, minute),
        every_weeks=draw(st.integers(1, 12)),
        timezone=draw(st.sampled_from(ZONES)),
        anchor=base + timedelta(days=(weekday - base.weekday()) % 7),
    )


instants = st.datetimes(PERIOD_START, PERIOD_END, timezones=st.just(UTC))


def brute_force(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """Walk every local day, the slow way, as an oracle."""
    zone = ZoneInfo(schedule.timezone)
    day = after.astimezone(zone).date() - timedelta(days=2)
    found: list[datetime] = []
    while len(found) < count:
        on = (day - schedule.anchor).days % (7 * schedule.every_weeks) == 0
        if on and day not in schedule.skips:
            instant = datetime.combine(day, schedule.start, tzinfo=zone).astimezone(UTC)
            if instant > after:
                found.append(instant)
        day += timedelta(days=1)
    return found


@settings(database=None, deadline=None)
@given(schedules(), instants, st.integers(1, 12), st.sets(st.integers(-2, 14), max_size=6))
def test_occurrences_match_a_day_by_day_walk(
    schedule: Schedule, after: datetime, count: int, skipped: set[int]
) -> None:
    # Skip some of the cadence dates around `after` (k periods from the first one after it).
    period = timedelta(weeks=schedule.every_weeks)
    local = after.astimezone(ZoneInfo(schedule.timezone)).date()
    first = local + timedelta(days=(schedule.anchor - local).days % period.days)
    schedule = replace(schedule, skips=frozenset(first + k * period for k in skipped))
    assert occurrences(schedule, after, count) == brute_force(schedule, after, count)


def _is_gap(day: date, start: time, zone: ZoneInfo) -> bool:
    wall = datetime.combine(day, start)
    back = datetime.combine(day, start, tzinfo=zone).astimezone(UTC).astimezone(zone)
    return back.replace(tzinfo=None) != wall


@settings(database=None, deadline=None)
@given(schedules(), instants, st.integers(1, 30))
def test_occurrences_keep_weekday_wall_clock_and_cadence(
    schedule: Schedule, after: datetime, count: int
) -> None:
    zone = ZoneInfo(schedule.timezone)
    found = occurrences(schedule, after, count)
    assert len(found) == count
    assert all(instant.tzinfo is UTC for instant in found)
    assert all(a < b for a, b in pairwise(found))
    assert all(instant > after for instant in found)
    days = []
    for instant in found:
        local = instant.astimezone(zone)
        day = local.date()
        assert day.weekday() == schedule.weekday
        if local.time() != schedule.start:
            # Only a time that does not exist that day moves, and then only forward.
            assert _is_gap(day, schedule.start, zone)
            assert local.replace(tzinfo=None) > datetime.combine(day, schedule.start)
        days.append(day)
    assert all((day - schedule.anchor).days % (7 * schedule.every_weeks) == 0 for day in days)
    assert all((b - a) == timedelta(weeks=schedule.every_weeks) for a, b in pairwise(days))


@settings(database=None, deadline=None)
@given(schedules(), instants)
def test_first_anchor_is_the_next_occurrence_of_a_new_schedule(
    schedule: Schedule, now: datetime
) -> None:
    zone = ZoneInfo(schedule.timezone)
    anchor = first_anchor(schedule.weekday, schedule.start, schedule.timezone, now)
    assert anchor.weekday() == schedule.weekday
    assert next_occurrence(replace(schedule, anchor=anchor), now) == local_instant(
        anchor, schedule.start, zone
    )
    assert local_instant(anchor - timedelta(weeks=1), schedule.start, zone) <= now


# --- purity --------------------------------------------------------------------------------


def test_schedule_module_reads_no_clock_and_does_no_io() -> None:
    tree = ast.parse(Path(bot.schedule.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"__future__", "re", "dataclasses", "datetime", "typing", "zoneinfo",
                        "commandes"}  # fmt: skip
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not called & {"now", "today", "utcnow", "sleep", "open", "read_text"}


def test_importing_the_schedule_loads_no_event_loop_or_database() -> None:
    check = "import sys, bot.schedule; print(sorted(m for m in sys.modules if m.split('.')[0] in {'asyncio', 'aiosqlite', 'nio', 'apscheduler'}))"  # noqa: E501
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=root, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(root)}, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"


# --- `!horaire` argument types --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("lundi", 0), ("Lundi", 0), ("LUN", 0), ("lun.", 0), ("monday", 0), ("Mon", 0),
        ("mardi", 1), ("mar", 1), ("Tuesday", 1), ("tue", 1), ("tues", 1),
        ("mercredi", 2), ("mer.", 2), ("wednesday", 2), ("wed", 2),
        ("jeudi", 3), ("jeu", 3), ("thursday", 3), ("thu", 3), ("thurs", 3),
        ("vendredi", 4), ("ven", 4), ("friday", 4), ("fri", 4),
        ("samedi", 5), ("sam", 5), ("saturday", 5), ("sat", 5),
        ("dimanche", 6), ("DIM", 6), ("sunday", 6), ("sun", 6),
    ],
)  # fmt: skip
def test_weekday_accepts_french_and_english_names(raw: str, value: int) -> None:
    assert Weekday().parse(raw) == value


def test_weekday_ignores_accents_typed_by_habit() -> None:
    # No French day name has an accent, but a keyboard may add one: « mércredi ».
    assert Weekday().parse("mércredi") == 2
    assert Weekday().parse("Lündi") == 0


@pytest.mark.parametrize("raw", ["", "lundii", "lu", "week-end", "1", "demain", "mardi,"])
def test_weekday_refuses_what_is_not_a_day(raw: str) -> None:
    error = refused(Weekday(), raw)
    assert error.key == "errors.weekday"
    assert error.params == {"value": raw}


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("", (1, None)),
        ("   ", (1, None)),
        ("chaque semaine", (1, None)),
        ("toutes les semaines", (1, None)),
        ("à toutes les semaines", (1, None)),
        ("hebdomadaire", (1, None)),
        ("toutes les 2 semaines", (2, None)),
        ("Toutes les deux semaines", (2, None)),
        ("aux 2 semaines", (2, None)),
        ("aux deux semaines", (2, None)),
        ("à toutes les deux semaines", (2, None)),
        ("aux quinze jours", (2, None)),
        ("une semaine sur deux", (2, None)),
        ("chaque 3 semaines", (3, None)),
        ("chaque 2 semaine", (2, None)),
        ("4 semaines", (4, None)),
        ("aux 12 semaines", (12, None)),
        ("every week", (1, None)),
        ("weekly", (1, None)),
        ("Every 2 weeks", (2, None)),
        ("every two weeks", (2, None)),
        ("every other week", (2, None)),
        ("biweekly", (2, None)),
        ("bi-weekly", (2, None)),
        ("fortnightly", (2, None)),
        ("every 6 weeks", (6, None)),
        ("aux 2 semaines America/Toronto", (2, "America/Toronto")),
        ("every week Europe/Paris", (1, "Europe/Paris")),
        ("America/Vancouver", (1, "America/Vancouver")),
        ("UTC", (1, "UTC")),
        ("chaque  semaine   UTC ", (1, "UTC")),
        ("biweekly Etc/GMT+5", (2, "Etc/GMT+5")),
    ],
)
def test_cadence_accepts_french_quebec_and_english_phrasings(
    raw: str, value: tuple[int, str | None]
) -> None:
    assert Cadence().parse(raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        "mensuel",  # no monthly cadence: every 4 weeks says what it means
        "monthly",
        "bihebdomadaire",  # twice a week or every two weeks? Refused rather than guessed.
        "toutes les semaines prochaines",
        "chaque jour",
        "every",
        "semaines",
        "toutes les treize semaines",
        "aux 2 smaines America/Toronto",
        "chaque semaine Montreal",  # not a zone: the message shows `America/Toronto`
    ],
)
def test_cadence_refuses_what_it_cannot_read(raw: str) -> None:
    error = refused(Cadence(), raw)
    assert error.key == "errors.cadence"
    assert error.params == {"value": raw}


@pytest.mark.parametrize(("raw", "weeks"), [("aux 0 semaines", "0"), ("every 13 weeks", "13"),
                                             ("toutes les 52 semaines", "52")])  # fmt: skip
def test_cadence_interval_outside_one_to_twelve_names_the_bounds(raw: str, weeks: str) -> None:
    error = refused(Cadence(), raw)
    assert error.key == "errors.integer_range"
    assert error.params == {"value": weeks, "minimum": 1, "maximum": 12}


@pytest.mark.parametrize(
    ("raw", "zone"),
    [
        ("aux 2 semaines America/Nowhere", "America/Nowhere"),
        ("weekly ../etc/passwd", "../etc/passwd"),
    ],
)
def test_cadence_with_an_unknown_zone_names_the_zone(raw: str, zone: str) -> None:
    error = refused(Cadence(), raw)
    assert error.key == "errors.timezone"
    assert error.params == {"value": zone}


def test_cadence_refuses_a_very_long_tail() -> None:
    error = refused(Cadence(), "chaque " * 40)
    assert error.key == "errors.too_long"


@settings(database=None, max_examples=300)
@given(st.text(max_size=40) | st.lists(st.sampled_from(
    ["aux", "toutes", "les", "chaque", "every", "2", "deux", "semaines", "weeks", "UTC", "à", "/",
     "America/Toronto", "0", "99", "sur", "une"]), max_size=6).map(" ".join))  # fmt: skip
def test_cadence_only_ever_raises_bad_argument_with_a_known_key(raw: str) -> None:
    try:
        result: object = Cadence().parse(raw)
    except BadArgument as exc:
        result = exc
    if isinstance(result, BadArgument):
        assert result.key in {"errors.cadence", "errors.integer_range", "errors.timezone"}
    else:
        assert isinstance(result, tuple)
        weeks, zone = result
        assert 1 <= weeks <= 12
        assert zone is None or ZoneInfo(zone)


@settings(database=None)
@given(st.text(max_size=12))
def test_weekday_only_ever_raises_bad_argument(raw: str) -> None:
    try:
        result: object = Weekday().parse(raw)
    except BadArgument as exc:
        result = exc
    if isinstance(result, BadArgument):
        assert result.key == "errors.weekday"
    else:
        assert result in range(7)


def test_horaire_line_binds_day_time_and_cadence_through_the_registry() -> None:
    router = Router()

    @router.command(
        "horaire",
        aliases=("schedule",),
        args=(
            Arg("jour", Weekday()),
            Arg("heure", TimeOfDay()),
            Arg("cadence", Cadence(), optional=True, default=(1, None)),
        ),
    )
    async def horaire(**_: object) -> None: ...

    registry = Registry([router])
    assert registry.parse("!horaire mardi 12h").values == {
        "jour": 1, "heure": NOON, "cadence": (1, None)
    }  # fmt: skip
    assert registry.parse("!horaire Mardi 12:00 aux 2 semaines America/Toronto").values == {
        "jour": 1, "heure": NOON, "cadence": (2, "America/Toronto")
    }  # fmt: skip
