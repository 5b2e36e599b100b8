"""A group's schedule and the pure maths of its occurrences.

A schedule is a wall-clock promise: « mardi 12:00, heure de Montréal, aux deux semaines ». So the
cadence is counted in local dates (an anchor date plus multiples of N weeks), and each date is
turned into a UTC instant only at the end: the UTC instant moves with daylight saving, the time
people read on their clock does not. Everything here is a function of the instants it is given
(no clock, no I/O beyond zoneinfo reading its rules), so the scheduler and the tests can ask
« what comes after this instant? » for any instant, DST days included.

The `Weekday` and `Cadence` argument types of `!horaire` live here too, beside the words they
parse into.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from commandes.arguments import BadArgument, TimeZone, fold

MIN_EVERY_WEEKS = 1
MAX_EVERY_WEEKS = 12


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a group's check-ins happen.

    `anchor` is the local date of one occurrence (past or future): with `every_weeks` it fixes
    which weeks are on, so « aux deux semaines » does not drift when the schedule is reloaded.
    `skips` are local dates with no check-in (holidays, a cancelled week).

    The time zone is not checked here: a zone that a tzdata update renamed must not stop the
    whole list of schedules from loading; it fails when that one group's occurrences are asked.
    """

    room_id: str
    weekday: int  # 0 = Monday, as date.weekday()
    start: time  # wall clock, naive, whole minutes
    every_weeks: int
    timezone: str  # IANA
    anchor: date
    paused: bool = False
    skips: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, not {self.weekday}")
        if not MIN_EVERY_WEEKS <= self.every_weeks <= MAX_EVERY_WEEKS:
            raise ValueError(f"every_weeks must be 1..12, not {self.every_weeks}")
        if self.anchor.weekday() != self.weekday:
            raise ValueError(f"anchor {self.anchor} is not on weekday {self.weekday}")
        if self.start.tzinfo is not None or self.start.second or self.start.microsecond:
            # Stored as HH:MM: anything finer would not survive a round trip.
            raise ValueError(f"start must be a naive HH:MM wall-clock time, not {self.start}")


