"""Check-ins, their outbox, attendance and participation counts.

The state of a check-in and the posts it decided on are saved in one transaction, guarded by
the state's version: two moderators advancing at the same moment make one advance, and a crash
between deciding and posting leaves the post in the outbox, to be sent on restart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.checkin import Phase, State
from stockage.database import Database

_FINISHED = (Phase.CLOSED.value, Phase.CANCELLED.value)


@dataclass(frozen=True)
class CheckinRecord:
    id: int
    room_id: str
    occurrence: datetime | None
    format: str
    state: State


@dataclass(frozen=True)
class OutboxEntry:
    key: str
    post: dict[str, Any]


def _record(row: Any) -> CheckinRecord:
    return CheckinRecord(
        id=int(row["id"]),
        room_id=row["room_id"],
        occurrence=None if row["occurrence"] is None else datetime.fromisoformat(row["occurrence"]),
        format=row["format"],
        state=State.from_json(json.loads(row["state"])),
    )


_COLUMNS = "id, room_id, occurrence, format, state"


class CheckinRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        room_id: str,
        occurrence: datetime | None,
        format_name: str,
        state: State,
        now: datetime,
    ) -> CheckinRecord | None:
        """A new check-in; None if one already exists for that schedule occurrence."""
        async with self._db.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO checkins (room_id, occurrence, format, state, phase, deadline,"
                " version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (room_id, occurrence) DO NOTHING",
                (
                    room_id,
                    None if occurrence is None else occurrence.isoformat(),
                    format_name,
                    json.dumps(state.to_json()),
                    state.phase.value,
                    _iso(state.deadline),
                    state.version,
                    now.isoformat(),
                ),
            )
            if cursor.rowcount != 1:
                return None
            new_id = cursor.lastrowid
        assert new_id is not None
        return CheckinRecord(new_id, room_id, occurrence, format_name, state)

    async def get(self, checkin_id: int) -> CheckinRecord | None:
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM checkins WHERE id = ?", (checkin_id,)
        )
        return None if row is None else _record(row)

    async def for_occurrence(self, room_id: str, occurrence: datetime) -> CheckinRecord | None:
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM checkins WHERE room_id = ? AND occurrence = ?",
            (room_id, occurrence.isoformat()),
        )
        return None if row is None else _record(row)

    async def current(self, room_id: str) -> CheckinRecord | None:
        """The room's unfinished check-in: the running one first, else the next scheduled."""
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM checkins WHERE room_id = ? AND phase NOT IN (?, ?)"
            " ORDER BY phase = 'round' DESC, COALESCE(occurrence, created_at), id LIMIT 1",
            (room_id, *_FINISHED),
        )
        return None if row is None else _record(row)

    async def unfinished(self) -> list[CheckinRecord]:
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM checkins WHERE phase NOT IN (?, ?) ORDER BY id", _FINISHED
        )
        return [_record(row) for row in rows]

    async def save(
        self,
        record: CheckinRecord,
        state: State,
        posts: Sequence[tuple[str, dict[str, Any]]],
        now: datetime,
    ) -> bool:
        """Store the new state and its posts, if nobody changed the check-in meanwhile."""
        async with self._db.transaction() as db:
            cursor = await db.execute(
                "UPDATE checkins SET state = ?, phase = ?, deadline = ?, version = ?"
                " WHERE id = ? AND version = ?",
                (
                    json.dumps(state.to_json()),
                    state.phase.value,
                    _iso(state.deadline),
                    state.version,
                    record.id,
                    record.state.version,
                ),
            )
            if cursor.rowcount != 1:
                return False
            for key, post in posts:
                await db.execute(
                    "INSERT INTO outbox (key, effect, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    (key, json.dumps(post), now.isoformat()),
                )
        return True

    # -- outbox ----------------------------------------------------------------------------

    async def pending_posts(self) -> list[OutboxEntry]:
        rows = await self._db.fetch_all(
            "SELECT key, effect FROM outbox WHERE sent_at IS NULL ORDER BY created_at, rowid"
        )
        return [OutboxEntry(row["key"], json.loads(row["effect"])) for row in rows]

    async def queue_post(self, key: str, post: dict[str, Any], now: datetime) -> bool:
        """Queue one post on its own (True if new); the same key is never queued twice."""
        changed = await self._db.execute(
            "INSERT INTO outbox (key, effect, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            (key, json.dumps(post), now.isoformat()),
        )
        return changed == 1

    async def mark_sent(self, key: str, event_id: str | None, now: datetime) -> None:
        await self._db.execute(
            "UPDATE outbox SET sent_at = ?, event_id = ? WHERE key = ?",
            (now.isoformat(), event_id, key),
        )

    async def sent_event(self, key: str) -> str | None:
        row = await self._db.fetch_one("SELECT event_id FROM outbox WHERE key = ?", (key,))
        return None if row is None or row["event_id"] is None else str(row["event_id"])

    async def post_for_event(self, event_id: str) -> str | None:
        """The outbox key of the bot's post with this event id (to read reactions on it)."""
        row = await self._db.fetch_one("SELECT key FROM outbox WHERE event_id = ?", (event_id,))
        return None if row is None else str(row["key"])

    # -- attendance and participation (counts only) ----------------------------------------

    async def mark_present(self, checkin_id: int, user_id: str, now: datetime) -> bool:
        changed = await self._db.execute(
            "INSERT INTO attendance (checkin_id, user_id, answered_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (checkin_id, user_id, now.isoformat()),
        )
        return changed == 1

    async def present(self, checkin_id: int) -> list[str]:
        rows = await self._db.fetch_all(
            "SELECT user_id FROM attendance WHERE checkin_id = ? ORDER BY user_id", (checkin_id,)
        )
        return [row["user_id"] for row in rows]

    async def count_message(self, checkin_id: int, user_id: str, round_key: str) -> None:
        await self._db.execute(
            "INSERT INTO participation (checkin_id, user_id, round_key, messages)"
            " VALUES (?, ?, ?, 1) ON CONFLICT (checkin_id, user_id, round_key)"
            " DO UPDATE SET messages = messages + 1",
            (checkin_id, user_id, round_key),
        )

    async def mark_passed(self, checkin_id: int, user_id: str, round_key: str) -> None:
        await self._db.execute(
            "INSERT INTO participation (checkin_id, user_id, round_key, passed)"
            " VALUES (?, ?, ?, 1) ON CONFLICT (checkin_id, user_id, round_key)"
            " DO UPDATE SET passed = 1",
            (checkin_id, user_id, round_key),
        )

    async def spoke_or_passed(self, checkin_id: int, round_key: str) -> set[str]:
        rows = await self._db.fetch_all(
            "SELECT user_id FROM participation WHERE checkin_id = ? AND round_key = ?"
            " AND (messages > 0 OR passed = 1)",
            (checkin_id, round_key),
        )
        return {row["user_id"] for row in rows}

    async def participants(self, checkin_id: int) -> int:
        row = await self._db.fetch_one(
            "SELECT COUNT(DISTINCT user_id) FROM participation"
            " WHERE checkin_id = ? AND messages > 0",
            (checkin_id,),
        )
        return 0 if row is None else int(row[0])


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
