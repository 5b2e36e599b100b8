"""The dispatcher, through the whole bot on the console transport."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from bot.i18n import text
from bot.messages import Direct, Membership, MembershipChange, Message, Text
from bot.transports.console import CONSOLE_ROOM
from commandes.registry import Command, Registry
from tests.conftest import MODERATOR, ConsoleBot

MEMBER = "@marie:console"
OTHER = "@paul:console"


def message(bot: ConsoleBot, body: str, *, event_id: str, sender: str = MEMBER) -> Message:
    return Message(
        event_id=event_id,
        room_id=CONSOLE_ROOM,
        sender=sender,
        body=body,
        timestamp=bot.clock.now(),
    )


def replace_handler(
    monkeypatch: pytest.MonkeyPatch, registry: Registry, name: str, handler: Any
) -> None:
    """Swap one command's handler for the test; `Command` is frozen, so swap the command."""
    command = registry.find(name)
    assert command is not None
    patched = dataclasses.replace(command, handler=handler)
    commands = [patched if c is command else c for c in registry.commands]
    by_name = {k: patched if c is command else c for k, c in registry._by_name.items()}
    monkeypatch.setattr(registry, "commands", commands)
    monkeypatch.setattr(registry, "_by_name", by_name)
    assert registry.find(name) is patched


async def make_group(bot: ConsoleBot, args: str = "") -> str:
    return await bot.reply(MODERATOR, f"!groupe creer {args}".strip())


def moderator_usages(bot: ConsoleBot, language: str) -> list[str]:
    from commandes.registry import Role

    return [c.usage(language) for c in bot.app.registry.commands if c.role is Role.MODERATOR]


# --- help ----------------------------------------------------------------------------------


async def test_help_for_a_member_lists_no_moderator_command(bot: ConsoleBot) -> None:
    body = await bot.reply(MEMBER, "!aide")
    assert body.startswith(text("fr", "aide.title"))
    assert "!rejoindre" in body
    assert "!groupe info" in body
    usages = moderator_usages(bot, "fr")
    assert usages
    for usage in usages:
        assert usage not in body


async def test_help_for_a_moderator_lists_moderator_commands(bot: ConsoleBot) -> None:
    body = await bot.reply(MODERATOR, "!aide")
    for usage in moderator_usages(bot, "fr"):
        assert usage in body
    assert "!rejoindre" in body


async def test_help_for_one_command(bot: ConsoleBot) -> None:
    body = await bot.reply(MEMBER, "!aide groupe creer")
    assert body.startswith("!groupe creer [soutien|communaute] [fr|en] [fuseau horaire]\n")
    assert "!group create" in body
    assert text("fr", "aide.role_moderator") in body


async def test_slash_command_is_answered_but_other_slashes_are_ignored(bot: ConsoleBot) -> None:
    assert (await bot.reply(MEMBER, "/aide")).startswith(text("fr", "aide.title"))
    assert await bot.say(MEMBER, "/s") == []
    assert await bot.say(MEMBER, "bonjour tout le monde") == []


# --- roles and arguments -------------------------------------------------------------------


async def test_member_cannot_create_a_group(bot: ConsoleBot) -> None:
    body = await bot.reply(MEMBER, "!groupe creer")
    assert body == text("fr", "errors.moderators_only", command="groupe creer")
    assert await bot.app.services.repos.groups.get(CONSOLE_ROOM) is None


async def test_member_gets_the_refusal_not_the_usage_for_bad_arguments(bot: ConsoleBot) -> None:
    body = await bot.reply(MEMBER, "!groupe creer xyz")
    assert body == text("fr", "errors.moderators_only", command="groupe creer")
    assert await bot.app.services.repos.groups.get(CONSOLE_ROOM) is None


async def test_a_bad_argument_gets_what_was_wrong_and_the_usage_line(bot: ConsoleBot) -> None:
    body = await bot.reply(MODERATOR, "!groupe creer xyz")
    assert "!groupe creer [soutien|communaute] [fr|en] [fuseau horaire]" in body
    assert "« xyz »" in body
    assert "soutien | communaute" in body
    assert await bot.app.services.repos.groups.get(CONSOLE_ROOM) is None


async def test_a_missing_argument_is_named(bot: ConsoleBot) -> None:
    await make_group(bot)
    body = await bot.reply(MODERATOR, "!groupe langue")
    assert body == text(
        "fr",
        "errors.usage",
        problem=text("fr", "errors.missing", arg="fr|en"),
        usage="!groupe langue <fr|en>",
    )


async def test_commands_needing_a_group_explain_how_to_create_one(bot: ConsoleBot) -> None:
    for command in ("!rejoindre", "!quitter", "!groupe info"):
        body = await bot.reply(MEMBER, command)
        assert body == text("fr", "errors.not_a_group")
        assert "!groupe creer" in body


