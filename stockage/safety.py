"""Safety signals, counted: who, in which room, when, and what the bot did — never the text.

They also pace the safety net: one resources message per person per 30 minutes, one alert to
moderators per person per 10 minutes, whatever the other guards' limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stockage.database import Database


@dataclass(frozen=True)
class SignalCounts:
    total: int
    resources_sent: int
    alerts: int


class SafetyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def last(self, user_id: str, column: str) -> datetime | None:
        """When the person last got resources (`resources_sent`) or caused an alert (`alerted`)."""
        if column not in ("resources_sent", "alerted"):
            raise ValueError(column)
        row = await self._db.fetch_one(
            f"SELECT MAX(at) FROM safety_signals WHERE user_id = ? AND {column} = 1", (user_id,)
        )
        return None if row is None or row[0] is None else datetime.fromisoformat(row[0])

    async def record(
        self,
        room_id: str,
        user_id: str,
        kind: str,
        at: datetime,
        *,
        resources_sent: bool,
        alerted: bool,
    ) -> None:
        await self._db.execute(
            "INSERT INTO safety_signals (room_id, user_id, kind, at, resources_sent, alerted)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (room_id, user_id, kind, at.isoformat(), int(resources_sent), int(alerted)),
        )

    async def counts(self, since: datetime | None = None) -> SignalCounts:
        row = await self._db.fetch_one(
            "SELECT COUNT(*), COALESCE(SUM(resources_sent), 0), COALESCE(SUM(alerted), 0)"
            " FROM safety_signals WHERE at >= ?",
            ((since.isoformat() if since else ""),),
        )
        assert row is not None
        return SignalCounts(int(row[0]), int(row[1]), int(row[2]))
