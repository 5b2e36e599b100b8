"""The person's rights and the retention of what Halte keeps: export, erasure, purge, audit.

Each operation is one transaction: an export is a consistent snapshot, an erasure happens
entirely or not at all, and a purge never leaves half a kind behind. Nothing here reads or
writes a message body; the only text involved is that of parked items, which their authors
chose to keep.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import aiosqlite

from stockage.database import Database
from stockage.parking import _COLUMNS as ITEM_COLUMNS
from stockage.parking import ItemStatus, ParkedItem, _item

_DEALT = (ItemStatus.DONE.value, ItemStatus.MERGED.value, ItemStatus.REMOVED.value)
# Private posts the bot queued for one person (nudges, moderators' notices): the outbox row
# names its addressee in its JSON.
_ADDRESSED_TO = "json_extract(effect, '$.to') = 'user' AND json_extract(effect, '$.user') = ?"
# A check-in's date: its scheduled occurrence, or when it was started by hand.
_CHECKIN_BEFORE = (
    "checkin_id IN (SELECT id FROM checkins WHERE COALESCE(occurrence, created_at) < ?)"
)


@dataclass(frozen=True)
class Membership:
    room_id: str
    joined_at: datetime
    role: str | None


@dataclass(frozen=True)
class CreatedGroup:
    room_id: str
    created_at: datetime


@dataclass(frozen=True)
class Attendance:
    room_id: str
    checkin_id: int
    checkin_at: datetime
    answered_at: datetime


@dataclass(frozen=True)
class Participation:
    room_id: str
    checkin_id: int
    checkin_at: datetime
    round_key: str
    messages: int
    passed: bool


@dataclass(frozen=True)
class PrivatePost:
    """A private message the bot queued for the person: its kind and dates, never more."""

    room_id: str
    kind: str
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class AuditEntry:
    room_id: str
    actor: str
    command: str
    completed: bool
    at: datetime
    # What the action acted on, when the command names it: item numbers (`#3`), never text.
    target: str | None = None


@dataclass(frozen=True)
class PersonalData:
    """Everything stored about one person, across every group."""

    user_id: str
    memberships: list[Membership]
    groups_created: list[CreatedGroup]
    attendance: list[Attendance]
    participation: list[Participation]
    items: list[ParkedItem]
    # When a message of theirs set off the safety net: dates only (never the text).
    safety_signals: list[datetime]
    private_posts: list[PrivatePost]
    moderator_actions: list[AuditEntry]
    direct_room: str | None
    erasure_requested_at: datetime | None
    # The name of every room named above, when Halte knows it.
    group_names: dict[str, str | None]


@dataclass(frozen=True)
class Erased:
    """What one erasure removed, by kind (counts of rows)."""

    memberships: int
    roles: int
    attendance: int
    participation: int
    items_deleted: int
    items_anonymised: int
    safety_signals: int
    private_posts: int
    groups_created: int

    @property
    def total(self) -> int:
        # `roles` are columns of the membership rows, already counted there.
        return sum(getattr(self, f.name) for f in fields(self) if f.name != "roles")


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these instants go (see `bot.privacy.cutoffs`)."""

    dealt_items: datetime
    counts: datetime
    journal: datetime
    processed_events: datetime
    erasure_requests: datetime


@dataclass(frozen=True)
class Purged:
    """What a purge removed, or would remove in a dry run, by kind."""

    dealt_items: int
    attendance: int
    participation: int
    safety_signals: int
    sent_posts: int
    journal: int
    processed_events: int
    erasure_requests: int

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


def _rules(cut: Cutoffs) -> list[tuple[str, str, str, tuple[Any, ...]]]:
    """(kind, table, condition, parameters): the same condition counts and deletes."""
    return [
        (
            "dealt_items",
            "parked_items",
            "status IN (?, ?, ?) AND updated_at < ?",
            (*_DEALT, cut.dealt_items.isoformat()),
        ),
        ("attendance", "attendance", _CHECKIN_BEFORE, (cut.counts.isoformat(),)),
        ("participation", "participation", _CHECKIN_BEFORE, (cut.counts.isoformat(),)),
        ("safety_signals", "safety_signals", "at < ?", (cut.counts.isoformat(),)),
        (
            "sent_posts",
            "outbox",
            "sent_at IS NOT NULL AND created_at < ?",
            (cut.counts.isoformat(),),
        ),
        ("journal", "moderator_actions", "at < ?", (cut.journal.isoformat(),)),
        (
            "processed_events",
            "processed_events",
            "processed_at < ?",
            (cut.processed_events.isoformat(),),
        ),
        (
            "erasure_requests",
            "erasure_requests",
            "requested_at < ?",
            (cut.erasure_requests.isoformat(),),
        ),
    ]


