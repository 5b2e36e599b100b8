"""The parking lot's repositories, contract tests against a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot import checkin as machine
from bot.schedule import Schedule
from stockage.checkins import CheckinRepository
from stockage.database import Database, open_database
from stockage.groups import Group, GroupKind, GroupRepository
from stockage.parking import (
    MAX_TEXT,
    PENDING,
    ItemStatus,
    MeetingScheduleRepository,
    ParkingRepository,
)

ROOM = "!salle:example.org"
OTHER = "!autre:example.org"
ALICE = "@alice:example.org"
BRUNO = "@bruno:example.org"
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
MEETING = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
NEXT_MEETING = MEETING + timedelta(weeks=1)
SEPARATOR = "\n(ajouté du #2) "


def a_group(room_id: str) -> Group:
    return Group(
        room_id=room_id,
        kind=GroupKind.SUPPORT,
        language="fr",
        timezone="America/Montreal",
        format="soutien-30",
        created_by="@anim:example.org",
        created_at=NOW,
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_database(tmp_path / "halte.db") as database:
        for room_id in (ROOM, OTHER):
            assert await GroupRepository(database).create(a_group(room_id))
        yield database


@pytest.fixture
def repo(db: Database) -> ParkingRepository:
    return ParkingRepository(db)


async def park(
    repo: ParkingRepository,
    text: str,
    *,
    room: str = ROOM,
    author: str = ALICE,
    source: str | None = None,
    anonymous: bool = False,
    checkin_id: int | None = None,
    now: datetime = NOW,
) -> int:
    """Park and return the item's number."""
    item, created = await repo.park(
        room,
        text,
        author,
        anonymous=anonymous,
        source_event=source or f"${text}",
        checkin_id=checkin_id,
        now=now,
    )
    assert created
    return item.number


# -- parking ---------------------------------------------------------------------------------


async def test_a_parked_item_keeps_what_it_was_given(repo: ParkingRepository) -> None:
    item, created = await repo.park(
        ROOM,
        "Le formulaire de congé",
        ALICE,
        anonymous=False,
        source_event="$e1",
        checkin_id=None,
        now=NOW,
    )
    assert created
    assert (item.room_id, item.number, item.text, item.author) == (
        ROOM,
        1,
        "Le formulaire de congé",
        ALICE,
    )
    assert item.status is ItemStatus.OPEN
    assert (item.note, item.merged_into, item.checkin_id, item.agendas) == (None, None, None, 0)
    assert item.created_at == item.updated_at == NOW
    assert item.shown_author == ALICE
    assert await repo.get(ROOM, 1) == item


async def test_numbers_count_per_group_independently(repo: ParkingRepository) -> None:
    assert [await park(repo, t) for t in ("a", "b")] == [1, 2]
    assert await park(repo, "c", room=OTHER) == 1
    assert await park(repo, "d") == 3
    assert await park(repo, "e", room=OTHER) == 2
    assert [i.text for i in await repo.items(OTHER)] == ["c", "e"]


async def test_numbers_stay_distinct_when_parked_concurrently(repo: ParkingRepository) -> None:
    await asyncio.gather(*(park(repo, f"sujet {n}") for n in range(8)))
    assert [i.number for i in await repo.items(ROOM)] == list(range(1, 9))


async def test_the_same_source_event_gives_the_same_item(repo: ParkingRepository) -> None:
    first, created = await repo.park(
        ROOM, "texte", ALICE, anonymous=False, source_event="$m", checkin_id=None, now=NOW
    )
    # A second 🅿️ by someone else, later, or a replay after a crash.
    again, created_again = await repo.park(
        ROOM,
        "texte",
        BRUNO,
        anonymous=True,
        source_event="$m",
        checkin_id=None,
        now=NOW + timedelta(minutes=5),
    )
    assert created
    assert not created_again
    assert again == first
    assert len(await repo.items(ROOM)) == 1


async def test_the_same_source_event_in_another_group_is_another_item(
    repo: ParkingRepository,
) -> None:
    await park(repo, "x", source="$m")
    assert await park(repo, "x", room=OTHER, source="$m") == 1


