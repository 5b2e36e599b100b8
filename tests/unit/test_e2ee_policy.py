"""The pure parts of encrypted rooms: trust decisions, pacing of the private notice, log reasons.

The last tests feed the transport a real nio sync response (built from JSON) holding messages
nio could not decrypt, with no homeserver: what is logged, who is told, how often.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from nio import Event, MegolmEvent, SyncResponse

from bot.config import MatrixSettings, TrustPolicy
from bot.messages import Direct, Incoming, Outgoing
from bot.transports.matrix import (
    MEGOLM_ALGORITHM,
    UNDECRYPTABLE_NOTICE_INTERVAL_S,
    DeviceTrust,
    KnownDevice,
    MatrixTransport,
    NoticePacer,
    TrustPlan,
    describe_undecryptable,
    plan_trust,
    to_incoming,
    undecryptable_notice,
)

BOT = "@halte:example.org"
ALICE = "@alice:example.org"
BOB = "@bob:example.org"
ROOM = "!groupe:example.org"
OTHER_ROOM = "!autre:example.org"

UNSET, VERIFIED, IGNORED, BLACKLISTED = (
    DeviceTrust.UNSET,
    DeviceTrust.VERIFIED,
    DeviceTrust.IGNORED,
    DeviceTrust.BLACKLISTED,
)


def device(
    device_id: str, trust: DeviceTrust = UNSET, *, user: str = ALICE, deleted: bool = False
) -> KnownDevice:
    return KnownDevice(user, device_id, trust, deleted)


def plan(policy: TrustPolicy, *devices: KnownDevice, members: tuple[str, ...] = ()) -> TrustPlan:
    by_user: dict[str, list[KnownDevice]] = {member: [] for member in members}
    for known in devices:
        by_user.setdefault(known.user_id, []).append(known)
    return plan_trust(policy, by_user, own_user_id=BOT)


def changes(result: TrustPlan) -> dict[str, DeviceTrust]:
    return {known.device_id: state for known, state in result.changes}


def applied(result: TrustPlan, *devices: KnownDevice) -> list[KnownDevice]:
    new = changes(result)
    return [
        KnownDevice(d.user_id, d.device_id, new.get(d.device_id, d.trust), d.deleted)
        for d in devices
    ]


# -- tofu --------------------------------------------------------------------------------------


def test_tofu_trusts_every_device_of_a_person_met_for_the_first_time() -> None:
    result = plan("tofu", device("PHONE"), device("LAPTOP"))
    assert changes(result) == {"PHONE": VERIFIED, "LAPTOP": VERIFIED}
    assert result.new_devices == ()


def test_tofu_shares_with_a_later_device_but_reports_it_by_user_and_never_trusts_it() -> None:
    result = plan("tofu", device("PHONE", VERIFIED), device("NEWPHONE"))
    assert changes(result) == {"NEWPHONE": IGNORED}  # still gets the keys: sends never block
    assert result.new_devices == ((ALICE, ("NEWPHONE",)),)


def test_tofu_remembers_a_person_through_their_deleted_devices() -> None:
    result = plan("tofu", device("OLD", VERIFIED, deleted=True), device("NEW"))
    assert changes(result) == {"NEW": IGNORED}
    assert result.new_devices == ((ALICE, ("NEW",)),)


def test_tofu_is_per_person() -> None:
    result = plan("tofu", device("A1", VERIFIED), device("A2"), device("B1", user=BOB))
    assert changes(result) == {"A2": IGNORED, "B1": VERIFIED}
    assert result.new_devices == ((ALICE, ("A2",)),)


def test_tofu_decides_once_then_has_nothing_left_to_do() -> None:
    devices = (device("PHONE"), device("LAPTOP", user=BOB))
    first = plan("tofu", *devices)
    assert plan("tofu", *applied(first, *devices)) == TrustPlan()


def test_tofu_reconsiders_devices_refused_under_verified() -> None:
    result = plan("tofu", device("PHONE", BLACKLISTED), device("TABLET", BLACKLISTED))
    assert changes(result) == {"PHONE": VERIFIED, "TABLET": VERIFIED}


# -- all ---------------------------------------------------------------------------------------


def test_all_shares_with_every_device_without_trusting_or_reporting() -> None:
    result = plan("all", device("PHONE"), device("OLD", VERIFIED), device("TAB", BLACKLISTED))
    assert changes(result) == {"PHONE": IGNORED, "TAB": IGNORED}
    assert result.new_devices == ()
    assert result.unreadable == ()


# -- verified ----------------------------------------------------------------------------------


def test_verified_withholds_keys_from_every_unverified_device() -> None:
    result = plan("verified", device("PHONE", VERIFIED), device("NEW"), device("SEEN", IGNORED))
    assert changes(result) == {"NEW": BLACKLISTED, "SEEN": BLACKLISTED}
    assert result.unreadable == ()


def test_verified_reports_members_left_without_a_verified_device() -> None:
    result = plan(
        "verified",
        device("PHONE"),
        device("GONE", VERIFIED, user=BOB, deleted=True),
        members=("@carole:example.org",),
    )
    assert result.unreadable == (ALICE, BOB, "@carole:example.org")


def test_verified_does_not_report_the_bot_itself() -> None:
    assert plan("verified", device("OTHER", user=BOT)).unreadable == ()


def test_tofu_then_verified_keeps_first_trusted_devices_and_refuses_later_ones() -> None:
    devices = (device("PHONE"),)
    devices = (*applied(plan("tofu", *devices), *devices), device("LATER"))
    devices = tuple(applied(plan("tofu", *devices), *devices))
    result = plan("verified", *devices)
    assert changes(result) == {"LATER": BLACKLISTED}
    assert result.unreadable == ()


def test_deleted_devices_are_never_changed() -> None:
    for policy in ("tofu", "all", "verified"):
        assert plan(policy, device("GONE", deleted=True)).changes == ()


# -- pacing and wording ------------------------------------------------------------------------


def test_pacer_allows_one_notice_per_key_per_interval() -> None:
    pacer = NoticePacer(600)
    assert pacer.allow((ALICE, ROOM), 0.0)
    assert not pacer.allow((ALICE, ROOM), 599.0)
    assert pacer.allow((ALICE, OTHER_ROOM), 1.0)
    assert pacer.allow((BOB, ROOM), 2.0)
    assert pacer.allow((ALICE, ROOM), 600.0)
    assert not pacer.allow((ALICE, ROOM), 601.0)


def test_reason_names_ids_only() -> None:
    missing = describe_undecryptable(
        algorithm=MEGOLM_ALGORITHM, session_known=False, device_id="DEV", session_id="SID"
    )
    assert "no room key" in missing
    assert "SID" in missing
    assert "DEV" in missing
    late = describe_undecryptable(
        algorithm=MEGOLM_ALGORITHM, session_known=True, device_id="DEV", session_id="SID"
    )
    assert "later message" in late
    other = describe_undecryptable(
        algorithm="m.olm.v1.curve25519-aes-sha2", session_known=False, device_id="D", session_id="S"
    )
    assert other == "unsupported algorithm m.olm.v1.curve25519-aes-sha2"


def test_notice_is_french_then_english_and_escapes_the_room_name() -> None:
    notice = undecryptable_notice("Équipe <b>nuit</b>")
    assert notice.body.index("Je n'ai pas pu lire") < notice.body.index("I couldn't read")
    assert "« Équipe <b>nuit</b> »" in notice.body
    assert "Element" in notice.body
    assert "<b>nuit" not in notice.html
    assert "&lt;b&gt;nuit" in notice.html


# -- the transport, on a sync response built from JSON ----------------------------------------


def encrypted(event_id: str, sender: str, session: str = "SID") -> dict[str, Any]:
    return {
        "type": "m.room.encrypted",
        "event_id": event_id,
        "sender": sender,
        "origin_server_ts": 1_700_000_000_000,
        "content": {
            "algorithm": MEGOLM_ALGORITHM,
            "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg",
            "sender_key": "c2VuZGVyIGtleQ",
            "session_id": session,
            "device_id": "PHONE",
        },
    }


def sync_response(batch: str, rooms: dict[str, list[dict[str, Any]]]) -> Any:
    return SyncResponse.from_dict(
        {
            "next_batch": batch,
            "rooms": {
                "join": {
                    room: {
                        "timeline": {"events": events, "limited": False},
                        "state": {"events": []},
                    }
                    for room, events in rooms.items()
                }
            },
        }
    )


class _MemoryStore:
    async def load_sync_token(self) -> str | None:
        return None

    async def save_sync_token(self, token: str) -> None:
        pass

    async def direct_room(self, user_id: str) -> str | None:
        return None

    async def save_direct_room(self, user_id: str, room_id: str) -> None:
        pass


def test_an_undecryptable_event_never_becomes_a_message() -> None:
    event = Event.parse_event(encrypted("$e", ALICE))
    assert isinstance(event, MegolmEvent)
    assert to_incoming(event, ROOM, own_user_id=BOT) is None


async def test_senders_are_told_once_per_room_per_interval_and_logged_by_event_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    settings = MatrixSettings(homeserver="http://127.0.0.1:9", user_id=BOT, password="x")
    now = [1000.0]

    async def no_wait(_: float) -> None:
        return None

    transport = MatrixTransport(
        settings, tmp_path, _MemoryStore(), sleep=no_wait, monotonic=lambda: now[0]
    )
    sent: list[Outgoing] = []

    async def record(out: Outgoing) -> str:
        sent.append(out)
        return "$sent"

    monkeypatch.setattr(transport, "send", record)
    received: list[Incoming] = []

    async def handler(value: Incoming) -> None:
        received.append(value)

    async def feed(batch: str, rooms: dict[str, list[dict[str, Any]]]) -> None:
        # The sync loop's handling of one response; the notices go out in the background.
        assert await transport._dispatch(sync_response(batch, rooms), handler)
        await asyncio.wait_for(asyncio.gather(*transport._tasks), 5)

    first = {
        ROOM: [encrypted("$a1", ALICE), encrypted("$a2", ALICE), encrypted("$b1", BOB)],
        OTHER_ROOM: [encrypted("$a3", ALICE), encrypted("$own", BOT)],
    }
    await feed("s1", first)
    assert all(isinstance(out, Direct) for out in sent)
    told = sorted(
        (out.user_id, room)
        for out in sent
        if isinstance(out, Direct)
        for room in (ROOM, OTHER_ROOM)
        if f"« {room} »" in out.body
    )
    assert told == [(ALICE, OTHER_ROOM), (ALICE, ROOM), (BOB, ROOM)]
    assert received == []

    logged = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    for event_id, room in (("$a1", ROOM), ("$a2", ROOM), ("$b1", ROOM), ("$a3", OTHER_ROOM)):
        assert any(
            event_id in line and room in line and "could not be decrypted" in line
            for line in logged
        )
    assert not any("$own" in line and "could not be decrypted" in line for line in logged)

    await feed("s1", first)  # the same batch again (a restart replays it): no new notice
    assert len(sent) == 3

    now[0] += UNDECRYPTABLE_NOTICE_INTERVAL_S - 1
    await feed("s2", {ROOM: [encrypted("$a4", ALICE)]})
    assert len(sent) == 3
    now[0] += 1
    await feed("s3", {ROOM: [encrypted("$a5", ALICE)]})
    assert len(sent) == 4
