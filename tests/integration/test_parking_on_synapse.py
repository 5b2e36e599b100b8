"""The parking lot and the team-meeting agenda on a real Synapse, seen through real clients.

One story, in the order a team lives it: a member parks a topic by command and another by 🅿️,
a second 🅿️ on the same message adds nothing, the agenda is posted into the team-meeting room
when its lead time comes (the scheduler's job is called directly instead of waiting a day),
items not dealt with are carried over to the next agenda, and a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.localserver import LocalSynapse
from bot.member_client import MemberClient, Seen
from bot.schedule import next_occurrence
from tests.integration.conftest import RunningBot, Users, member, start_bot

pytestmark = pytest.mark.integration

PARKING = "\U0001f17f\ufe0f"  # 🅿️, as clients send it (with the emoji variation selector)
ACK = "✅"
FRENCH_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
WITHIN = 5.0

# People's words with markup in them: they must show as text wherever the bot puts them in HTML.
MARKED_UP = (
    'Le formulaire <b>urgent</b> & la pill <a href="https://matrix.to/#/@x:localhost">x</a>'
    " ne s'ouvrent pas <script>alert(1)</script>"
)
PLAIN = "Le logiciel de garde plante le vendredi soir"
LATER = "Les horaires d'été ne sont pas affichés au poste"


async def ask(client: MemberClient, room: str, text: str, bot: RunningBot) -> Seen:
    """Send a command and return the bot's reply to it (bounded wait)."""
    sent = await client.send(room, text)
    return await client.reply_to(room, sent, bot.user_id, within=WITHIN)


def bot_reactions(client: MemberClient, room: str, bot: RunningBot) -> list[tuple[str, str]]:
    """(reacted event, key) of every reaction the bot made in `room`, as `client` saw them."""
    return [
        (target, key)
        for r, sender, target, key in client.reactions
        if r == room and sender == bot.user_id
    ]


def from_bot_in(room: str, bot: RunningBot) -> Callable[[Seen], bool]:
    return lambda seen: seen.room_id == room and seen.sender == bot.user_id


async def barrier(client: MemberClient, room: str) -> None:
    """Return once `client` has seen its own new message in `room`: everything posted there
    before it has been seen too (one timeline, in order)."""
    sent = await client.send(room, "(repère de test)")
    await client.wait_for(lambda s: s.event_id == sent, within=WITHIN)


def assert_escaped(html: str) -> None:
    """The markup of `MARKED_UP` shows as text: no element from a member's words."""
    for element in ("<b>", "<a ", "<script"):
        assert element not in html, html
    assert "&lt;b&gt;urgent&lt;/b&gt;" in html, html
    assert "&lt;a href=" in html, html
    assert "&lt;/a&gt;" in html, html
    assert "&lt;script&gt;" in html, html
    assert "&amp; la pill" in html, html