def _require_aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def local_instant(day: date, start: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `start` on local `day`.

    With fold=0, PEP 495 gives a time inside a spring-forward gap the offset from before the
    change, which lands the gap's length later (02:30 → 03:30 EDT), and gives an ambiguous
    fall-back time its first reading (01:30 EDT, not 01:30 EST). Both are what a group expects:
    the check-in still happens, and only once. Compare the results in UTC: aware datetimes that
    share a tzinfo are compared by wall clock, fold ignored.
    """
    return datetime.combine(day, start, tzinfo=zone).replace(fold=0).astimezone(UTC)


def first_anchor(weekday: int, start: time, timezone: str, now: datetime) -> date:
    """The local date of the first occurrence strictly after `now`.

    Today counts when it is the weekday and its check-in instant is still ahead. Instants, not
    wall-clock times, are compared, so on a spring-forward day a 02:30 series created at 03:10
    still gets today (its check-in is at 03:30), as `occurrences` would say.
    """
    _require_aware(now, "now")
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0..6, not {weekday}")
    zone = ZoneInfo(timezone)
    now_utc = now.astimezone(UTC)
    today = now_utc.astimezone(zone).date()
    # From yesterday: a time inside a gap that spans midnight moves onto the next local date,
    # so yesterday's check-in can still be ahead (Samoa skipped 2011-12-30 whole).
    day = today - timedelta(days=1)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    while local_instant(day, start, zone) <= now_utc:
        day += timedelta(days=7)
    return day


def _first_on_cadence(schedule: Schedule, not_before: date) -> date:
    """The first date on the cadence at or after `not_before`; `k` may be negative."""
    period = 7 * schedule.every_weeks
    k = -((schedule.anchor - not_before).days // period)  # ceil((not_before - anchor) / period)
    return schedule.anchor + timedelta(days=k * period)


def occurrences(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next `count` check-in instants (aware, UTC) strictly after `after`.

    Dates are `anchor + k * every_weeks` weeks in local time, minus `skips`; nothing while paused.
    """
    _require_aware(after, "after")
    if schedule.paused or count <= 0:
        return []
    zone = ZoneInfo(schedule.timezone)
    after_utc = after.astimezone(UTC)
    # A day of margin, as in first_anchor: a check-in moved by a gap that spans midnight
    # happens on the local date after its own.
    day = _first_on_cadence(schedule, after_utc.astimezone(zone).date() - timedelta(days=1))
    period = timedelta(weeks=schedule.every_weeks)
    found: list[datetime] = []
    # Every candidate is kept except a skipped one or the (at most one) candidate at or before
    # `after`, so this many candidates always suffice; and it bounds the loop.
    for _ in range(count + len(schedule.skips) + 1):
        if day not in schedule.skips:
            instant = local_instant(day, schedule.start, zone)
            if instant > after_utc:
                found.append(instant)
                if len(found) == count:
                    break
        try:
            day += period
        except OverflowError:  # past year 9999: there is no later occurrence to give
            break
    return found


def next_occurrence(schedule: Schedule, after: datetime) -> datetime | None:
    """The next check-in instant strictly after `after`, or None (paused, or none left)."""
    found = occurrences(schedule, after, 1)
    return found[0] if found else None


def is_on_cadence(schedule: Schedule, day: date) -> bool:
    """Whether `day` (local) is one of the schedule's dates, skipped or not.

    `!horaire annuler <date>` uses it to refuse a date on which there was no check-in to cancel.
    """
    return (day - schedule.anchor).days % (7 * schedule.every_weeks) == 0


# --- argument types for `!horaire` ---------------------------------------------------------

_DAY_NAMES: dict[int, tuple[str, ...]] = {
    0: ("lundi", "lun", "monday", "mon"),
    1: ("mardi", "mar", "tuesday", "tue", "tues"),
    2: ("mercredi", "mer", "wednesday", "wed"),
    3: ("jeudi", "jeu", "thursday", "thu", "thur", "thurs"),
    4: ("vendredi", "ven", "friday", "fri"),
    5: ("samedi", "sam", "saturday", "sat"),
    6: ("dimanche", "dim", "sunday", "sun"),
}
WEEKDAY_WORDS: dict[str, int] = {
    word: number for number, words in _DAY_NAMES.items() for word in words
}


@dataclass(frozen=True)
class Weekday:
    """A day of the week in French or English, full or abbreviated (`mardi`, `mar.`, `Tue`)."""

    def parse(self, raw: str) -> int:
        # A trailing dot is how abbreviations are written in French (« mer. »).
        number = WEEKDAY_WORDS.get(fold(raw).removesuffix("."))
        if number is None:
            raise BadArgument("errors.weekday", value=raw)
        return number


_NUMBER_WORDS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
    "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_N = r"(?P<n>[0-9]+|" + "|".join(_NUMBER_WORDS) + ")"
# Matched against the folded text (lower case, no accents, single spaces). A pattern without
# an `n` group means every week; « toutes les deux semaines », « aux deux semaines » (as said in
# Québec) and « une semaine sur deux » name N. « bihebdomadaire » is left out on purpose: in
# French it means both twice a week and every two weeks.
_CADENCES: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(pattern), weeks)
    for pattern, weeks in (
        (r"(?:a )?(?:chaque|toutes les|aux) semaines?", 1),
        (rf"(?:a )?(?:chaque|toutes les|aux) {_N} semaines?", 0),
        (rf"{_N} semaines?", 0),
        (rf"une semaine sur {_N}", 0),
        (r"(?:a )?(?:tous les|aux) (?:15|quinze|14|quatorze) jours", 2),
        (r"hebdo|hebdomadaire", 1),
        (r"(?:every|each) weeks?", 1),
        (rf"(?:every|each) {_N} weeks?", 0),
        (rf"{_N} weeks?", 0),
        (r"every other week|every second week|every 2nd week", 2),
        (r"weekly", 1),
        (r"bi-?weekly|fortnightly|every fortnight", 2),
    )
)


def _every_weeks(words: str) -> int | None:
    """N for a cadence phrase (folded), None if it is not one; N may be out of range here."""
    if not words:
        return 1
    for pattern, weeks in _CADENCES:
        match = pattern.fullmatch(words)
        if match is None:
            continue
        if weeks:
            return weeks
        number = match.group("n")
        return int(number) if number.isdigit() else _NUMBER_WORDS[number]
    return None


@dataclass(frozen=True)
class Cadence:
    """The optional tail of `!horaire <jour> <HH:MM>`: how often, then maybe a time zone.

    `aux 2 semaines America/Toronto` → (2, "America/Toronto"); nothing → (1, None). Takes the
    rest of the line: `rest_of_line` asks the registry for it (see `Arg.rest`).
    """

    rest_of_line: ClassVar[bool] = True
    max_length: int = 120

    def parse(self, raw: str) -> tuple[int, str | None]:
        if len(raw.strip()) > self.max_length:
            raise BadArgument("errors.too_long", limit=self.max_length)
        words = raw.split()
        zone: str | None = None
        # The last word is a zone when it looks like one (`America/Toronto`, then it must exist)
        # or is one (`UTC`); any other word is part of the phrase, so `mensuel` is reported as
        # an unknown cadence, not as an unknown zone.
        if words and ("/" in words[-1] or _is_zone(words[-1])):
            zone = TimeZone().parse(words.pop())
        weeks = _every_weeks(fold(" ".join(words)))
        if weeks is None:
            raise BadArgument("errors.cadence", value=raw.strip())
        if not MIN_EVERY_WEEKS <= weeks <= MAX_EVERY_WEEKS:
            raise BadArgument(
                "errors.integer_range",
                value=str(weeks),
                minimum=MIN_EVERY_WEEKS,
                maximum=MAX_EVERY_WEEKS,
            )
        return weeks, zone


def _is_zone(word: str) -> bool:
    try:
        TimeZone().parse(word)
    except BadArgument:
        return False
    return True
