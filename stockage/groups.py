"""Groups (a room set up as a peer-support group or a community of practice) and members."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from stockage.database import Database


class GroupKind(StrEnum):
    SUPPORT = "soutien"
    COMMUNITY = "communaute"


@dataclass(frozen=True, slots=True)
class Group:
    room_id: str
    kind: GroupKind
    language: str
    timezone: str
    format: str
    created_by: str
    created_at: datetime
    # Below this many "present" answers, moderators are told privately before the check-in.
    quorum: int = 3
    # How long before a scheduled check-in the reminder and attendance call are posted.
    reminder_minutes: int = 60
    # Whether parked items hide who parked them (the group chooses; per item too).
    parking_anonymous: bool = False
    # Where the agenda is posted before each team meeting, and how long before.
    meeting_room: str | None = None
    agenda_lead_hours: int = 24
    name: str | None = None
    # Guards: venting nudges on or off; when to offer 🅿️ on technical messages; thresholds.
    nudges: bool = True
    technical_mode: str = "seance"
    guard_thresholds: dict[str, float] = field(default_factory=dict)
    # The crisis net's sensitivity: "standard" or "elevee" (more crises caught, more needless
    # private messages; see bot/guards/model.py). Never below standard.
    crisis_sensitivity: str = "standard"
    # When the bot was removed from the room (None while it is there): nothing is posted or
    # scheduled there meanwhile, and nothing the group holds is forgotten.
    bot_left_at: datetime | None = None

    @property
    def bot_present(self) -> bool:
        return self.bot_left_at is None


class GroupRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, room_id: str) -> Group | None:
        row = await self._db.fetch_one(
            "SELECT room_id, kind, language, timezone, format, created_by, created_at, quorum,"
            " reminder_minutes, parking_anonymous, meeting_room, agenda_lead_hours, name,"
            " nudges, technical_mode, guard_thresholds, crisis_sensitivity, bot_left_at"
            " FROM groups WHERE room_id = ?",
            (room_id,),
        )
        if row is None:
            return None
        return Group(
            room_id=row["room_id"],
            kind=GroupKind(row["kind"]),
            language=row["language"],
            timezone=row["timezone"],
            format=row["format"],
            created_by=row["created_by"],
            created_at=datetime.fromisoformat(row["created_at"]),
            quorum=int(row["quorum"]),
            reminder_minutes=int(row["reminder_minutes"]),
            parking_anonymous=bool(row["parking_anonymous"]),
            meeting_room=row["meeting_room"],
            agenda_lead_hours=int(row["agenda_lead_hours"]),
            name=row["name"],
            nudges=bool(row["nudges"]),
            technical_mode=row["technical_mode"],
            guard_thresholds=json.loads(row["guard_thresholds"]),
            crisis_sensitivity=row["crisis_sensitivity"],
            bot_left_at=(
                None if row["bot_left_at"] is None else datetime.fromisoformat(row["bot_left_at"])
            ),
        )

    async def create(self, group: Group) -> bool:
        """Create the group; False if the room already is one (nothing is changed then)."""
        changed = await self._db.execute(
            "INSERT INTO groups (room_id, kind, language, timezone, format, created_by,"
            " created_at, quorum, reminder_minutes, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (room_id) DO NOTHING",
            (
                group.room_id,
                group.kind.value,
                group.language,
                group.timezone,
                group.format,
                group.created_by,
                group.created_at.isoformat(),
                group.quorum,
                group.reminder_minutes,
                group.name,
            ),
        )
        return changed == 1

    async def set_language(self, room_id: str, language: str) -> None:
        await self._db.execute(
            "UPDATE groups SET language = ? WHERE room_id = ?", (language, room_id)
        )

    async def set_format(self, room_id: str, format_name: str) -> None:
        await self._db.execute(
            "UPDATE groups SET format = ? WHERE room_id = ?", (format_name, room_id)
        )

    async def set_settings(
        self, room_id: str, *, quorum: int | None = None, reminder_minutes: int | None = None
    ) -> None:
        """Change the group's attendance settings; None leaves a setting as it is."""
        await self._db.execute(
            "UPDATE groups SET quorum = COALESCE(?, quorum),"
            " reminder_minutes = COALESCE(?, reminder_minutes) WHERE room_id = ?",
            (quorum, reminder_minutes, room_id),
        )

    async def set_parking(
        self,
        room_id: str,
        *,
        anonymous: bool | None = None,
        meeting_room: str | None = None,
        agenda_lead_hours: int | None = None,
    ) -> None:
        """Change the parking-lot settings; None leaves a setting as it is."""
        await self._db.execute(
            "UPDATE groups SET parking_anonymous = COALESCE(?, parking_anonymous),"
            " meeting_room = COALESCE(?, meeting_room),"
            " agenda_lead_hours = COALESCE(?, agenda_lead_hours) WHERE room_id = ?",
            (
                None if anonymous is None else int(anonymous),
                meeting_room,
                agenda_lead_hours,
                room_id,
            ),
        )

    async def set_guards(
        self,
        room_id: str,
        *,
        nudges: bool | None = None,
        technical_mode: str | None = None,
        thresholds: dict[str, float] | None = None,
        crisis_sensitivity: str | None = None,
    ) -> None:
        """Change the guards' settings; None leaves a setting as it is."""
        await self._db.execute(
            "UPDATE groups SET nudges = COALESCE(?, nudges),"
            " technical_mode = COALESCE(?, technical_mode),"
            " guard_thresholds = COALESCE(?, guard_thresholds),"
            " crisis_sensitivity = COALESCE(?, crisis_sensitivity) WHERE room_id = ?",
            (
                None if nudges is None else int(nudges),
                technical_mode,
                None if thresholds is None else json.dumps(thresholds),
                crisis_sensitivity,
                room_id,
            ),
        )

    async def set_bot_left(self, room_id: str, at: datetime | None) -> bool:
        """Note that the bot was removed from the group's room at `at`, or is back (None).

        False when the room is no group, or the note was already so (a replayed event).
        """
        if at is None:
            changed = await self._db.execute(
                "UPDATE groups SET bot_left_at = NULL"
                " WHERE room_id = ? AND bot_left_at IS NOT NULL",
                (room_id,),
            )
        else:
            changed = await self._db.execute(
                "UPDATE groups SET bot_left_at = ? WHERE room_id = ? AND bot_left_at IS NULL",
                (at.isoformat(), room_id),
            )
        return changed == 1

    async def set_name(self, room_id: str, name: str) -> None:
        await self._db.execute("UPDATE groups SET name = ? WHERE room_id = ?", (name, room_id))

    async def all(self) -> list[str]:
        rows = await self._db.fetch_all("SELECT room_id FROM groups ORDER BY room_id")
        return [row["room_id"] for row in rows]


