"""The person's rights at run time, retention, and the audit trail.

- Export (`!mes-donnees`): everything stored about a person, sent to them privately as
  readable text (cut into several messages under Matrix's 64 KiB when long), then as a JSON
  file, whole, to keep or to read with another program.
- Erasure (`!oublier`, then `!oublier confirmer` within ten minutes).
- Retention: a daily job deletes what is older than the configured periods; `halte purge`
  runs the same purge by hand (or only counts, with `--dry-run`).
- Audit trail: the dispatcher records each moderator command that ran (who, which command,
  where, when), never its arguments.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.i18n import Rendered, has_text, join, render, shorten, text
from bot.logs import log_failure
from bot.messages import Direct, DirectFile
from stockage.events import PROCESSED_EVENT_RETENTION
from stockage.parking import ParkedItem
from stockage.privacy import Cutoffs, Erased, PersonalData, Purged
from stockage.repositories import Repositories

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# How long `!oublier` waits for its `!oublier confirmer`.
ERASURE_CONFIRMATION = timedelta(minutes=10)
# The daily purge runs at night, establishment time, and once when the bot starts.
RETENTION_JOB = "privacy:retention"
RETENTION_AT = time(3, 30)
# A Matrix event holds 64 KiB. Each export message is measured as the most cautious encoder
# would send it (every non-ASCII character as \uXXXX), body and formatted body together, with
# room left for the event's envelope.
EVENT_BUDGET = 56_000
# Parked texts in the readable part are shortened; the JSON file carries them whole.
ITEM_CHARS = 500
EXPORT_FORMAT = "halte-export/1"
EXPORT_MIMETYPE = "application/json"


# -- retention ---------------------------------------------------------------------------------


def cutoffs(settings: Settings, now: datetime) -> Cutoffs:
    """The instants before which each kind of row goes."""
    privacy = settings.privacy
    return Cutoffs(
        dealt_items=now - timedelta(days=privacy.dealt_items_days),
        counts=now - timedelta(days=privacy.counts_days),
        journal=now - timedelta(days=privacy.journal_days),
        processed_events=now - PROCESSED_EVENT_RETENTION,
        erasure_requests=now - ERASURE_CONFIRMATION,
    )


async def purge(
    repos: Repositories, settings: Settings, now: datetime, *, dry_run: bool = False
) -> Purged:
    purged = await repos.privacy.purge(cutoffs(settings, now), dry_run=dry_run)
    log.info(
        "retention %s: %s",
        "dry run" if dry_run else "purge",
        ", ".join(f"{kind} {count}" for kind, count in purged.as_dict().items()),
    )
    return purged


async def run_retention(services: Services) -> None:
    """The daily job. A failure is logged and the next day tries again."""
    try:
        await purge(services.repos, services.settings, services.clock.now())
    except Exception:
        log_failure(log, "retention purge failed")


def arm_retention(services: Services) -> None:
    async def job() -> None:
        await run_retention(services)

    services.scheduler.arm_daily(RETENTION_JOB, job, RETENTION_AT, services.settings.zone)


# -- audit trail -------------------------------------------------------------------------------


async def record_action(
    services: Services,
    room_id: str,
    actor: str,
    command: str,
    *,
    completed: bool,
    target: str | None = None,
) -> None:
    """Write one line of the audit trail; a failure here never hides the command's own answer."""
    try:
        await services.repos.audit.record(
            room_id, actor, command, services.clock.now(), completed=completed, target=target
        )
    except Exception:
        log_failure(log, "audit trail: recording %s in %s failed", command, room_id)


# -- erasure -----------------------------------------------------------------------------------