async def test_an_unknown_command_suggests_the_closest(bot: ConsoleBot) -> None:
    body = await bot.reply(MEMBER, "!rejoidre")
    assert body == text("fr", "errors.unknown_with_hint", typed="rejoidre", suggestion="rejoindre")


async def test_an_english_suggestion_is_shown_under_its_french_name(bot: ConsoleBot) -> None:
    body = await bot.reply(MEMBER, "!jion")
    assert body == text("fr", "errors.unknown_with_hint", typed="jion", suggestion="rejoindre")


async def test_an_unknown_command_with_nothing_close(bot: ConsoleBot) -> None:
    body = await bot.reply(MEMBER, "!xyzzy")
    assert body == text("fr", "errors.unknown", typed="xyzzy")


async def test_an_unknown_subcommand_lists_the_family(bot: ConsoleBot) -> None:
    body = await bot.reply(MEMBER, "!groupe supprimer")
    assert "!groupe info" in body
    assert "!groupe regles" in body


async def test_an_unknown_subcommand_list_is_formatted_in_html(bot: ConsoleBot) -> None:
    sent = await bot.say(MEMBER, "!groupe supprimer")
    assert len(sent) == 1
    assert isinstance(sent[0], Text)
    assert sent[0].html is not None
    assert "`" not in sent[0].html
    assert "<code>!groupe info</code>" in sent[0].html
    assert "`" not in sent[0].body


# --- errors in handlers --------------------------------------------------------------------