async def test_concurrent_parks_of_one_event_make_one_item(repo: ParkingRepository) -> None:
    results = await asyncio.gather(
        *(
            repo.park(ROOM, "t", who, anonymous=False, source_event="$m", checkin_id=None, now=NOW)
            for who in (ALICE, BRUNO, ALICE)
        )
    )
    assert sorted(created for _, created in results) == [False, False, True]
    assert len(await repo.items(ROOM)) == 1


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "x" * (MAX_TEXT + 1)])
async def test_empty_or_too_long_text_is_refused(repo: ParkingRepository, text: str) -> None:
    with pytest.raises(ValueError, match="MAX_TEXT"):
        await repo.park(
            ROOM, text, ALICE, anonymous=False, source_event="$e", checkin_id=None, now=NOW
        )
    assert await repo.items(ROOM) == []


async def test_text_of_exactly_the_limit_is_kept_whole(repo: ParkingRepository) -> None:
    text = "é" * MAX_TEXT
    number = await park(repo, text)
    item = await repo.get(ROOM, number)
    assert item is not None
    assert item.text == text


async def test_get_of_a_missing_number_is_none(repo: ParkingRepository) -> None:
    await park(repo, "a")
    assert await repo.get(ROOM, 2) is None
    assert await repo.get(OTHER, 1) is None


# -- listing and statuses --------------------------------------------------------------------


async def test_items_filters_by_status_in_number_order(repo: ParkingRepository) -> None:
    for text in ("a", "b", "c", "d"):
        await park(repo, text)
    later = NOW + timedelta(hours=1)
    await repo.set_status(ROOM, 2, ItemStatus.DONE, later)
    await repo.set_status(ROOM, 3, ItemStatus.ON_AGENDA, later)
    await repo.set_status(ROOM, 4, ItemStatus.REMOVED, later)
    assert [i.number for i in await repo.items(ROOM)] == [1, 2, 3, 4]
    assert [i.number for i in await repo.items(ROOM, PENDING)] == [1, 3]
    assert [i.number for i in await repo.items(ROOM, [ItemStatus.DONE])] == [2]
    assert [i.number for i in await repo.items(ROOM, [ItemStatus.MERGED])] == []
    assert await repo.items(OTHER) == []


def test_pending_means_open_or_on_the_agenda() -> None:
    assert {s for s in ItemStatus if s.pending} == set(PENDING)


async def test_set_status_keeps_a_note_and_the_time(repo: ParkingRepository) -> None:
    await park(repo, "a")
    later = NOW + timedelta(days=3)
    done = await repo.set_status(ROOM, 1, ItemStatus.DONE, later, note="Réglé avec la RH")
    assert done is not None
    assert (done.status, done.note, done.updated_at) == (ItemStatus.DONE, "Réglé avec la RH", later)
    assert done.created_at == NOW
    # Reopening without a note does not erase the one written when it was dealt with.
    reopened = await repo.set_status(ROOM, 1, ItemStatus.OPEN, later)
    assert reopened is not None
    assert (reopened.status, reopened.note) == (ItemStatus.OPEN, "Réglé avec la RH")


async def test_set_status_of_a_missing_item_is_none(repo: ParkingRepository) -> None:
    assert await repo.set_status(ROOM, 1, ItemStatus.DONE, NOW) is None


async def test_anonymise_hides_the_author_but_keeps_it(repo: ParkingRepository) -> None:
    await park(repo, "a")
    item = await repo.anonymise(ROOM, 1, NOW + timedelta(minutes=1))
    assert item is not None
    assert item.anonymous
    assert item.shown_author is None
    assert item.author == ALICE  # still theirs: they may remove it later
    assert await repo.anonymise(ROOM, 9, NOW) is None


async def test_an_item_parked_anonymously_shows_no_author(repo: ParkingRepository) -> None:
    await park(repo, "a", anonymous=True)
    item = await repo.get(ROOM, 1)
    assert item is not None
    assert item.shown_author is None
    assert item.author == ALICE


# -- merging ---------------------------------------------------------------------------------


async def test_merge_appends_the_text_and_closes_the_absorbed_item(
    repo: ParkingRepository,
) -> None:
    await park(repo, "Formulaire de congé")
    await park(repo, "Le formulaire plante aussi", author=BRUNO)
    later = NOW + timedelta(hours=2)
    kept = await repo.merge(ROOM, 1, 2, SEPARATOR, later)
    assert kept is not None
    assert kept.text == "Formulaire de congé\n(ajouté du #2) Le formulaire plante aussi"
    assert kept.status is ItemStatus.OPEN
    assert kept.updated_at == later
    absorbed = await repo.get(ROOM, 2)
    assert absorbed is not None
    assert absorbed.status is ItemStatus.MERGED
    assert absorbed.merged_into == kept.id
    assert absorbed.text == "Le formulaire plante aussi"  # kept whole: nothing lost
    assert [i.number for i in await repo.items(ROOM, PENDING)] == [1]