class NotConfirmed(Exception):
    """No erasure to confirm; `key` names the catalogue text saying why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


async def ask_erasure(services: Services, user_id: str) -> None:
    await services.repos.privacy.request_erasure(user_id, services.clock.now())


async def confirm_erasure(services: Services, user_id: str) -> Erased:
    """Erase the person if they asked less than ten minutes ago; else `NotConfirmed`."""
    repo = services.repos.privacy
    requested = await repo.erasure_requested_at(user_id)
    if requested is None:
        raise NotConfirmed("privacy.forget_no_request")
    if services.clock.now() - requested > ERASURE_CONFIRMATION:
        await repo.drop_erasure_request(user_id)
        raise NotConfirmed("privacy.forget_expired")
    erased = await repo.erase(user_id)
    log.info("erasure done: %s row(s)", erased.total)
    return erased


# -- export ------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def export_json(data: PersonalData, now: datetime) -> dict[str, Any]:
    """The export as a JSON document: the same facts as the readable text, in full."""
    names = data.group_names
    return {
        "format": EXPORT_FORMAT,
        "user_id": data.user_id,
        "exported_at": now.isoformat(),
        "memberships": [
            {
                "room_id": m.room_id,
                "group": names.get(m.room_id),
                "joined_at": m.joined_at.isoformat(),
                "role": m.role,
            }
            for m in data.memberships
        ],
        "groups_created": [
            {"room_id": g.room_id, "group": names.get(g.room_id), "at": g.created_at.isoformat()}
            for g in data.groups_created
        ],
        "attendance": [
            {
                "room_id": a.room_id,
                "group": names.get(a.room_id),
                "checkin_id": a.checkin_id,
                "checkin_at": a.checkin_at.isoformat(),
                "answered_at": a.answered_at.isoformat(),
            }
            for a in data.attendance
        ],
        "participation": [
            {
                "room_id": p.room_id,
                "group": names.get(p.room_id),
                "checkin_id": p.checkin_id,
                "checkin_at": p.checkin_at.isoformat(),
                "round": p.round_key,
                "messages": p.messages,
                "passed": p.passed,
            }
            for p in data.participation
        ],
        "parked_items": [
            {
                "room_id": i.room_id,
                "group": names.get(i.room_id),
                "number": i.number,
                "text": i.text,
                "status": i.status.value,
                "anonymous": i.anonymous,
                "note": i.note,
                "agendas": i.agendas,
                "created_at": i.created_at.isoformat(),
                "updated_at": i.updated_at.isoformat(),
            }
            for i in data.items
        ],
        "safety_signals": {
            "count": len(data.safety_signals),
            "dates": [at.isoformat() for at in data.safety_signals],
        },
        "private_posts": [
            {
                "room_id": p.room_id,
                "kind": p.kind,
                "queued_at": p.created_at.isoformat(),
                "sent_at": _iso(p.sent_at),
            }
            for p in data.private_posts
        ],
        "moderator_actions": [
            {
                "room_id": a.room_id,
                "group": names.get(a.room_id),
                "command": a.command,
                "target": a.target,
                "completed": a.completed,
                "at": a.at.isoformat(),
            }
            for a in data.moderator_actions
        ],
        "direct_room": data.direct_room,
        "erasure_requested_at": _iso(data.erasure_requested_at),
    }


@dataclass(frozen=True)
class _Writer:
    """Renders one export's lines in the reader's language and the establishment's zone."""

    data: PersonalData
    language: str
    zone: ZoneInfo
    filename: str  # of the JSON file that follows, named in the footer

    def r(self, key: str, /, **params: Any) -> Rendered:
        return render(self.language, key, **params)

    def group(self, room_id: str) -> str:
        name = self.data.group_names.get(room_id)
        return f"{name} ({room_id})" if name else room_id

    def day(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d")

    def minute(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def section(self, key: str, lines: list[Rendered], count: int | None = None) -> list[Rendered]:
        header = self.r(key, count=len(lines) if count is None else count)
        return [header, *(lines or [self.r("privacy.none")])]

    def lines(self) -> list[Rendered]:
        data = self.data
        out = [self.r("privacy.export_title", user=data.user_id, timezone=str(self.zone))]
        out.append(self.r("privacy.export_intro"))
        out += self.section(
            "privacy.section_memberships",
            [
                self.r(
                    "privacy.membership_role" if m.role else "privacy.membership",
                    group=self.group(m.room_id),
                    date=self.day(m.joined_at),
                    role=m.role or "",
                )
                for m in data.memberships
            ],
        )
        out += self.section(
            "privacy.section_created",
            [
                self.r("privacy.created", group=self.group(g.room_id), date=self.day(g.created_at))
                for g in data.groups_created
            ],
        )
        out += self.section(
            "privacy.section_attendance", self._attendance(), count=len(data.attendance)
        )
        out += self.section("privacy.section_participation", self._participation())
        out += self.section(
            "privacy.section_items",
            [self._item(i) for i in data.items],
        )
        signals = data.safety_signals
        out.append(self.r("privacy.section_safety", count=len(signals)))
        if signals:
            dates = ", ".join(self.minute(at) for at in signals)
            out.append(self.r("privacy.safety_dates", dates=dates))
        else:
            out.append(self.r("privacy.none"))
        out += self.section(
            "privacy.section_posts",
            [
                self.r(
                    "privacy.post",
                    kind=self._post_kind(p.kind),
                    group=self.group(p.room_id),
                    date=self.minute(p.created_at),
                )
                for p in data.private_posts
            ],
        )
        out += self.section(
            "privacy.section_journal",
            [
                self.r(
                    "privacy.action" if a.target is None else "privacy.action_target",
                    date=self.minute(a.at),
                    command=a.command,
                    target=a.target or "",
                    group=self.group(a.room_id),
                )
                for a in data.moderator_actions
            ],
        )
        if data.direct_room:
            out.append(self.r("privacy.direct_room", room=data.direct_room))
        if data.erasure_requested_at:
            out.append(
                self.r("privacy.erasure_pending", date=self.minute(data.erasure_requested_at))
            )
        out.append(self.r("privacy.export_footer", filename=self.filename))
        return out

    def _attendance(self) -> list[Rendered]:
        by_room: defaultdict[str, list[datetime]] = defaultdict(list)
        for a in self.data.attendance:
            by_room[a.room_id].append(a.checkin_at)
        return [
            self.r(
                "privacy.attendance",
                group=self.group(room),
                count=len(days),
                last=self.day(max(days)),
            )
            for room, days in by_room.items()
        ]

    def _participation(self) -> list[Rendered]:
        # One line per check-in: messages and passes over its rounds (the JSON has each round).
        totals: dict[int, tuple[str, datetime, int, int, int]] = {}
        for p in self.data.participation:
            room, at, messages, rounds, passes = totals.get(
                p.checkin_id, (p.room_id, p.checkin_at, 0, 0, 0)
            )
            totals[p.checkin_id] = (
                room,
                at,
                messages + p.messages,
                rounds + (p.messages > 0),
                passes + p.passed,
            )
        return [
            self.r(
                "privacy.participation",
                group=self.group(room),
                date=self.day(at),
                messages=messages,
                rounds=rounds,
                passes=passes,
            )
            for room, at, messages, rounds, passes in totals.values()
        ]

    def _item(self, item: ParkedItem) -> Rendered:
        status = self.r(f"parking.status_{item.status.value}").body
        line = self.r(
            "privacy.item_anonymous" if item.anonymous else "privacy.item",
            number=item.number,
            group=self.group(item.room_id),
            status=status,
            created=self.minute(item.created_at),
            updated=self.minute(item.updated_at),
            text=shorten(item.text, ITEM_CHARS),
        )
        if not item.note:
            return line
        return join([line, self.r("privacy.item_note", note=shorten(item.note, ITEM_CHARS))])

    def _post_kind(self, kind: str) -> str:
        key = f"privacy.post_{kind}"
        return text(self.language, key) if has_text(self.language, key) else kind


def export_text(data: PersonalData, language: str, zone: ZoneInfo, filename: str) -> list[Rendered]:
    """The readable export, as lines (sections and their rows); its footer announces the JSON
    file `filename` that follows, so the person knows the two go together."""
    return _Writer(data, language, zone, filename).lines()


def event_size(body: str, formatted: str) -> int:
    """Bytes of the two fields as the most cautious JSON encoder would write them."""
    return len(json.dumps({"body": body, "formatted_body": formatted}))


def pack(lines: list[Rendered], budget: int = EVENT_BUDGET) -> list[Rendered]:
    """Lines joined into as few messages as fit under `budget` each (cut between lines)."""
    parts: list[Rendered] = []
    current: list[Rendered] = []
    size = event_size("", "")
    for line in lines:
        # Each line adds its two escaped fields and a separator (`\n`, `<br>\n`).
        grows = event_size(line.body, line.html) - event_size("", "") + 8
        if current and size + grows > budget:
            parts.append(join(current))
            current, size = [], event_size("", "")
        current.append(line)
        size += grows
    if current:
        parts.append(join(current))
    return parts


def export_filename(language: str, now: datetime, zone: ZoneInfo) -> str:
    """The JSON file's name, dated in the establishment's zone: several exports kept side by
    side on someone's computer stay apart and in order."""
    return text(language, "privacy.export_filename", date=now.astimezone(zone).strftime("%Y-%m-%d"))


def export_file(
    data: PersonalData, language: str, now: datetime, zone: ZoneInfo, *, user_id: str, key: str
) -> DirectFile:
    """The JSON document as a file for the person: whole, whatever its size (a message would
    have to be cut into pieces to put back together), and ready for another program."""
    document = json.dumps(export_json(data, now), ensure_ascii=False, indent=2)
    return DirectFile(
        user_id=user_id,
        filename=export_filename(language, now, zone),
        mimetype=EXPORT_MIMETYPE,
        data=document.encode("utf-8"),
        key=key,
    )


async def send_export(services: Services, user_id: str, language: str, key: str) -> PersonalData:
    """Send the person everything stored about them, privately: text first, then a JSON file.

    `key` (from the command's event) makes each message idempotent: a replay after a crash
    does not send the export twice.
    """
    data = await services.repos.privacy.export(user_id)
    now = services.clock.now()
    zone = services.settings.zone
    file = export_file(data, language, now, zone, user_id=user_id, key=f"{key}:file")
    messages = pack(export_text(data, language, zone, file.filename))
    for number, message in enumerate(messages, start=1):
        await services.transport.send(
            Direct(
                user_id=user_id,
                body=message.body,
                html=message.html,
                key=f"{key}:{number}",
            )
        )
    await services.transport.send(file)
    # Counts only: the file's size says nothing about its content, the content stays unlogged.
    log.info("export sent: %s message(s) and a %s-byte file", len(messages), len(file.data))
    return data