async def test_parking_and_agenda_on_synapse(
    synapse: LocalSynapse, users: Users, data_dir: Path
) -> None:
    timings: dict[str, float] = {}
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings[name] = round(now - mark, 2)
        mark = now

    async with (
        member(synapse, users, "anim") as anim,
        member(synapse, users, "lea") as lea,
    ):
        async with start_bot(
            synapse, users, data_dir, allowlist=[anim.user_id], run_time=True
        ) as bot:
            app = bot.app
            repos = app.services.repos
            scheduler = app.services.scheduler
            group_room = await anim.create_room("Soutien", invite=[bot.user_id, lea.user_id])
            await lea.wait_for_invite(WITHIN)
            await lea.join(group_room)
            await bot.wait_joined(group_room)
            created = await ask(anim, group_room, "!groupe creer soutien", bot)
            assert "groupe de soutien est créé" in created.body
            lap("setup")

            # -- 1. Parking by command and by reaction -----------------------------------
            command = await lea.send(group_room, f"!stationner {MARKED_UP}")
            parked = await lea.reply_to(group_room, command, bot.user_id, within=WITHIN)
            assert "C'est stationné : #1." in parked.body, parked.body
            assert parked.msgtype == "m.notice"

            message = await lea.send(group_room, PLAIN)
            await lea.react(group_room, message, PARKING)
            await lea.wait_until(
                lambda: (message, ACK) in bot_reactions(lea, group_room, bot), within=WITHIN
            )
            # The same message parked again, by someone else: the same item, no second ✅.
            await anim.react(group_room, message, PARKING)
            listed = await ask(anim, group_room, "!stationnement", bot)  # handled after it
            assert "2 sujet(s)" in listed.body, listed.body
            assert f"#1 — {MARKED_UP}" in listed.body, listed.body
            assert f"#2 — {PLAIN}" in listed.body, listed.body
            assert listed.formatted_body is not None
            assert_escaped(listed.formatted_body)
            await barrier(lea, group_room)
            assert bot_reactions(lea, group_room, bot) == [(message, ACK)]
            items = await repos.parking.items(group_room)
            assert [(i.number, i.text, i.author, i.source_event) for i in items] == [
                (1, MARKED_UP, lea.user_id, command),
                (2, PLAIN, lea.user_id, message),
            ]
            lap("park by command and reaction")

            # -- 2. The agenda, posted in the team-meeting room at the lead time ----------
            meeting_room = await anim.create_room("Réunion d'équipe", invite=[bot.user_id])
            await bot.wait_joined(meeting_room)
            answer = await ask(anim, group_room, f"!ordre-du-jour salle {meeting_room}", bot)
            assert "sera publié dans Réunion d'équipe" in answer.body, answer.body

            group = await repos.groups.get(group_room)
            assert group is not None
            zone = ZoneInfo(group.timezone)
            day = datetime.now(zone).date() + timedelta(days=3)
            jour = FRENCH_DAYS[day.weekday()]
            answer = await ask(anim, group_room, f"!ordre-du-jour horaire {jour} 10:00", bot)
            assert "Prochaine réunion d'équipe" in answer.body, answer.body
            assert day.isoformat() in answer.body, answer.body
            assert "24 h avant" in answer.body, answer.body
            meeting = await app.services.agendas.next_meeting(group)
            assert meeting is not None
            assert meeting.astimezone(zone) == datetime(
                day.year, day.month, day.day, 10, 0, tzinfo=zone
            )
            armed = scheduler.armed_agenda_for(group_room)
            assert armed == meeting - timedelta(hours=24), (armed, meeting)

            # What APScheduler runs at the lead time, run now.
            await scheduler._fire_agenda(group_room, meeting)
            agenda = await anim.wait_for(from_bot_in(meeting_room, bot), within=WITHIN)
            assert agenda.msgtype == "m.notice"
            assert "Ordre du jour — Soutien" in agenda.body, agenda.body
            assert day.isoformat() in agenda.body, agenda.body
            assert "10:00" in agenda.body, agenda.body
            assert f"1. {MARKED_UP}" in agenda.body, agenda.body
            assert f"2. {PLAIN}" in agenda.body, agenda.body
            assert "(reporté)" not in agenda.body
            assert agenda.formatted_body is not None
            html = agenda.formatted_body
            assert "<ol>" in html, html
            assert html.index('<li value="1">') < html.index('<li value="2">'), html
            assert_escaped(html)

            listed = await ask(anim, group_room, "!stationnement", bot)
            assert listed.body.count("(à l'ordre du jour)") == 2, listed.body

            # The lead time comes again for the same meeting (a retry, a restart): nothing more.
            await scheduler._fire_agenda(group_room, meeting)
            await barrier(anim, meeting_room)
            assert [s.event_id for s in anim.seen if from_bot_in(meeting_room, bot)(s)] == [
                agenda.event_id
            ]
            posts = await app.services.db.fetch_all(
                "SELECT key, sent_at FROM outbox WHERE key LIKE 'agenda:%'"
            )
            assert len(posts) == 1
            assert posts[0]["sent_at"] is not None
            lap("agenda posted once")

            # -- 3. Carry-over: what was not dealt with goes on the next agenda, flagged -----
            done = await ask(anim, group_room, "!stationnement traite 1 réglé", bot)
            assert "#1 est traité" in done.body, done.body
            third = await ask(lea, group_room, f"!stationner {LATER}", bot)
            assert "#3" in third.body, third.body

            schedule = await repos.meetings.get(group_room)
            assert schedule is not None
            following = next_occurrence(schedule, meeting)
            assert following is not None
            assert following.astimezone(zone).date() == day + timedelta(weeks=1)
            await scheduler._fire_agenda(group_room, following)
            second = await anim.wait_for(
                lambda s: from_bot_in(meeting_room, bot)(s) and s.event_id != agenda.event_id,
                within=WITHIN,
            )
            assert (day + timedelta(weeks=1)).isoformat() in second.body, second.body
            numbered = [line for line in second.body.splitlines() if line[:1].isdigit()]
            assert len(numbered) == 2, second.body
            carried, fresh = numbered
            assert carried.startswith(f"2. {PLAIN}"), carried
            assert carried.endswith("(reporté)"), carried
            assert fresh.startswith(f"3. {LATER}"), fresh
            assert "(reporté)" not in fresh, fresh
            assert "formulaire" not in second.body, second.body
            assert second.formatted_body is not None
            assert '<li value="1">' not in second.formatted_body
            assert '<li value="2">' in second.formatted_body
            assert '<li value="3">' in second.formatted_body
            assert second.formatted_body.count("(reporté)") == 1, second.formatted_body
            lap("carry-over")

            rows = await app.services.db.fetch_all(
                "SELECT number, text, status, note FROM parked_items WHERE room_id = ?"
                " ORDER BY number",
                (group_room,),
            )
            assert [tuple(row) for row in rows] == [
                (1, MARKED_UP, "traite", "réglé"),
                (2, PLAIN, "ordre_du_jour", None),
                (3, LATER, "ordre_du_jour", None),
            ]
            account = (bot.user_id, bot.password)

        # -- 4. Nothing lost: on disk once the bot is down, and listed after a restart ------
        with sqlite3.connect(data_dir / "halte.db") as disk:
            on_disk = disk.execute(
                "SELECT number, text, status FROM parked_items WHERE room_id = ? ORDER BY number",
                (group_room,),
            ).fetchall()
        assert on_disk == [
            (1, MARKED_UP, "traite"),
            (2, PLAIN, "ordre_du_jour"),
            (3, LATER, "ordre_du_jour"),
        ]

        async with start_bot(
            synapse, users, data_dir, allowlist=[anim.user_id], run_time=True, account=account
        ) as again:
            await again.wait_joined(group_room)
            everything = await ask(anim, group_room, "!stationnement tout", again)
            assert "tous les sujets (3)" in everything.body, everything.body
            assert f"#1 — {MARKED_UP}" in everything.body, everything.body
            assert "(traité)" in everything.body, everything.body
            assert f"#2 — {PLAIN}" in everything.body, everything.body
            assert f"#3 — {LATER}" in everything.body, everything.body
            assert everything.body.count("(à l'ordre du jour)") == 2, everything.body
            assert everything.formatted_body is not None
            assert_escaped(everything.formatted_body)

            # Time restarted too: the next agenda's job is armed again, and nothing was re-posted
            # or answered twice (the stored sync token and the handled-events table).
            # (APScheduler starts beside the sync loop, once the first sync is handled.)
            rearmed = None
            for _ in range(int(WITHIN / 0.05)):
                rearmed = again.app.services.scheduler.armed_agenda_for(group_room)
                if rearmed is not None:
                    break
                await asyncio.sleep(0.05)
            assert rearmed == meeting - timedelta(hours=24)
            await barrier(anim, meeting_room)
            in_meeting = [s for s in anim.seen if from_bot_in(meeting_room, again)(s)]
            assert [s.event_id for s in in_meeting] == [agenda.event_id, second.event_id]
            replies = Counter(
                s.reply_to for s in anim.seen if from_bot_in(group_room, again)(s) and s.reply_to
            )
            assert set(replies.values()) == {1}, replies
            assert bot_reactions(anim, group_room, again) == [(message, ACK)]
            lap("restart")

    print(f"\nparking on synapse, seconds per phase: {timings}")