async def test_merge_refuses_an_item_with_itself(repo: ParkingRepository) -> None:
    await park(repo, "a")
    assert await repo.merge(ROOM, 1, 1, SEPARATOR, NOW) is None
    item = await repo.get(ROOM, 1)
    assert item is not None
    assert (item.text, item.status) == ("a", ItemStatus.OPEN)


@pytest.mark.parametrize(("keep", "absorb"), [(1, 9), (9, 1)])
async def test_merge_refuses_a_missing_item(
    repo: ParkingRepository, keep: int, absorb: int
) -> None:
    await park(repo, "a")
    assert await repo.merge(ROOM, keep, absorb, SEPARATOR, NOW) is None
    assert [(i.text, i.status) for i in await repo.items(ROOM)] == [("a", ItemStatus.OPEN)]


@pytest.mark.parametrize("closed", [ItemStatus.DONE, ItemStatus.REMOVED, ItemStatus.MERGED])
@pytest.mark.parametrize(("keep", "absorb"), [(1, 2), (2, 1)])
async def test_merge_refuses_a_closed_item(
    repo: ParkingRepository, closed: ItemStatus, keep: int, absorb: int
) -> None:
    await park(repo, "a")
    await park(repo, "b")
    await repo.set_status(ROOM, 2, closed, NOW)
    assert await repo.merge(ROOM, keep, absorb, SEPARATOR, NOW) is None
    assert [(i.text, i.status) for i in await repo.items(ROOM)] == [
        ("a", ItemStatus.OPEN),
        ("b", closed),
    ]


async def test_merge_accepts_items_already_on_an_agenda(repo: ParkingRepository) -> None:
    await park(repo, "a")
    await park(repo, "b")
    await repo.set_status(ROOM, 1, ItemStatus.ON_AGENDA, NOW)
    kept = await repo.merge(ROOM, 1, 2, SEPARATOR, NOW)
    assert kept is not None
    assert kept.status is ItemStatus.ON_AGENDA


async def test_merge_does_not_reach_into_another_group(repo: ParkingRepository) -> None:
    await park(repo, "a")
    await park(repo, "b", room=OTHER)
    assert await repo.merge(ROOM, 1, 2, SEPARATOR, NOW) is None
    other = await repo.get(OTHER, 1)
    assert other is not None
    assert other.status is ItemStatus.OPEN


# -- check-ins -------------------------------------------------------------------------------


async def test_count_for_checkin_counts_only_that_checkin(
    db: Database, repo: ParkingRepository
) -> None:
    checkins = CheckinRepository(db)
    first = await checkins.create(ROOM, None, "soutien-30", machine.State(machine.Phase.ROUND), NOW)
    second = await checkins.create(
        ROOM, NOW + timedelta(weeks=1), "soutien-30", machine.State(machine.Phase.SCHEDULED), NOW
    )
    assert first is not None
    assert second is not None
    await park(repo, "a", checkin_id=first.id)
    await park(repo, "b", checkin_id=first.id)
    await park(repo, "c")  # between check-ins
    await park(repo, "d", checkin_id=second.id)
    await repo.set_status(ROOM, 2, ItemStatus.REMOVED, NOW)  # still parked during it
    assert await repo.count_for_checkin(first.id) == 2
    assert await repo.count_for_checkin(second.id) == 1
    assert await repo.count_for_checkin(second.id + 100) == 0


# -- agendas ---------------------------------------------------------------------------------


async def outbox(db: Database) -> dict[str, dict[str, object]]:
    rows = await db.fetch_all("SELECT key, effect, sent_at FROM outbox ORDER BY rowid")
    assert all(row["sent_at"] is None for row in rows)
    return {row["key"]: json.loads(row["effect"]) for row in rows}


