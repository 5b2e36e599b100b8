"""Time is injected: the domain asks a clock, never `datetime.now()` itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Protocol
from zoneinfo import available_timezones


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told: tests run a 30-minute check-in in milliseconds."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known_zone(name: str) -> bool:
    """Whether `name` is an IANA zone such as America/Montreal.

    `ZoneInfo()` alone is not enough: with the tzdata package it also opens folder names like
    `America`, and it reads paths, so the list of known zones is the only safe check.
    """
    return name in _zones()
