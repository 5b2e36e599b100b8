"""Processed event ids and transport state: what makes a restart neither lose nor repeat."""

from __future__ import annotations

from datetime import datetime, timedelta

from stockage.database import Database

SYNC_TOKEN_KEY = "matrix.sync_token"


class ProcessedEventRepository:
    """Event ids already handled, so an event replayed after a crash is handled once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, event_id: str, now: datetime) -> bool:
        """Record the event; True if it is new, False if it was already handled."""
        changed = await self._db.execute(
            "INSERT INTO processed_events (event_id, processed_at) VALUES (?, ?)"
            " ON CONFLICT (event_id) DO NOTHING",
            (event_id, now.isoformat()),
        )
        return changed == 1

    async def seen(self, event_id: str) -> bool:
        row = await self._db.fetch_one(
            "SELECT 1 FROM processed_events WHERE event_id = ?", (event_id,)
        )
        return row is not None

    async def forget_before(self, cutoff: datetime) -> int:
        """Drop ids older than `cutoff`: the homeserver will not replay events that old."""
        return await self._db.execute(
            "DELETE FROM processed_events WHERE processed_at < ?", (cutoff.isoformat(),)
        )


class TransportStateRepository:
    """Sync token and direct rooms; implements the Matrix transport's `MatrixStateStore`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def load_sync_token(self) -> str | None:
        row = await self._db.fetch_one(
            "SELECT value FROM transport_state WHERE key = ?", (SYNC_TOKEN_KEY,)
        )
        return None if row is None else str(row["value"])

    async def save_sync_token(self, token: str) -> None:
        await self._db.execute(
            "INSERT INTO transport_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (SYNC_TOKEN_KEY, token),
        )

    async def direct_room(self, user_id: str) -> str | None:
        row = await self._db.fetch_one(
            "SELECT room_id FROM direct_rooms WHERE user_id = ?", (user_id,)
        )
        return None if row is None else str(row["room_id"])

    async def save_direct_room(self, user_id: str, room_id: str) -> None:
        await self._db.execute(
            "INSERT INTO direct_rooms (user_id, room_id) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id",
            (user_id, room_id),
        )


# Kept for a week: far longer than any sync gap after which a homeserver would replay.
PROCESSED_EVENT_RETENTION = timedelta(days=7)