async def test_record_agenda_puts_items_on_the_agenda_and_queues_the_post(
    db: Database, repo: ParkingRepository
) -> None:
    for text in ("a", "b"):
        await park(repo, text)
    posted_at = MEETING - timedelta(hours=24)
    agenda_id = await repo.record_agenda(
        ROOM, MEETING, await repo.items(ROOM, PENDING), posted_at, target_room="#reunion:x"
    )
    assert agenda_id is not None
    for item in await repo.items(ROOM):
        assert (item.status, item.agendas, item.updated_at) == (
            ItemStatus.ON_AGENDA,
            1,
            posted_at,
        )
    assert await repo.agenda_for_meeting(ROOM, MEETING) == agenda_id
    assert await outbox(db) == {
        f"agenda:{agenda_id}": {
            "to": "room",
            "room": ROOM,
            "target": "#reunion:x",
            "kind": "agenda",
            "agenda": agenda_id,
            "meeting": MEETING.isoformat(),
        }
    }


async def test_agenda_items_keep_the_order_given(repo: ParkingRepository) -> None:
    for text in ("a", "b", "c"):
        await park(repo, text)
    items = await repo.items(ROOM)
    agenda_id = await repo.record_agenda(
        ROOM, MEETING, [items[2], items[0], items[1]], NOW, target_room="#r:x"
    )
    assert agenda_id is not None
    rows = await repo.agenda_items(agenda_id)
    assert [(item.text, carried) for item, carried in rows] == [
        ("c", False),
        ("a", False),
        ("b", False),
    ]
    assert all(item.status is ItemStatus.ON_AGENDA for item, _ in rows)


async def test_an_item_on_a_second_agenda_is_flagged_carried_over(
    repo: ParkingRepository,
) -> None:
    await park(repo, "a")
    await park(repo, "b")
    first = await repo.record_agenda(
        ROOM, MEETING, await repo.items(ROOM, PENDING), NOW, target_room="#r:x"
    )
    await repo.set_status(ROOM, 1, ItemStatus.DONE, NOW, note="fait")
    await park(repo, "c")
    second = await repo.record_agenda(
        ROOM, NEXT_MEETING, await repo.items(ROOM, PENDING), NOW, target_room="#r:x"
    )
    assert first is not None
    assert second is not None
    assert first != second
    assert [(i.text, carried) for i, carried in await repo.agenda_items(second)] == [
        ("b", True),
        ("c", False),
    ]
    # The first agenda is as it was posted.
    assert [(i.text, c) for i, c in await repo.agenda_items(first)] == [("a", False), ("b", False)]
    b = await repo.get(ROOM, 2)
    assert b is not None
    assert b.agendas == 2


async def test_the_same_meeting_is_recorded_once(db: Database, repo: ParkingRepository) -> None:
    await park(repo, "a")
    items = await repo.items(ROOM, PENDING)
    first = await repo.record_agenda(ROOM, MEETING, items, NOW, target_room="#r:x")
    again = await repo.record_agenda(ROOM, MEETING, items, NOW, target_room="#r:x")
    assert first is not None
    assert again is None
    item = await repo.get(ROOM, 1)
    assert item is not None
    assert item.agendas == 1
    assert list(await outbox(db)) == [f"agenda:{first}"]


async def test_the_same_meeting_in_another_group_is_another_agenda(
    repo: ParkingRepository,
) -> None:
    assert await repo.record_agenda(ROOM, MEETING, [], NOW, target_room="#r:x") is not None
    assert await repo.record_agenda(OTHER, MEETING, [], NOW, target_room="#r:x") is not None


async def test_agendas_without_a_meeting_are_never_duplicates(
    db: Database, repo: ParkingRepository
) -> None:
    # With no team-meeting schedule, each agenda posted by hand is its own.
    await park(repo, "a")
    first = await repo.record_agenda(
        ROOM, None, await repo.items(ROOM, PENDING), NOW, target_room="#r:x"
    )
    second = await repo.record_agenda(
        ROOM, None, await repo.items(ROOM, PENDING), NOW, target_room="#r:x"
    )
    assert first is not None
    assert second is not None
    assert first != second
    posts = await outbox(db)
    assert posts[f"agenda:{first}"]["meeting"] is None
    assert posts[f"agenda:{second}"]["meeting"] is None


async def test_an_item_closed_meanwhile_stays_off_the_agenda(
    db: Database, repo: ParkingRepository
) -> None:
    await park(repo, "a")
    await park(repo, "b")
    seen = await repo.items(ROOM, PENDING)
    await repo.set_status(ROOM, 1, ItemStatus.DONE, NOW)  # between the read and the record
    agenda = await repo.record_agenda(ROOM, MEETING, seen, NOW, target_room="#r:x")
    assert agenda is not None
    assert [(item.number, carried) for item, carried in await repo.agenda_items(agenda)] == [
        (2, False)
    ]
    done = await repo.get(ROOM, 1)
    assert done is not None
    assert done.status is ItemStatus.DONE


