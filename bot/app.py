"""The dispatcher: every incoming event goes through `Halte.handle`.

It parses commands from the registry, checks roles against the room's current state, binds typed
arguments, and runs the handler. Nothing raised by a handler reaches the person or stops the
bot: it is logged once, here, with the event id and the command name — never the message text.
"""

from __future__ import annotations

import logging

from bot.context import Context
from bot.guarding import Guards
from bot.i18n import join, render
from bot.logs import log_failure
from bot.messages import (
    Direct,
    Incoming,
    Membership,
    MembershipChange,
    Message,
    Reaction,
)
from bot.parkinglot import PARKED_ACK, is_parking_reaction, park
from bot.privacy import record_action
from bot.services import Services
from commandes.registry import Command, ParseError, Registry, Role, UnknownCommand
from stockage.parking import MAX_TEXT

log = logging.getLogger(__name__)


class Halte:
    def __init__(self, services: Services, registry: Registry) -> None:
        self.services = services
        self.registry = registry
        self.guards = Guards(services)

    async def handle(self, event: Incoming) -> None:
        """Handle one event at most once (a replay after a crash is recognised by its id)."""
        repos = self.services.repos
        if await repos.events.seen(event.event_id):
            log.debug("event %s already handled, skipped", event.event_id)
            return
        try:
            if isinstance(event, Message):
                await self._on_message(event)
            elif isinstance(event, Reaction):
                await self._on_reaction(event)
            elif isinstance(event, Membership):
                await self._on_membership(event)
        except Exception:
            log_failure(log, "handling event %s failed", event.event_id)
        finally:
            await repos.events.claim(event.event_id, self.services.clock.now())

    async def _on_message(self, message: Message) -> None:
        body = message.body.strip()
        group = await self.services.repos.groups.get(message.room_id)
        if not self.registry.is_command_text(body):
            # Taking part is writing in the round: counted, never stored.
            await self.services.checkins.count_message(message)
            await self.guards.on_message(message, group)
            return
        # Commands carry free text too (`!stationner …`): the safety net reads them as well.
        await self.guards.safety_only(message, group)
        language = group.language if group else self.services.settings.language
        ctx = Context(
            services=self.services,
            registry=self.registry,
            message=message,
            language=language,
            group=group,
            is_moderator=self.services.is_moderator(message.room_id, message.sender),
        )
        try:
            invocation = self.registry.parse(body)
        except UnknownCommand as exc:
            await self._unknown(ctx, exc)
            return
        except ParseError as exc:
            # Permission and room first: a member gets the refusal, not the usage of a
            # command they cannot run; outside a group, how to create one.
            if not await self._refused(ctx, exc.command):
                await self._bad_arguments(ctx, exc)
            return
        command = invocation.command
        if await self._refused(ctx, command):
            return
        log.info("command %s in %s (event %s)", command.name, ctx.room_id, message.event_id)
        try:
            await command.handler(ctx, **invocation.values)
        except Exception:
            log_failure(log, "command %s failed (event %s)", command.name, message.event_id)
            await self._audit(ctx, command, completed=False)
            await ctx.reply("errors.internal", ref=message.event_id)
            return
        await self._audit(ctx, command, completed=True)

    async def _audit(self, ctx: Context, command: Command, *, completed: bool) -> None:
        """The audit trail: a moderator command that ran, or a member command used with a
        moderator's power (`Context.acting_as_moderator`): who, which, on what, where, when;
        never text. Written here, once, so a command cannot forget it or write it twice."""
        action = ctx.moderator_action
        if command.role is Role.MODERATOR or action is not None:
            await record_action(
                self.services,
                ctx.room_id,
                ctx.sender,
                command.name,
                completed=completed,
                target=None if action is None else action.target,
            )

    async def _refused(self, ctx: Context, command: Command) -> bool:
        """Answer and return True when the command cannot run here, by this person."""
        if command.role is Role.MODERATOR and not ctx.is_moderator:
            log.info("refused %s in %s (event %s)", command.name, ctx.room_id, ctx.message.event_id)
            await ctx.reply("errors.moderators_only", command=command.shown_name(ctx.language))
            return True
        if command.needs_group and ctx.group is None:
            await ctx.reply("errors.not_a_group")
            return True
        return False

    async def _unknown(self, ctx: Context, exc: UnknownCommand) -> None:
        family = [c for c in exc.family if ctx.allowed(c)]
        if family:
            lines = [ctx.render("errors.unknown_subcommand", family=exc.typed)]
            lines += [ctx.render("errors.usage_line", usage=c.usage(ctx.language)) for c in family]
            await ctx.reply_rendered(join(lines))
        elif exc.suggestion:
            suggestion = self.registry.find(exc.suggestion)
            name = suggestion.shown_name(ctx.language) if suggestion else exc.suggestion
            await ctx.reply("errors.unknown_with_hint", typed=exc.typed, suggestion=name)
        else:
            await ctx.reply("errors.unknown", typed=exc.typed)

    async def _bad_arguments(self, ctx: Context, exc: ParseError) -> None:
        params = dict(exc.params)
        if exc.arg is not None:
            params["arg"] = exc.arg.label(ctx.language)
        problem = ctx.render(exc.key, **params).body
        await ctx.reply("errors.usage", problem=problem, usage=exc.command.usage(ctx.language))

    async def _on_reaction(self, reaction: Reaction) -> None:
        if is_parking_reaction(reaction.key):
            await self._park_reacted(reaction)
        elif await self.services.checkins.on_reaction(reaction):
            log.info("attendance by reaction in %s (event %s)", reaction.room_id, reaction.event_id)

    async def _park_reacted(self, reaction: Reaction) -> None:
        """🅿️ on any message in a group parks its text; ✅ on that message confirms it."""
        services = self.services
        group = await services.repos.groups.get(reaction.room_id)
        if group is None:
            return
        text = await services.transport.fetch_text(reaction.room_id, reaction.target_event_id)
        problem = None
        if text is None or not text.strip():
            problem = "parking.reaction_no_text"
        elif len(text) > MAX_TEXT:
            problem = "parking.reaction_too_long"
        if problem is not None:
            rendered = render(group.language, problem, limit=MAX_TEXT)
            await services.transport.send(
                Direct(user_id=reaction.sender, body=rendered.body, html=rendered.html)
            )
            return
        assert text is not None
        item, created = await park(services, group, text, reaction.sender, reaction.target_event_id)
        log.info(
            "item %s parked by reaction in %s (event %s, new: %s)",
            item.number,
            reaction.room_id,
            reaction.event_id,
            created,
        )
        # The ✅ goes through the outbox: queued once per item (a replay or a second 🅿️
        # finds it queued), retried until sent, so a failed send is not a lost confirmation.
        post = {
            "to": "room",
            "room": reaction.room_id,
            "kind": "react",
            "event": reaction.target_event_id,
            "emoji": PARKED_ACK,
        }
        await services.repos.checkins.queue_post(
            f"parking:{item.id}:ack", post, services.clock.now()
        )
        await services.checkins.flush()

    async def _on_membership(self, change: Membership) -> None:
        if change.user_id == self.services.transport.user_id:
            log.info("bot membership in %s: %s", change.room_id, change.change.value)
            if change.change is MembershipChange.JOIN:
                await self._bot_returned(change.room_id)
            else:
                await self._bot_removed(change.room_id)
        elif change.change is not MembershipChange.JOIN:
            # Leaving the room ends group membership too: participation stays voluntary.
            left = await self.services.repos.members.leave(change.room_id, change.user_id)
            if left:
                log.info("member left %s, membership removed", change.room_id)

    async def _bot_removed(self, room_id: str) -> None:
        """Removed from a group's room (kicked or banned): stop acting there, forget nothing.

        What the group holds stays — members, settings, schedule, parked items — because it is
        the moderators': they still get the items (`halte export-agenda`, the team-meeting
        agenda), and an invite from the allowlist brings the bot back to the same group. What
        stops: the check-in under way or prepared ends without a word, posts still queued for
        the room are dropped, and the schedule's job is disarmed. The bot never tries to rejoin:
        removing it was the room's decision.
        """
        services = self.services
        if await services.repos.groups.get(room_id) is None:
            return  # not a group: nothing of ours runs there (a failed post there is dropped)
        # Each step is idempotent, so a crash half-way is finished by the replayed event.
        await services.repos.groups.set_bot_left(room_id, services.clock.now())
        services.scheduler.disarm(room_id)
        ended = await services.checkins.abandon(room_id)
        log.info("removed from group %s: schedule paused, %d check-in(s) ended", room_id, ended)

    async def _bot_returned(self, room_id: str) -> None:
        """Invited back into a group's room: its schedule runs again; nothing was lost."""
        services = self.services
        if await services.repos.groups.get(room_id) is None:
            return  # a new room: `!groupe creer` makes it a group
        await services.repos.groups.set_bot_left(room_id, None)
        schedule = await services.repos.schedules.get(room_id)
        if schedule is not None:
            await services.scheduler.arm(schedule)
        log.info("back in group %s", room_id)
