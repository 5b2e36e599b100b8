"""Unit tests for the pure parts of the Matrix transport, on real nio events built from JSON.

No homeserver here: the conversion rules, the backoff maths and the reconnect loop against a
closed port (with an injected sleep, so no real waiting).
"""

from __future__ import annotations

import asyncio
import random
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nio import Event

from bot.config import MatrixSettings
from bot.messages import Membership, MembershipChange, Message, Reaction
from bot.transports.matrix import (
    Backoff,
    MatrixTransport,
    invite_allowed,
    to_incoming,
    transaction_id,
)

BOT = "@halte:example.org"
ALICE = "@alice:example.org"
ROOM = "!room:example.org"
TS_MS = 1_700_000_000_123


def _event(event_type: str, content: dict[str, Any], sender: str = ALICE, **extra: Any) -> Any:
    source = {
        "type": event_type,
        "event_id": "$event",
        "sender": sender,
        "origin_server_ts": TS_MS,
        "content": content,
        **extra,
    }
    return Event.parse_event(source)


def _text(body: str, sender: str = ALICE, **content: Any) -> Any:
    return _event("m.room.message", {"msgtype": "m.text", "body": body, **content}, sender)


def _member(user_id: str, membership: str, previous: str | None, sender: str | None = None) -> Any:
    unsigned = {"prev_content": {"membership": previous}} if previous else {}
    return _event(
        "m.room.member",
        {"membership": membership},
        sender or user_id,
        state_key=user_id,
        unsigned=unsigned,
    )


def _convert(event: Any, **kwargs: Any) -> Any:
    return to_incoming(event, ROOM, own_user_id=BOT, **kwargs)


def test_text_becomes_message_with_aware_utc_timestamp() -> None:
    message = _convert(_text("!checkin"), is_direct=True)
    assert message == Message(
        event_id="$event",
        room_id=ROOM,
        sender=ALICE,
        body="!checkin",
        timestamp=datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
        is_direct=True,
    )
    assert message.timestamp.utcoffset() is not None


def test_own_notice_edit_and_ignored_messages_are_skipped() -> None:
    assert _convert(_text("echo", sender=BOT)) is None
    notice = _event("m.room.message", {"msgtype": "m.notice", "body": "bot output"})
    assert _convert(notice) is None
    assert (
        _convert(_text("x", sender="@bridge:example.org"), ignored_users={"@bridge:example.org"})
        is None
    )
    edit = _text(
        "* fixed",
        **{"m.new_content": {"msgtype": "m.text", "body": "fixed"}},
        **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$old"}},
    )
    assert _convert(edit) is None


def test_reply_fallback_is_stripped_from_the_body() -> None:
    reply = _text(
        "> <@bob:example.org> earlier line\n> second quoted line\n\n!parking",
        **{"m.relates_to": {"m.in_reply_to": {"event_id": "$earlier"}}},
    )
    assert _convert(reply).body == "!parking"
    # A quote typed by hand, without a reply relation, is the user's text and stays.
    assert _convert(_text("> <quoted>\n\nmine")).body == "> <quoted>\n\nmine"


def test_reaction_arrives_as_reaction_event_and_becomes_reaction() -> None:
    event = _event(
        "m.reaction",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$target", "key": "👍"}},
    )
    assert type(event).__name__ == "ReactionEvent"
    reaction = _convert(event)
    assert isinstance(reaction, Reaction)
    assert (reaction.target_event_id, reaction.key, reaction.sender) == ("$target", "👍", ALICE)
    # The bot's own reactions are not input.
    own = _event(
        "m.reaction",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$target", "key": "👍"}},
        sender=BOT,
    )
    assert _convert(own) is None


@pytest.mark.parametrize(
    ("membership", "previous", "expected"),
    [
        ("join", None, MembershipChange.JOIN),
        ("join", "invite", MembershipChange.JOIN),
        ("join", "join", None),  # a display name change
        ("leave", "join", MembershipChange.LEAVE),
        ("leave", None, MembershipChange.LEAVE),
        ("leave", "invite", None),  # a rejected invite
        ("leave", "ban", None),  # an unban
        ("ban", "join", MembershipChange.BAN),
        ("invite", None, None),
    ],
)
def test_membership_changes(
    membership: str, previous: str | None, expected: MembershipChange | None
) -> None:
    result = _convert(_member(ALICE, membership, previous))
    if expected is None:
        assert result is None
    else:
        assert isinstance(result, Membership)
        assert (result.user_id, result.change) == (ALICE, expected)


def test_bot_membership_is_reported_and_its_ban_counts_as_leave() -> None:
    kicked = _convert(_member(BOT, "leave", "join", sender=ALICE))
    assert (kicked.user_id, kicked.change) == (BOT, MembershipChange.LEAVE)
    banned = _convert(_member(BOT, "ban", "join", sender=ALICE))
    assert banned.change is MembershipChange.LEAVE
    assert _convert(_member(ALICE, "join", None), ignored_users={ALICE}) is None


def test_invite_allowlist_matches_full_ids_and_servers() -> None:
    assert invite_allowed("@alice:example.org", ["@alice:example.org"])
    assert invite_allowed("@bob:example.org", ["example.org"])
    assert not invite_allowed("@bob:example.org", ["@alice:example.org"])
    assert not invite_allowed("@eve:evil.example", ["example.org"])
    assert not invite_allowed("@eve:evil.example", [])


def test_transaction_id_depends_only_on_the_key() -> None:
    assert transaction_id("checkin:1:round:2") == transaction_id("checkin:1:round:2")
    assert transaction_id("checkin:1:round:2") != transaction_id("checkin:1:round:3")


def test_backoff_doubles_up_to_the_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(9)]
    for delay, base in zip(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60], strict=True):
        assert 0.8 * base <= delay <= base
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    backoff.reset()
    assert 0.8 <= backoff.next_delay() <= 1.0


class _MemoryStore:
    async def load_sync_token(self) -> str | None:
        return None

    async def save_sync_token(self, token: str) -> None:
        raise AssertionError("no sync can succeed against a closed port")

    async def direct_room(self, user_id: str) -> str | None:
        return None

    async def save_direct_room(self, user_id: str, room_id: str) -> None:
        raise AssertionError("unused")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_homeserver_is_retried_with_backoff_until_stop(tmp_path: Path) -> None:
    settings = MatrixSettings(
        homeserver=f"http://127.0.0.1:{_closed_port()}",
        user_id=BOT,
        password="not-used-for-real",
    )
    delays: list[float] = []
    transport: MatrixTransport

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 5:
            await transport.stop()

    async def handler(_: object) -> None:
        raise AssertionError("nothing can arrive")

    transport = MatrixTransport(settings, tmp_path, _MemoryStore(), sleep=fake_sleep)
    await asyncio.wait_for(transport.run(handler), timeout=10)

    assert len(delays) == 5
    for delay, base in zip(delays, [1, 2, 4, 8, 16], strict=True):
        assert 0.8 * base <= delay <= base
    assert not (tmp_path / "credentials.json").exists()


async def test_stop_before_run_makes_run_return_at_once(tmp_path: Path) -> None:
    settings = MatrixSettings(homeserver="http://127.0.0.1:9", user_id=BOT, password="x")
    transport = MatrixTransport(settings, tmp_path, _MemoryStore())
    await transport.stop()
    await transport.stop()  # idempotent

    async def handler(_: object) -> None:
        raise AssertionError("nothing can arrive")

    await asyncio.wait_for(transport.run(handler), timeout=1)