async def _all(db: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> list[aiosqlite.Row]:
    async with db.execute(sql, tuple(params)) as cursor:
        return list(await cursor.fetchall())


async def _count(db: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> int:
    rows = await _all(db, sql, params)
    return int(rows[0][0]) if rows else 0


async def _changed(db: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> int:
    cursor = await db.execute(sql, tuple(params))
    return int(cursor.rowcount)


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class PrivacyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def export(self, user_id: str) -> PersonalData:
        """One consistent snapshot of everything stored about `user_id`."""
        async with self._db.transaction() as db:
            members = await _all(
                db,
                "SELECT room_id, joined_at, role FROM members WHERE user_id = ?"
                " ORDER BY joined_at, room_id",
                (user_id,),
            )
            created = await _all(
                db,
                "SELECT room_id, created_at FROM groups WHERE created_by = ? ORDER BY created_at",
                (user_id,),
            )
            attendance = await _all(
                db,
                "SELECT c.room_id, a.checkin_id, COALESCE(c.occurrence, c.created_at) AS day,"
                " a.answered_at FROM attendance a JOIN checkins c ON c.id = a.checkin_id"
                " WHERE a.user_id = ? ORDER BY day, c.room_id",
                (user_id,),
            )
            participation = await _all(
                db,
                "SELECT c.room_id, p.checkin_id, COALESCE(c.occurrence, c.created_at) AS day,"
                " p.round_key, p.messages, p.passed"
                " FROM participation p JOIN checkins c ON c.id = p.checkin_id"
                " WHERE p.user_id = ? ORDER BY day, c.room_id, p.rowid",
                (user_id,),
            )
            items = await _all(
                db,
                f"SELECT {ITEM_COLUMNS} FROM parked_items WHERE author = ?"
                " ORDER BY created_at, room_id, number",
                (user_id,),
            )
            signals = await _all(
                db, "SELECT at FROM safety_signals WHERE user_id = ? ORDER BY at", (user_id,)
            )
            posts = await _all(
                db,
                f"SELECT effect, created_at, sent_at FROM outbox WHERE {_ADDRESSED_TO}"
                " ORDER BY created_at, rowid",
                (user_id,),
            )
            actions = await _all(
                db,
                "SELECT room_id, actor, command, completed, at, target FROM moderator_actions"
                " WHERE actor = ? ORDER BY at, id",
                (user_id,),
            )
            direct = await _all(
                db, "SELECT room_id FROM direct_rooms WHERE user_id = ?", (user_id,)
            )
            request = await _all(
                db, "SELECT requested_at FROM erasure_requests WHERE user_id = ?", (user_id,)
            )
            names = {
                row["room_id"]: row["name"]
                for row in await _all(db, "SELECT room_id, name FROM groups", ())
            }
        private_posts = []
        for row in posts:
            effect = json.loads(row["effect"])
            private_posts.append(
                PrivatePost(
                    room_id=str(effect.get("room", "")),
                    kind=str(effect.get("kind", "")),
                    created_at=datetime.fromisoformat(row["created_at"]),
                    sent_at=_when(row["sent_at"]),
                )
            )
        data = PersonalData(
            user_id=user_id,
            memberships=[
                Membership(r["room_id"], datetime.fromisoformat(r["joined_at"]), r["role"])
                for r in members
            ],
            groups_created=[
                CreatedGroup(r["room_id"], datetime.fromisoformat(r["created_at"])) for r in created
            ],
            attendance=[
                Attendance(
                    r["room_id"],
                    int(r["checkin_id"]),
                    datetime.fromisoformat(r["day"]),
                    datetime.fromisoformat(r["answered_at"]),
                )
                for r in attendance
            ],
            participation=[
                Participation(
                    r["room_id"],
                    int(r["checkin_id"]),
                    datetime.fromisoformat(r["day"]),
                    r["round_key"],
                    int(r["messages"]),
                    bool(r["passed"]),
                )
                for r in participation
            ],
            items=[_item(r) for r in items],
            safety_signals=[datetime.fromisoformat(r["at"]) for r in signals],
            private_posts=private_posts,
            moderator_actions=[_entry(r) for r in actions],
            direct_room=direct[0]["room_id"] if direct else None,
            erasure_requested_at=_when(request[0]["requested_at"]) if request else None,
            group_names={},
        )
        rooms = {
            *(m.room_id for m in data.memberships),
            *(g.room_id for g in data.groups_created),
            *(a.room_id for a in data.attendance),
            *(p.room_id for p in data.participation),
            *(i.room_id for i in data.items),
            *(p.room_id for p in data.private_posts),
            *(a.room_id for a in data.moderator_actions),
        }
        data.group_names.update({room: names.get(room) for room in sorted(rooms)})
        return data

    # -- erasure ---------------------------------------------------------------------------

    async def request_erasure(self, user_id: str, now: datetime) -> None:
        """Record (or renew) a request waiting for its confirmation."""
        await self._db.execute(
            "INSERT INTO erasure_requests (user_id, requested_at) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET requested_at = excluded.requested_at",
            (user_id, now.isoformat()),
        )

    async def erasure_requested_at(self, user_id: str) -> datetime | None:
        row = await self._db.fetch_one(
            "SELECT requested_at FROM erasure_requests WHERE user_id = ?", (user_id,)
        )
        return None if row is None else datetime.fromisoformat(row["requested_at"])

    async def drop_erasure_request(self, user_id: str) -> None:
        await self._db.execute("DELETE FROM erasure_requests WHERE user_id = ?", (user_id,))

    async def erase(self, user_id: str) -> Erased:
        """Erase the person, in one transaction; returns what went, by kind.

        Open parked items are deleted. Items already on an agenda or dealt with stay for the
        team, with nothing left that points to their author: no name, and the event that
        parked them (which a homeserver could trace back) replaced by a neutral tag. Safety
        signals are deleted, not tagged: a row with its room and minute matches the alert the
        moderators received, which names the person, so a tag would still identify them.
        """
        async with self._db.transaction() as db:
            roles = await _count(
                db,
                "SELECT COUNT(*) FROM members WHERE user_id = ? AND role IS NOT NULL",
                (user_id,),
            )
            memberships = await _changed(db, "DELETE FROM members WHERE user_id = ?", (user_id,))
            attendance = await _changed(db, "DELETE FROM attendance WHERE user_id = ?", (user_id,))
            participation = await _changed(
                db, "DELETE FROM participation WHERE user_id = ?", (user_id,)
            )
            open_items = "SELECT id FROM parked_items WHERE author = ? AND status = ?"
            await db.execute(
                f"UPDATE parked_items SET merged_into = NULL WHERE merged_into IN ({open_items})",
                (user_id, ItemStatus.OPEN.value),
            )
            items_deleted = await _changed(
                db,
                "DELETE FROM parked_items WHERE author = ? AND status = ?",
                (user_id, ItemStatus.OPEN.value),
            )
            # `updated_at` is left alone: retention still counts from the item's last change.
            items_anonymised = await _changed(
                db,
                "UPDATE parked_items SET author = NULL, anonymous = 1,"
                " source_event = 'erased:' || id WHERE author = ?",
                (user_id,),
            )
            safety_signals = await _changed(
                db, "DELETE FROM safety_signals WHERE user_id = ?", (user_id,)
            )
            private_posts = await _changed(
                db, f"DELETE FROM outbox WHERE {_ADDRESSED_TO}", (user_id,)
            )
            groups_created = await _changed(
                db, "UPDATE groups SET created_by = '' WHERE created_by = ?", (user_id,)
            )
            await db.execute("DELETE FROM erasure_requests WHERE user_id = ?", (user_id,))
        return Erased(
            memberships=memberships,
            roles=roles,
            attendance=attendance,
            participation=participation,
            items_deleted=items_deleted,
            items_anonymised=items_anonymised,
            safety_signals=safety_signals,
            private_posts=private_posts,
            groups_created=groups_created,
        )

    # -- retention -------------------------------------------------------------------------

    async def purge(self, cutoffs: Cutoffs, *, dry_run: bool = False) -> Purged:
        """Delete what is older than the cutoffs (or only count it, with `dry_run`)."""
        counts: dict[str, int] = {}
        async with self._db.transaction() as db:
            for kind, table, condition, params in _rules(cutoffs):
                if dry_run:
                    counts[kind] = await _count(
                        db, f"SELECT COUNT(*) FROM {table} WHERE {condition}", params
                    )
                    continue
                if table == "parked_items":
                    # A merged item may point at one about to go: unlink it first.
                    await db.execute(
                        "UPDATE parked_items SET merged_into = NULL WHERE merged_into IN"
                        f" (SELECT id FROM parked_items WHERE {condition})",
                        params,
                    )
                counts[kind] = await _changed(db, f"DELETE FROM {table} WHERE {condition}", params)
        return Purged(**counts)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        room_id=row["room_id"],
        actor=row["actor"],
        command=row["command"],
        completed=bool(row["completed"]),
        at=datetime.fromisoformat(row["at"]),
        target=row["target"],
    )


class AuditRepository:
    """The audit trail: who used moderator power, with which command, on what, where, when.

    Moderator-only commands, and member commands used with a moderator's power (another
    person's parked item, the group's schedule).
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        room_id: str,
        actor: str,
        command: str,
        at: datetime,
        *,
        completed: bool = True,
        target: str | None = None,
    ) -> None:
        await self._db.execute(
            "INSERT INTO moderator_actions (room_id, actor, command, completed, at, target)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (room_id, actor, command, int(completed), at.isoformat(), target),
        )

    async def recent(self, room_id: str, limit: int) -> list[AuditEntry]:
        """The room's last `limit` actions, oldest first (the newest at the bottom)."""
        rows = await self._db.fetch_all(
            "SELECT room_id, actor, command, completed, at, target FROM moderator_actions"
            " WHERE room_id = ? ORDER BY at DESC, id DESC LIMIT ?",
            (room_id, limit),
        )
        return [_entry(row) for row in reversed(rows)]