async def test_an_empty_agenda_is_recorded_and_queued(
    db: Database, repo: ParkingRepository
) -> None:
    agenda_id = await repo.record_agenda(ROOM, MEETING, [], NOW, target_room="#r:x")
    assert agenda_id is not None
    assert await repo.agenda_items(agenda_id) == []
    assert list(await outbox(db)) == [f"agenda:{agenda_id}"]


async def test_the_post_and_the_agenda_are_one_transaction(
    db: Database, repo: ParkingRepository
) -> None:
    await park(repo, "a")
    # The outbox key the agenda would get is taken: writing the post fails, and with it
    # the whole agenda — no item may be marked « à l'ordre du jour » without its post.
    await db.execute(
        "INSERT INTO outbox (key, effect, created_at) VALUES ('agenda:1', '{}', ?)",
        (NOW.isoformat(),),
    )
    with pytest.raises(sqlite3.IntegrityError):
        await repo.record_agenda(
            ROOM, MEETING, await repo.items(ROOM, PENDING), NOW, target_room="#r:x"
        )
    item = await repo.get(ROOM, 1)
    assert item is not None
    assert (item.status, item.agendas) == (ItemStatus.OPEN, 0)
    assert await repo.agenda_for_meeting(ROOM, MEETING) is None
    assert await db.fetch_all("SELECT * FROM agenda_items") == []


async def test_items_survive_a_reopened_database(tmp_path: Path) -> None:
    path = tmp_path / "halte.db"
    async with open_database(path) as database:
        assert await GroupRepository(database).create(a_group(ROOM))
        await park(ParkingRepository(database), "à ne pas perdre")
    async with open_database(path) as database:
        item = await ParkingRepository(database).get(ROOM, 1)
    assert item is not None
    assert item.text == "à ne pas perdre"


# -- team-meeting schedules ------------------------------------------------------------------


def a_meeting(room_id: str = ROOM, **changes: object) -> Schedule:
    values: dict[str, object] = {
        "room_id": room_id,
        "weekday": 3,
        "start": time(13, 0),
        "every_weeks": 1,
        "timezone": "America/Montreal",
        "anchor": date(2026, 11, 26),
    }
    values.update(changes)
    return Schedule(**values)  # type: ignore[arg-type]


@pytest.fixture
def meetings(db: Database) -> MeetingScheduleRepository:
    return MeetingScheduleRepository(db)


async def test_a_meeting_schedule_round_trips(meetings: MeetingScheduleRepository) -> None:
    assert await meetings.get(ROOM) is None
    schedule = a_meeting(every_weeks=2, timezone="Europe/Paris")
    await meetings.save(schedule, NOW)
    assert await meetings.get(ROOM) == schedule


async def test_saving_again_replaces_the_meeting_schedule(
    meetings: MeetingScheduleRepository,
) -> None:
    await meetings.save(a_meeting(), NOW)
    changed = a_meeting(weekday=1, start=time(8, 30), anchor=date(2026, 12, 1))
    await meetings.save(changed, NOW + timedelta(hours=1))
    assert await meetings.get(ROOM) == changed
    assert await meetings.all() == [changed]


async def test_delete_a_meeting_schedule(meetings: MeetingScheduleRepository) -> None:
    await meetings.save(a_meeting(), NOW)
    assert await meetings.delete(ROOM)
    assert await meetings.get(ROOM) is None
    assert not await meetings.delete(ROOM)


async def test_all_meeting_schedules_by_room(meetings: MeetingScheduleRepository) -> None:
    assert await meetings.all() == []
    await meetings.save(a_meeting(ROOM), NOW)
    await meetings.save(a_meeting(OTHER, weekday=0, anchor=date(2026, 11, 30)), NOW)
    assert [s.room_id for s in await meetings.all()] == sorted([ROOM, OTHER])


async def test_a_meeting_schedule_goes_with_its_group(
    db: Database, meetings: MeetingScheduleRepository
) -> None:
    await meetings.save(a_meeting(), NOW)
    await db.execute("DELETE FROM groups WHERE room_id = ?", (ROOM,))
    assert await meetings.get(ROOM) is None


async def test_a_meeting_schedule_needs_a_group(meetings: MeetingScheduleRepository) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await meetings.save(a_meeting("!nowhere:example.org"), NOW)