class MemberRepository:
    """Who opted in to which group. Joining and leaving are always explicit."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def join(self, room_id: str, user_id: str, now: datetime) -> bool:
        """Add the member; False if they already were one."""
        changed = await self._db.execute(
            "INSERT INTO members (room_id, user_id, joined_at) VALUES (?, ?, ?)"
            " ON CONFLICT (room_id, user_id) DO NOTHING",
            (room_id, user_id, now.isoformat()),
        )
        return changed == 1

    async def leave(self, room_id: str, user_id: str) -> bool:
        """Remove the member; False if they were not one."""
        changed = await self._db.execute(
            "DELETE FROM members WHERE room_id = ? AND user_id = ?", (room_id, user_id)
        )
        return changed == 1

    async def set_role(self, room_id: str, user_id: str, role: str | None) -> None:
        await self._db.execute(
            "UPDATE members SET role = ? WHERE room_id = ? AND user_id = ?",
            (role, room_id, user_id),
        )

    async def is_member(self, room_id: str, user_id: str) -> bool:
        row = await self._db.fetch_one(
            "SELECT 1 FROM members WHERE room_id = ? AND user_id = ?", (room_id, user_id)
        )
        return row is not None

    async def count(self, room_id: str) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) FROM members WHERE room_id = ?", (room_id,))
        return 0 if row is None else int(row[0])

    async def list(self, room_id: str) -> list[str]:
        rows = await self._db.fetch_all(
            "SELECT user_id FROM members WHERE room_id = ? ORDER BY joined_at, user_id", (room_id,)
        )
        return [row["user_id"] for row in rows]
