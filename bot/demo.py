"""`halte demo`: the whole bot on a throwaway local Synapse, with two staff members talking to it.

It starts a real homeserver with `bot.localserver`, registers the bot, a moderator and a member,
creates a room, runs the real bot (Matrix transport, SQLite, registry) and plays
`demo_script.toml`, then prints the transcript as the member saw it and stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
import tempfile
import time
import tomllib
from importlib import resources
from pathlib import Path

from bot.config import MatrixSettings, Settings
from bot.i18n import text
from bot.localserver import LocalSynapse
from bot.member_client import MemberClient, Seen
from bot.runtime import _run_time, build_app, setup_logging
from bot.transports.matrix import MatrixTransport
from stockage.database import Database
from stockage.events import TransportStateRepository

log = logging.getLogger(__name__)

REPLY_TIMEOUT = 15.0


def _script(language: str) -> list[dict[str, str | int]]:
    raw = resources.files("bot").joinpath("demo_script.toml").read_text(encoding="utf-8")
    lines: list[dict[str, str | int]] = tomllib.loads(raw)[language]
    return lines


async def run_demo(language: str = "fr") -> int:
    # The transcript is the demo's output; the bot's own log lines (ids and counts) would only
    # clutter it, so only errors show.
    setup_logging("ERROR")
    with tempfile.TemporaryDirectory(prefix="halte-demo-") as scratch:
        workdir = Path(scratch)
        print(text(language, "demo.starting"), flush=True)
        started = time.monotonic()
        with LocalSynapse(workdir / "synapse") as server:
            print(
                text(
                    language,
                    "demo.ready",
                    url=server.url,
                    seconds=f"{time.monotonic() - started:.1f}",
                )
            )
            return await _play(server, workdir, language)


async def _play(server: LocalSynapse, workdir: Path, language: str) -> int:
    passwords = {name: secrets.token_urlsafe(12) for name in ("halte", "animation", "membre")}
    ids = {name: server.register(name, pw) for name, pw in passwords.items()}
    settings = Settings(
        data_dir=workdir / "bot",
        formats_dir=Path(str(resources.files("bot").joinpath("demo_formats"))),
        language=language,  # type: ignore[arg-type]
        matrix=MatrixSettings(
            homeserver=server.url,
            user_id=ids["halte"],
            password=passwords["halte"],  # type: ignore[arg-type]
            invite_allowlist=[server.server_name],
        ),
    )
    assert settings.matrix is not None
    matrix = settings.matrix

    def transport(db: Database) -> MatrixTransport:
        return MatrixTransport(matrix, settings.data_dir, TransportStateRepository(db))

    names = {
        ids["animation"]: text(language, "demo.moderator"),
        ids["membre"]: text(language, "demo.member"),
    }
    failures = 0
    async with (
        build_app(settings, transport) as app,
        # Encryption-capable, as Element is: the bot's direct chats are encrypted.
        MemberClient(
            server.url,
            ids["animation"],
            passwords["animation"],
            accept_invites_from=ids["halte"],
            store_dir=workdir / "keys-animation",
        ) as moderator,
        MemberClient(
            server.url,
            ids["membre"],
            passwords["membre"],
            accept_invites_from=ids["halte"],
            store_dir=workdir / "keys-membre",
        ) as member,
    ):
        bot_transport = app.services.transport
        assert isinstance(bot_transport, MatrixTransport)
        bot_task = asyncio.create_task(bot_transport.run(app.handle))
        time_task = asyncio.create_task(_run_time(app))
        try:
            room_id = await moderator.create_room(
                text(language, "demo.room_name"), invite=[ids["halte"], ids["membre"]]
            )
            meeting_room = await moderator.create_room(
                text(language, "demo.meeting_room_name"), invite=[ids["halte"]]
            )
            await member.wait_for_invite()
            await member.join(room_id)
            for room in (room_id, meeting_room):
                await asyncio.wait_for(bot_transport.wait_for_room(room), REPLY_TIMEOUT)
            print(text(language, "demo.transcript"))
            speakers = {"animation": moderator, "membre": member}
            rooms = {room_id: "", meeting_room: text(language, "demo.in_meeting_room") + " "}
            bot = ids["halte"]

            # The moderator is in both rooms: what they see is the transcript, with what each
            # of them receives privately (the bot's direct chats), labelled as such.
            private_to = {
                moderator.user_id: text(language, "demo.private_to", name=names[moderator.user_id]),
                member.user_id: text(language, "demo.private_to", name=names[member.user_id]),
            }

            def from_bot() -> list[Seen]:
                shared = [s for s in moderator.seen if s.room_id in rooms and s.sender == bot]
                direct = [
                    s
                    for client in (moderator, member)
                    for s in client.seen
                    if s.room_id in client.direct_rooms and s.sender == bot
                ]
                return shared + direct

            def label(message: Seen) -> str:
                if message.room_id in rooms:
                    return rooms[message.room_id]
                owner = moderator if message.room_id in moderator.direct_rooms else member
                return private_to[owner.user_id] + " "

            def bot_reactions() -> int:
                return sum(1 for r in moderator.reactions if r[1] == bot)

            shown, reacted = 0, 0
            printed: set[str] = set()
            last_sent: dict[str, str] = {}
            for line in _script(language):
                speaker_name = str(line.get("speaker", ""))
                if speaker_name:
                    speaker = speakers[speaker_name]
                    who = names[speaker.user_id]
                    if "react" in line:
                        emoji, target = str(line["react"]), str(line["on"])
                        print(f"\n{who} " + text(language, "demo.reacts", emoji=emoji))
                        await speaker.react(room_id, last_sent[target], emoji)
                    else:
                        body = str(line["text"]).replace("{reunion}", meeting_room)
                        print(f"\n{who} : {body}")
                        last_sent[speaker_name] = await speaker.send(room_id, body)
                else:
                    print(text(language, "demo.later"))
                # Wait for what this line should bring: bot messages (replies, prompts, the
                # agenda) and bot reactions (✅ on a parked message).
                want_messages = shown + int(line.get("expect", 1))
                want_reactions = reacted + int(line.get("expect_reaction", 0))
                until = str(line.get("until", ""))
                try:
                    await moderator.wait_until(
                        lambda n=want_messages, r=want_reactions, words=until: (
                            len(from_bot()) >= n
                            and bot_reactions() >= r
                            and (not words or any(words in s.body for s in from_bot()))
                        ),
                        REPLY_TIMEOUT,
                    )
                except TimeoutError:
                    failures += 1
                    print(text(language, "demo.no_reply"))
                seen = from_bot()
                for message in _new(seen, printed):
                    print(_indent(f"{label(message)}Halte : {message.body}"))
                    printed.add(message.event_id)
                for _room, _sender, _target, key in [r for r in moderator.reactions if r[1] == bot][
                    reacted:
                ]:
                    print(_indent("Halte " + text(language, "demo.bot_reacted", emoji=key)))
                shown, reacted = len(seen), bot_reactions()
        finally:
            await app.services.checkins.stop()
            await app.services.transport.stop()
            time_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot_task
                await time_task
    print("\n" + text(language, "demo.done" if failures == 0 else "demo.failed", failures=failures))
    return 0 if failures == 0 else 1


def _new(seen: list[Seen], printed: set[str]) -> list[Seen]:
    return [message for message in seen if message.event_id not in printed]


def _indent(block: str) -> str:
    first, *rest = block.splitlines() or [""]
    return "\n".join([first, *("        " + line for line in rest)])


if __name__ == "__main__":
    sys.exit(asyncio.run(run_demo()))