async def test_a_failing_handler_gets_an_apology_with_the_event_id_and_a_clean_log(
    bot: ConsoleBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(ctx: Any, **values: Any) -> None:
        raise RuntimeError("handler exploded")

    replace_handler(monkeypatch, bot.app.registry, "aide", boom)
    secret = "je n'en peux plus du quart de nuit au 4e étage"
    caplog.set_level(logging.DEBUG)
    event = message(bot, f"!aide {secret}", event_id="$evt-boom-7")
    before = len(bot.console.sent)
    await bot.app.handle(event)
    sent = bot.console.sent[before:]
    assert len(sent) == 1
    assert isinstance(sent[0], Text)
    assert sent[0].body == text("fr", "errors.internal", ref="$evt-boom-7")
    assert sent[0].reply_to == "$evt-boom-7"
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    assert "$evt-boom-7" in failures[0].getMessage()
    # The type and the stack are logged, the exception's own text is not (it may quote the
    # person); see bot/logs.py.
    assert "RuntimeError" in failures[0].getMessage()
    assert "test_dispatcher.py" in failures[0].getMessage()
    assert secret not in caplog.text
    assert "quart de nuit" not in caplog.text


async def test_a_failing_handler_quoting_its_argument_does_not_log_the_text(
    bot: ConsoleBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(ctx: Any, commande: str | None) -> None:
        raise KeyError(commande)

    replace_handler(monkeypatch, bot.app.registry, "aide", boom)
    secret = "ma cheffe m'a encore crié dessus"
    caplog.set_level(logging.DEBUG)
    await bot.app.handle(message(bot, f"!aide {secret}", event_id="$evt-boom-8"))
    assert "$evt-boom-8" in caplog.text
    assert secret not in caplog.text


async def test_a_failing_handler_does_not_stop_the_next_event(
    bot: ConsoleBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(ctx: Any, **values: Any) -> None:
        raise RuntimeError("handler exploded")

    replace_handler(monkeypatch, bot.app.registry, "groupe regles", boom)
    await bot.say(MEMBER, "!groupe regles")
    assert (await bot.reply(MEMBER, "!aide")).startswith(text("fr", "aide.title"))


async def test_no_message_text_is_logged_on_the_normal_path(
    bot: ConsoleBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await make_group(bot)
    secret = "personne ne m'a remplacée hier soir"
    await bot.say(MEMBER, f"!aide {secret}")
    await bot.say(MEMBER, f"!groupe creer {secret}")
    await bot.say(MEMBER, secret)
    assert secret not in caplog.text
    assert "remplacée" not in caplog.text


# --- events handled once -------------------------------------------------------------------


async def test_a_replayed_event_is_handled_once(bot: ConsoleBot) -> None:
    await make_group(bot)
    join = message(bot, "!rejoindre", event_id="$join-1")
    before = len(bot.console.sent)
    await bot.app.handle(join)
    await bot.app.handle(join)
    sent = bot.console.sent[before:]
    assert [out.body for out in sent if isinstance(out, Text)] == [text("fr", "groupe.joined")]
    # A new event with the same text is a new request, and is answered.
    assert await bot.reply(MEMBER, "!rejoindre") == text("fr", "groupe.already_member")


async def test_a_failed_event_is_not_retried_on_replay(
    bot: ConsoleBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(ctx: Any, **values: Any) -> None:
        raise RuntimeError("handler exploded")

    replace_handler(monkeypatch, bot.app.registry, "groupe regles", boom)
    event = message(bot, "!groupe regles", event_id="$rules-1")
    before = len(bot.console.sent)
    await bot.app.handle(event)
    await bot.app.handle(event)
    assert len(bot.console.sent[before:]) == 1


# --- groups, language, membership ----------------------------------------------------------


async def test_creating_a_group_then_creating_it_again(bot: ConsoleBot) -> None:
    body = await make_group(bot)
    assert body == text("fr", "groupe.created_soutien", timezone="America/Montreal")
    group = await bot.app.services.repos.groups.get(CONSOLE_ROOM)
    assert group is not None
    assert group.created_by == MODERATOR
    assert group.created_at == bot.clock.now()
    assert await make_group(bot, "communaute") == text("fr", "groupe.already")


async def test_a_group_in_english_answers_in_english(bot: ConsoleBot) -> None:
    body = await make_group(bot, "communaute en America/Toronto")
    assert body == text("en", "groupe.created_communaute", timezone="America/Toronto")
    assert await bot.reply(MEMBER, "!groupe regles") == text("en", "groupe.rules")
    unknown = text("en", "errors.unknown", typed="frobnicate")
    assert await bot.reply(MEMBER, "!frobnicate") == unknown
    assert await bot.reply(MEMBER, "!groupe langue fr") == text(
        "en", "errors.moderators_only", command="group language"
    )
    assert (await bot.reply(MEMBER, "!aide")).startswith(text("en", "aide.title"))


async def test_switching_the_group_language(bot: ConsoleBot) -> None:
    await make_group(bot)
    assert await bot.reply(MODERATOR, "!groupe langue english") == text("en", "groupe.language_set")
    assert await bot.reply(MEMBER, "!join") == text("en", "groupe.joined")
    assert await bot.reply(MODERATOR, "!group language fr") == text("fr", "groupe.language_set")
    assert await bot.reply(MEMBER, "!rejoindre") == text("fr", "groupe.already_member")


async def test_join_leave_and_info_counts(bot: ConsoleBot) -> None:
    await make_group(bot)
    members = bot.app.services.repos.members
    assert await bot.reply(MEMBER, "!rejoindre") == text("fr", "groupe.joined")
    assert await bot.reply(MEMBER, "!rejoindre") == text("fr", "groupe.already_member")
    assert await bot.reply(OTHER, "!join") == text("fr", "groupe.joined")
    info = await bot.reply(MEMBER, "!groupe info")
    assert "Membres inscrit·es : 2" in info
    assert "Personnes qui animent : @anim:console" in info
    assert "Horaire : aucun pour l'instant (!horaire)" in info
    assert "Fuseau : America/Montreal" in info
    left = await bot.say(MEMBER, "!quitter")
    assert isinstance(left[0], Text)
    assert left[0].body == text("fr", "groupe.left")
    # Below 4 members, the moderator hears it privately (never blocking, never public).
    assert [type(out) for out in left[1:]] == [Direct]
    assert isinstance(left[1], Direct)
    assert left[1].user_id == "@anim:console"
    assert "1 membre(s)" in left[1].body
    assert await bot.reply(MEMBER, "!quitter") == text("fr", "groupe.not_member")
    assert "Membres inscrit·es : 1" in await bot.reply(OTHER, "!groupe info")
    assert await members.list(CONSOLE_ROOM) == [OTHER]


async def test_leaving_the_room_ends_group_membership(bot: ConsoleBot) -> None:
    await make_group(bot)
    await bot.reply(MEMBER, "!rejoindre")
    await bot.app.handle(
        Membership(
            event_id="$leave-1",
            room_id=CONSOLE_ROOM,
            user_id=MEMBER,
            change=MembershipChange.LEAVE,
            timestamp=bot.clock.now(),
        )
    )
    assert not await bot.app.services.repos.members.is_member(CONSOLE_ROOM, MEMBER)
    assert "Membres inscrit·es : 0" in await bot.reply(OTHER, "!groupe info")


async def test_replies_are_threaded_to_the_command_and_carry_html(bot: ConsoleBot) -> None:
    sent = await bot.say(MEMBER, "!groupe regles")
    assert len(sent) == 1
    out = sent[0]
    assert isinstance(out, Text)
    assert out.room_id == CONSOLE_ROOM
    assert out.reply_to is not None
    assert out.reply_to.startswith("$console")
    assert out.html is not None
    assert out.html.startswith("<strong>Nos règles</strong>")


def test_command_is_frozen() -> None:
    """`replace_handler` above relies on it; if this changes, patch the handler directly."""
    assert dataclasses.is_dataclass(Command)
    assert Command.__dataclass_params__.frozen  # type: ignore[attr-defined]
