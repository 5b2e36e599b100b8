"""The check-in state machine (`bot.checkin`) driven with explicit UTC instants: no clock, no sleep.

Most tests run the shipped default format (`soutien-30`: rounds of 3, 4, 8, 8, 4 and 3 minutes,
no nudge in the first and the last); small hand-made plans cover the edges. `step` checks, at
every transition, what every transition must keep: the version goes up by one exactly when the
state changes, a no-op has no effects, and the state survives a JSON round trip.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.checkin import (
    Abandon,
    Advance,
    Cancel,
    CheckQuorum,
    Effect,
    Event,
    Finish,
    NotifyMissed,
    NudgeQuiet,
    Phase,
    Plan,
    PostOpening,
    PostPrompt,
    PostReminder,
    PostSummary,
    Refused,
    RoundPlan,
    Skip,
    Start,
    State,
    Tick,
    scheduled,
    transition,
)
from bot.formats import Format, builtin_formats

ROOT = Path(__file__).resolve().parents[2]

# Monday 23 November 2026, 15:00 UTC: the scheduled start of the check-in most tests run.
T = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
# An unscheduled evening, for check-ins opened by hand.
X = datetime(2026, 11, 24, 18, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
MICRO = timedelta(microseconds=1)
# The engine's default (`checkin_grace_minutes`).
GRACE = timedelta(minutes=10)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def at(n: float, base: datetime = T) -> datetime:
    """`n` minutes after `base` (before it when negative)."""
    return base + minutes(n)


def plan_of(fmt: Format, grace: timedelta = GRACE) -> Plan:
    # Built the way the runtime driver builds it (`bot.checkins.CheckinEngine.plan`).
    return Plan(
        rounds=tuple(RoundPlan(r.key, r.duration, r.nudge) for r in fmt.rounds), grace=grace
    )


SOUTIEN = plan_of(builtin_formats()["soutien-30"])
KEYS = ("accueil", "meteo", "lourd", "aide", "reconnaissance", "cloture")
ACCUEIL, METEO, LOURD, AIDE, RECONNAISSANCE, CLOTURE = range(6)

TWO_ROUNDS = Plan(
    rounds=(
        RoundPlan("un", minutes(10), nudge=True),
        RoundPlan("deux", minutes(6), nudge=False),
    ),
    grace=minutes(5),
)

REFUSALS = {
    "checkin.already_finished",
    "checkin.already_running",
    "checkin.not_running",
    "checkin.already_advanced",
    "checkin.unknown_round",
    "checkin.round_past",
}


# --- helpers ----------------------------------------------------------------------------------


def assert_json_round_trip(state: State) -> None:
    # Through real JSON text, as the repository stores it.
    data = json.loads(json.dumps(state.to_json()))
    back = State.from_json(data)
    assert back == state
    for f in fields(State):
        value = getattr(back, f.name)
        if isinstance(value, datetime):
            assert value.utcoffset() == timedelta(0), f.name
            assert value == getattr(state, f.name)
    assert back.deadline == state.deadline


def step(
    state: State, event: Event, now: datetime, plan: Plan = SOUTIEN
) -> tuple[State, list[Effect]]:
    """One transition, checked for what every transition keeps."""
    new, effects = transition(state, event, now, plan)
    if new == state:
        assert new is state
        assert effects == []
    else:
        assert new.version == state.version + 1
    assert_json_round_trip(new)
    return new, effects


def refused(state: State, event: Event, now: datetime, plan: Plan = SOUTIEN) -> str:
    with pytest.raises(Refused) as caught:
        transition(state, event, now, plan)
    return caught.value.reason


def tick_through(
    state: State, plan: Plan = SOUTIEN
) -> tuple[State, list[tuple[datetime, list[Effect]]]]:
    """Feed a Tick at each deadline until there is none; a microsecond early, nothing happens."""
    log: list[tuple[datetime, list[Effect]]] = []
    while state.deadline is not None:
        deadline = state.deadline
        early, effects = step(state, Tick(), deadline - MICRO, plan)
        assert early is state
        assert effects == []
        state, effects = step(state, Tick(), deadline, plan)
        assert effects, f"a tick at the deadline {deadline} did nothing"
        log.append((deadline, effects))
        assert len(log) < 100, "the machine does not converge"
    return state, log


def opened_at_t(plan: Plan = SOUTIEN) -> State:
    """The scheduled check-in right after its on-time opening at T."""
    state, effects = step(scheduled(T, HOUR), Tick(), T, plan)
    assert effects[0] == PostOpening(late=False)
    return state


def started_by_hand(now: datetime = X, plan: Plan = SOUTIEN) -> State:
    state, _ = step(State(Phase.SCHEDULED), Start(), now, plan)
    return state


# --- the default format -----------------------------------------------------------------------


def test_the_default_format_is_the_one_these_tests_assume() -> None:
    assert tuple(r.key for r in SOUTIEN.rounds) == KEYS
    assert [r.duration for r in SOUTIEN.rounds] == [minutes(m) for m in (3, 4, 8, 8, 4, 3)]
    assert [r.nudge for r in SOUTIEN.rounds] == [False, True, True, True, True, False]
    assert SOUTIEN.index("lourd") == LOURD
    assert SOUTIEN.index("pluie") is None


def test_scheduled_sets_the_reminder_and_the_quorum_check_before_the_start() -> None:
    state = scheduled(T, HOUR)
    assert state.phase is Phase.SCHEDULED
    assert (state.remind_at, state.quorum_at, state.starts_at) == (at(-60), at(-30), T)
    assert state.deadline == at(-60)
    assert state.version == 0
    assert state.round_index == -1


def test_scheduled_without_a_reminder_waits_for_the_start_only() -> None:
    state = scheduled(T, timedelta(0))
    assert (state.remind_at, state.quorum_at, state.starts_at) == (None, None, T)
    assert state.deadline == T
    final, log = tick_through(state)
    assert log[0] == (T, [PostOpening(late=False), PostPrompt(ACCUEIL, at(3))])
    assert final.phase is Phase.CLOSED


# --- a whole scheduled check-in, driven by time alone ------------------------------------------


def test_a_scheduled_check_in_runs_on_ticks_alone_from_reminder_to_summary() -> None:
    start = scheduled(T, HOUR)
    final, log = tick_through(start)

    assert log == [
        (at(-60), [PostReminder()]),
        (at(-30), [CheckQuorum()]),
        (T, [PostOpening(late=False), PostPrompt(ACCUEIL, at(3))]),
        (at(3), [PostPrompt(METEO, at(7))]),
        (at(5), [NudgeQuiet(METEO)]),
        (at(7), [PostPrompt(LOURD, at(15))]),
        (at(11), [NudgeQuiet(LOURD)]),
        (at(15), [PostPrompt(AIDE, at(23))]),
        (at(19), [NudgeQuiet(AIDE)]),
        (at(23), [PostPrompt(RECONNAISSANCE, at(27))]),
        (at(25), [NudgeQuiet(RECONNAISSANCE)]),
        (at(27), [PostPrompt(CLOTURE, at(30))]),
        (at(30), [PostSummary(missed_end=False)]),
    ]
    assert final.phase is Phase.CLOSED
    assert final.deadline is None
    # One version per effective transition, nothing for the early ticks in between.
    assert final.version == start.version + len(log)
    assert final.opened_at == T


def test_phases_and_versions_along_a_scheduled_check_in() -> None:
    state = scheduled(T, HOUR)
    seen = [(state.phase, state.round_index, state.version)]
    while state.deadline is not None:
        state, _ = step(state, Tick(), state.deadline)
        seen.append((state.phase, state.round_index, state.version))
    assert seen == [
        (Phase.SCHEDULED, -1, 0),
        (Phase.REMINDED, -1, 1),
        (Phase.REMINDED, -1, 2),
        (Phase.ROUND, ACCUEIL, 3),
        (Phase.ROUND, METEO, 4),
        (Phase.ROUND, METEO, 5),
        (Phase.ROUND, LOURD, 6),
        (Phase.ROUND, LOURD, 7),
        (Phase.ROUND, AIDE, 8),
        (Phase.ROUND, AIDE, 9),
        (Phase.ROUND, RECONNAISSANCE, 10),
        (Phase.ROUND, RECONNAISSANCE, 11),
        (Phase.ROUND, CLOTURE, 12),
        (Phase.CLOSED, CLOTURE, 13),
    ]


def test_the_deadline_of_each_round_is_its_nudge_then_its_end() -> None:
    state = opened_at_t()
    assert (state.round_started, state.round_ends, state.nudge_at) == (T, at(3), None)
    assert state.deadline == at(3)
    state, _ = step(state, Tick(), at(3))
    assert (state.round_started, state.round_ends, state.nudge_at) == (at(3), at(7), at(5))
    assert state.deadline == at(5)
    state, _ = step(state, Tick(), at(5))
    assert state.nudge_at is None
    assert state.deadline == at(7)


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(scheduled(T, HOUR), id="scheduled"),
        pytest.param(State(Phase.SCHEDULED), id="unscheduled, waiting for a start by hand"),
        pytest.param(opened_at_t(), id="first round"),
        pytest.param(started_by_hand(), id="started by hand"),
    ],
)
def test_a_tick_before_the_deadline_changes_nothing(state: State) -> None:
    deadline = state.deadline or X + HOUR
    for now in (deadline - timedelta(days=1), deadline - minutes(1), deadline - MICRO):
        new, effects = transition(state, Tick(), now, SOUTIEN)
        assert new is state
        assert effects == []


def test_a_check_in_without_a_start_instant_has_no_deadline_and_ignores_ticks() -> None:
    state = State(Phase.SCHEDULED)
    assert state.deadline is None
    new, effects = transition(state, Tick(), at(24 * 60), SOUTIEN)
    assert (new, effects) == (state, [])
    assert new is state


def test_a_round_started_by_a_late_tick_starts_at_the_planned_instant() -> None:
    # The driver woke 20 seconds late: the next round still starts at 15:03, not 15:03:20.
    state, effects = step(opened_at_t(), Tick(), at(3) + timedelta(seconds=20))
    assert effects == [PostPrompt(METEO, at(7))]
    assert state.round_started == at(3)
    assert state.nudge_at == at(5)


def test_the_timeline_of_a_default_check_in_does_not_care_about_a_dst_change() -> None:
    # Europe/Paris leaves summer time at 01:00 UTC on 25 October 2026, mid check-in.
    start = datetime(2026, 10, 25, 0, 45, tzinfo=UTC)
    final, log = tick_through(scheduled(start, timedelta(0)))
    assert [instant for instant, _ in log][-1] == start + minutes(30)
    prompts = [e for _, effects in log for e in effects if isinstance(e, PostPrompt)]
    assert [p.ends_at for p in prompts] == [at(m, start) for m in (3, 7, 15, 23, 27, 30)]
    assert final.phase is Phase.CLOSED


# --- catching up after downtime ---------------------------------------------------------------


def test_back_mid_check_in_the_bot_resumes_the_round_in_progress_only() -> None:
    opened = opened_at_t()
    state, effects = step(opened, Tick(), at(10))
    # « Ce qui est lourd » (minutes 7 to 15): one prompt, saying how much time is left;
    # nothing for the rounds that passed while the bot was away, and no nudge for them.
    assert effects == [PostPrompt(LOURD, at(15), resumed=True)]
    assert state.phase is Phase.ROUND
    assert state.round_index == LOURD
    assert SOUTIEN.rounds[state.round_index].key == "lourd"
    assert (state.round_started, state.round_ends, state.nudge_at) == (at(7), at(15), at(11))
    assert state.deadline == at(11)
    assert state.version == opened.version + 1
    # From there, time goes on as planned.
    final, log = tick_through(state)
    assert log[0] == (at(11), [NudgeQuiet(LOURD)])
    assert log[1] == (at(15), [PostPrompt(AIDE, at(23))])
    assert log[-1] == (at(30), [PostSummary(missed_end=False)])
    assert final.phase is Phase.CLOSED


def test_back_after_the_check_in_ended_the_bot_only_closes_it() -> None:
    state, effects = step(opened_at_t(), Tick(), at(45))
    assert effects == [PostSummary(missed_end=True)]
    assert state.phase is Phase.CLOSED
    assert state.deadline is None


def test_back_after_the_end_from_a_later_round_only_closes_it() -> None:
    state, _ = step(opened_at_t(), Tick(), at(16))
    assert state.round_index == AIDE
    state, effects = step(state, Tick(), at(24 * 60))
    assert effects == [PostSummary(missed_end=True)]
    assert state.phase is Phase.CLOSED


@pytest.mark.parametrize(
    ("now", "missed"),
    [
        pytest.param(at(30), False, id="on time"),
        pytest.param(at(30) + timedelta(seconds=59), False, id="under a minute late"),
        pytest.param(at(31), False, id="one minute late"),
        pytest.param(at(31) + MICRO, True, id="more than a minute late"),
    ],
)
def test_a_summary_says_the_end_was_missed_only_beyond_a_minute(
    now: datetime, missed: bool
) -> None:
    state, _ = step(opened_at_t(), Tick(), at(28))
    assert state.round_index == CLOTURE
    state, effects = step(state, Tick(), now)
    assert effects == [PostSummary(missed_end=missed)]


@pytest.mark.parametrize(
    ("now", "resumed"),
    [
        pytest.param(at(3) + timedelta(seconds=30), False, id="30 s into the round"),
        pytest.param(at(4), False, id="one minute into the round"),
        pytest.param(at(4) + MICRO, True, id="more than a minute into the round"),
    ],
)
def test_a_prompt_is_marked_resumed_only_beyond_a_minute_into_its_round(
    now: datetime, resumed: bool
) -> None:
    _, effects = step(opened_at_t(), Tick(), now)
    assert effects == [PostPrompt(METEO, at(7), resumed=resumed)]


def test_a_tick_that_crosses_two_round_ends_prompts_only_the_last() -> None:
    # « Météo » (3 to 7) passed entirely; « lourd » began 30 seconds ago: a fresh prompt.
    state, effects = step(opened_at_t(), Tick(), at(7) + timedelta(seconds=30))
    assert effects == [PostPrompt(LOURD, at(15), resumed=False)]
    assert state.round_started == at(7)


def test_back_past_the_halfway_point_nudges_only_the_round_in_progress() -> None:
    state, effects = step(opened_at_t(), Tick(), at(21))
    assert effects[0] == PostPrompt(AIDE, at(23), resumed=True)
    nudged = [e.round_index for e in effects if isinstance(e, NudgeQuiet)]
    assert set(nudged) <= {AIDE}
    assert state.nudge_at is None
    assert state.deadline == at(23)


def test_catching_up_follows_the_rounds_skipped_today() -> None:
    state, _ = step(opened_at_t(), Skip("lourd"), at(1))
    # Without « lourd », « aide » follows « météo » at 15:07.
    state, effects = step(state, Tick(), at(10))
    assert effects == [PostPrompt(AIDE, at(15), resumed=True)]
    assert state.round_started == at(7)


# --- starting late, or not at all -------------------------------------------------------------


def test_a_start_missed_within_grace_opens_late_with_every_round_ahead() -> None:
    state, effects = step(scheduled(T, HOUR), Tick(), at(5))
    # Nobody has seen a round yet: the check-in starts now (« la rencontre commence
    # maintenant »), its first prompt with its whole timebox, never one already over.
    assert effects == [PostOpening(late=True), PostPrompt(ACCUEIL, at(8))]
    assert state.phase is Phase.ROUND
    assert (state.round_index, state.round_started, state.opened_at) == (ACCUEIL, at(5), at(5))
    assert state.deadline == at(8)
    assert state.remind_at is None
    assert state.quorum_at is None
    final, log = tick_through(state)
    assert log[-1] == (at(35), [PostSummary(missed_end=False)])
    assert final.phase is Phase.CLOSED


def test_a_start_missed_by_exactly_the_grace_still_opens() -> None:
    state, effects = step(scheduled(T, HOUR), Tick(), at(10))
    assert effects[0] == PostOpening(late=True)
    assert state.phase is Phase.ROUND
    assert state.deadline is not None
    assert state.deadline > at(10)


@pytest.mark.parametrize("late", [minutes(10) + MICRO, minutes(11), HOUR, timedelta(days=3)])
def test_a_start_missed_beyond_grace_is_reported_and_cancelled(late: timedelta) -> None:
    state, effects = step(scheduled(T, HOUR), Tick(), T + late)
    assert effects == [NotifyMissed()]
    assert state.phase is Phase.CANCELLED
    assert state.deadline is None
    assert state.opened_at is None


def test_a_start_missed_beyond_grace_after_the_reminder_is_reported_too() -> None:
    reminded, _ = step(scheduled(T, HOUR), Tick(), at(-30))
    assert reminded.phase is Phase.REMINDED
    state, effects = step(reminded, Tick(), at(11))
    assert effects == [NotifyMissed()]
    assert state.phase is Phase.CANCELLED


def test_the_grace_comes_from_the_plan() -> None:
    strict = Plan(rounds=SOUTIEN.rounds, grace=timedelta(0))
    _, effects = step(scheduled(T, HOUR), Tick(), T + MICRO, strict)
    assert effects == [NotifyMissed()]
    lenient = Plan(rounds=SOUTIEN.rounds, grace=HOUR)
    _, effects = step(scheduled(T, HOUR), Tick(), at(45), lenient)
    assert effects == [PostOpening(late=True), PostPrompt(ACCUEIL, at(48))]


@pytest.mark.parametrize(
    ("first", "delay"),
    [
        pytest.param(timedelta(seconds=30), timedelta(seconds=45), id="30 s round, 45 s late"),
        pytest.param(minutes(1), minutes(1), id="1 min round, exactly 1 min late"),
        pytest.param(minutes(1), timedelta(seconds=30), id="1 min round, past its nudge"),
    ],
)
def test_an_opening_never_prompts_a_first_round_already_over_or_past_its_nudge(
    first: timedelta, delay: timedelta
) -> None:
    # Under a minute late is « on time » (planned instant kept), but a short first round
    # would then be over, or past its nudge, before its prompt: it begins now instead.
    plan = Plan(rounds=(RoundPlan("vite", first, nudge=True), *TWO_ROUNDS.rounds))
    now = T + delay
    state, effects = step(scheduled(T, timedelta(0)), Tick(), now, plan)
    assert effects == [PostOpening(late=False), PostPrompt(0, now + first)]
    assert (state.round_started, state.opened_at) == (now, now)
    assert state.deadline == now + first / 2
    _, effects = step(state, Tick(), now + first / 2, plan)
    assert effects == [NudgeQuiet(0)]


def test_an_opening_under_a_minute_late_keeps_the_planned_instant() -> None:
    state, effects = step(scheduled(T, HOUR), Tick(), T + timedelta(seconds=40))
    assert effects == [PostOpening(late=False), PostPrompt(ACCUEIL, at(3))]
    assert (state.round_started, state.opened_at) == (T, T)


@pytest.mark.parametrize(
    ("now", "late"),
    [
        pytest.param(T, False, id="on time"),
        pytest.param(at(1), False, id="one minute"),
        pytest.param(at(1) + MICRO, True, id="just over a minute"),
        pytest.param(at(2), True, id="two minutes"),
    ],
)
def test_an_opening_is_late_only_beyond_a_minute(now: datetime, late: bool) -> None:
    state, effects = step(scheduled(T, HOUR), Tick(), now)
    # On time, the planned instant; late, now (with the whole first round).
    began = now if late else T
    assert effects == [PostOpening(late=late), PostPrompt(ACCUEIL, began + minutes(3))]
    assert (state.round_started, state.opened_at) == (began, began)


def test_a_missed_reminder_is_still_posted_when_the_start_is_ahead() -> None:
    # Down from before the reminder until 20 minutes before the start.
    state, effects = step(scheduled(T, HOUR), Tick(), at(-20))
    assert effects == [PostReminder(), CheckQuorum()]
    assert state.phase is Phase.REMINDED
    assert (state.remind_at, state.quorum_at) == (None, None)
    assert state.deadline == T
    state, effects = step(state, Tick(), T)
    assert effects == [PostOpening(late=False), PostPrompt(ACCUEIL, at(3))]


def test_a_reminder_posted_late_still_waits_for_the_quorum_check() -> None:
    state, effects = step(scheduled(T, HOUR), Tick(), at(-45))
    assert effects == [PostReminder()]
    assert state.deadline == at(-30)


def test_a_start_missed_with_its_reminder_posts_no_reminder() -> None:
    _, effects = step(scheduled(T, HOUR), Tick(), at(2))
    assert not any(isinstance(e, PostReminder | CheckQuorum) for e in effects)


# --- moderators' commands ---------------------------------------------------------------------


def test_a_start_by_hand_opens_now() -> None:
    before = State(Phase.SCHEDULED)
    state, effects = step(before, Start(), X)
    assert effects == [PostOpening(late=False), PostPrompt(ACCUEIL, at(3, X))]
    assert state.phase is Phase.ROUND
    assert (state.round_index, state.round_started, state.opened_at) == (ACCUEIL, X, X)
    assert state.deadline == at(3, X)
    assert state.version == before.version + 1
    final, log = tick_through(state)
    assert log[-1] == (at(30, X), [PostSummary(missed_end=False)])
    assert final.phase is Phase.CLOSED


def test_a_scheduled_check_in_started_early_by_hand_starts_now() -> None:
    reminded, _ = step(scheduled(T, HOUR), Tick(), at(-60))
    state, effects = step(reminded, Start(), at(-10))
    assert effects == [PostOpening(late=False), PostPrompt(ACCUEIL, at(-7))]
    assert state.opened_at == at(-10)
    assert (state.remind_at, state.quorum_at) == (None, None)
    # The planned start no longer matters: the rounds do.
    assert state.deadline == at(-7)


def test_a_start_before_the_reminder_drops_the_reminder() -> None:
    state, effects = step(scheduled(T, HOUR), Start(), at(-90))
    assert effects == [PostOpening(late=False), PostPrompt(ACCUEIL, at(-87))]
    _, log = tick_through(state)
    flat = [e for _, effects in log for e in effects]
    assert not any(isinstance(e, PostReminder | CheckQuorum | PostOpening) for e in flat)


def test_a_second_start_is_refused() -> None:
    assert refused(started_by_hand(), Start(), at(1, X)) == "checkin.already_running"


def test_an_advance_starts_the_next_round_now() -> None:
    state = started_by_hand()
    state, effects = step(state, Advance(at(1, X)), at(1, X) + timedelta(seconds=1))
    now = at(1, X) + timedelta(seconds=1)
    assert effects == [PostPrompt(METEO, now + minutes(4))]
    assert (state.round_index, state.round_started) == (METEO, now)
    assert state.nudge_at == now + minutes(2)


def test_an_advance_in_the_last_round_closes_the_check_in() -> None:
    state = started_by_hand()
    for i in range(1, 6):
        state, _ = step(state, Advance(at(i, X)), at(i, X))
    assert state.round_index == CLOTURE
    state, effects = step(state, Advance(at(6, X)), at(6, X))
    assert effects == [PostSummary(missed_end=False)]
    assert state.phase is Phase.CLOSED


def test_two_moderators_advancing_at_once_make_one_advance() -> None:
    state = started_by_hand()
    typed = at(1, X)
    # Both typed at the same instant; the bot receives them one after the other.
    first, effects = step(state, Advance(typed), typed + timedelta(milliseconds=150))
    assert effects == [PostPrompt(METEO, typed + timedelta(milliseconds=150) + minutes(4))]
    reason = refused(first, Advance(typed), typed + timedelta(milliseconds=300))
    assert reason == "checkin.already_advanced"


def test_an_advance_typed_at_the_instant_its_round_started_is_a_duplicate() -> None:
    # Received at the very instant it was typed (a fake clock, a console): the same press
    # from a second moderator must not advance a second time.
    typed = at(1, X)
    first, _ = step(started_by_hand(), Advance(typed), typed)
    assert first.round_index == METEO
    assert refused(first, Advance(typed), typed) == "checkin.already_advanced"


def test_an_advance_typed_before_a_round_began_by_time_is_a_duplicate() -> None:
    # The moderator asked for « météo » just before the timebox started it anyway.
    state, _ = step(opened_at_t(), Tick(), at(3))
    typed = at(3) - timedelta(seconds=1)
    assert refused(state, Advance(typed), at(3) + timedelta(seconds=1)) == (
        "checkin.already_advanced"
    )


def test_an_advance_typed_after_the_round_started_is_obeyed() -> None:
    first, _ = step(started_by_hand(), Advance(at(1, X)), at(1, X))
    second, effects = step(first, Advance(at(1.5, X)), at(1.5, X) + timedelta(seconds=1))
    assert second.round_index == LOURD
    assert effects == [PostPrompt(LOURD, at(1.5, X) + timedelta(seconds=1) + minutes(8))]


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(scheduled(T, HOUR), id="scheduled"),
        pytest.param(State(Phase.SCHEDULED), id="unscheduled"),
        pytest.param(step(scheduled(T, HOUR), Tick(), at(-60))[0], id="reminded"),
    ],
)
def test_advance_and_finish_are_refused_before_the_start(state: State) -> None:
    assert refused(state, Advance(at(-5)), at(-5)) == "checkin.not_running"
    assert refused(state, Finish(), at(-5)) == "checkin.not_running"


def test_skipping_the_current_round_moves_on_now() -> None:
    state, _ = step(started_by_hand(), Advance(at(1, X)), at(1, X))
    assert state.round_index == METEO
    state, effects = step(state, Skip("meteo"), at(2, X))
    assert effects == [PostPrompt(LOURD, at(10, X))]
    assert (state.round_index, state.round_started) == (LOURD, at(2, X))
    assert "meteo" in state.skipped


def test_skipping_the_last_round_while_in_it_closes() -> None:
    state, _ = step(opened_at_t(), Tick(), at(28))
    state, effects = step(state, Skip("cloture"), at(28))
    assert effects == [PostSummary(missed_end=False)]
    assert state.phase is Phase.CLOSED


def test_a_future_round_skipped_is_passed_over_by_time() -> None:
    opened = opened_at_t()
    state, effects = step(opened, Skip("aide"), at(1))
    assert effects == []
    assert state.version == opened.version + 1
    assert state.skipped == frozenset({"aide"})
    assert state.round_index == ACCUEIL
    final, log = tick_through(state)
    assert log == [
        (at(3), [PostPrompt(METEO, at(7))]),
        (at(5), [NudgeQuiet(METEO)]),
        (at(7), [PostPrompt(LOURD, at(15))]),
        (at(11), [NudgeQuiet(LOURD)]),
        (at(15), [PostPrompt(RECONNAISSANCE, at(19))]),
        (at(17), [NudgeQuiet(RECONNAISSANCE)]),
        (at(19), [PostPrompt(CLOTURE, at(22))]),
        (at(22), [PostSummary(missed_end=False)]),
    ]
    assert final.phase is Phase.CLOSED


def test_a_round_skipped_before_the_start_is_never_opened() -> None:
    state, effects = step(scheduled(T, HOUR), Skip("accueil"), at(-120))
    assert effects == []
    assert state.phase is Phase.SCHEDULED
    _, log = tick_through(state)
    assert log[2] == (T, [PostOpening(late=False), PostPrompt(METEO, at(4))])
    prompted = [e.round_index for _, effects in log for e in effects if isinstance(e, PostPrompt)]
    assert prompted == [METEO, LOURD, AIDE, RECONNAISSANCE, CLOTURE]


def test_skipping_every_round_before_the_start_opens_and_closes_at_once() -> None:
    state = State(Phase.SCHEDULED)
    for key in KEYS:
        state, _ = step(state, Skip(key), at(-1, X))
    state, effects = step(state, Start(), X)
    assert effects == [PostOpening(late=False), PostSummary(missed_end=False)]
    assert state.phase is Phase.CLOSED


def test_skipping_a_round_already_skipped_changes_nothing() -> None:
    once, _ = step(opened_at_t(), Skip("aide"), at(1))
    again, effects = step(once, Skip("aide"), at(2))
    assert again is once
    assert effects == []


def test_skipping_a_past_round_is_refused() -> None:
    state, _ = step(opened_at_t(), Tick(), at(8))
    assert state.round_index == LOURD
    for key in ("accueil", "meteo"):
        assert refused(state, Skip(key), at(9)) == "checkin.round_past"


def test_skipping_an_unknown_round_is_refused() -> None:
    for state in (scheduled(T, HOUR), opened_at_t()):
        assert refused(state, Skip("pluie"), at(1)) == "checkin.unknown_round"
    # Keys are exact: the command layer folds case and accents before the machine sees them.
    assert refused(opened_at_t(), Skip("Météo"), at(1)) == "checkin.unknown_round"


def test_finish_closes_now_with_a_summary() -> None:
    state, _ = step(opened_at_t(), Tick(), at(9))
    state, effects = step(state, Finish(), at(12))
    assert effects == [PostSummary(missed_end=False)]
    assert state.phase is Phase.CLOSED
    assert state.deadline is None
    assert (state.round_ends, state.nudge_at) == (None, None)


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(scheduled(T, HOUR), id="scheduled"),
        pytest.param(State(Phase.SCHEDULED), id="unscheduled"),
        pytest.param(step(scheduled(T, HOUR), Tick(), at(-60))[0], id="reminded"),
    ],
)
def test_cancel_before_the_start(state: State) -> None:
    new, effects = step(state, Cancel(), at(-5))
    assert effects == []
    assert new.phase is Phase.CANCELLED
    assert new.version == state.version + 1
    assert new.deadline is None
    # A cancelled check-in never opens, however late the ticks.
    assert refused(new, Tick(), T) == "checkin.already_finished"


def test_cancel_is_refused_once_running() -> None:
    assert refused(opened_at_t(), Cancel(), at(1)) == "checkin.already_running"


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(scheduled(T, HOUR), id="scheduled"),
        pytest.param(step(scheduled(T, HOUR), Tick(), at(-60))[0], id="reminded"),
        pytest.param(opened_at_t(), id="round"),
        pytest.param(step(opened_at_t(), Tick(), at(9))[0], id="later-round"),
    ],
)
def test_abandon_ends_any_unfinished_check_in_without_a_word(state: State) -> None:
    """The bot was removed from the room: nothing can be posted there any more."""
    new, effects = step(state, Abandon(), at(5))
    assert effects == []
    assert new.phase is Phase.CANCELLED
    assert new.version == state.version + 1
    assert new.deadline is None
    assert refused(new, Tick(), at(60)) == "checkin.already_finished"


def _closed() -> State:
    return tick_through(scheduled(T, HOUR))[0]


def _cancelled() -> State:
    return step(scheduled(T, HOUR), Cancel(), at(-90))[0]


def _missed() -> State:
    return step(scheduled(T, HOUR), Tick(), at(30))[0]


def _finished() -> State:
    return step(opened_at_t(), Finish(), at(4))[0]


ALL_EVENTS: list[Event] = [
    Tick(),
    Start(),
    Advance(at(40)),
    Skip("cloture"),
    Skip("pluie"),
    Finish(),
    Cancel(),
    Abandon(),
]


@pytest.mark.parametrize(
    "make", [_closed, _cancelled, _missed, _finished], ids=lambda f: f.__name__.strip("_")
)
@pytest.mark.parametrize("event", ALL_EVENTS, ids=repr)
def test_every_event_is_refused_once_finished(make: Callable[[], State], event: Event) -> None:
    state = make()
    assert state.phase.finished
    assert refused(state, event, at(40)) == "checkin.already_finished"


def test_refused_carries_its_reason() -> None:
    error = Refused("checkin.not_running")
    assert error.reason == "checkin.not_running"
    assert str(error) == "checkin.not_running"


# --- persistence ------------------------------------------------------------------------------


def test_every_state_of_a_full_check_in_survives_json() -> None:
    # Resumed from its JSON at every step, the check-in runs exactly as in memory.
    state = scheduled(T, HOUR)
    expected_final, expected_log = tick_through(state)
    log: list[tuple[datetime, list[Effect]]] = []
    while state.deadline is not None:
        stored = json.dumps(state.to_json())
        state = State.from_json(json.loads(stored))
        deadline = state.deadline
        assert deadline is not None
        state, effects = step(state, Tick(), deadline)
        log.append((deadline, effects))
    assert log == expected_log
    assert state == expected_final


def test_json_of_a_state_in_a_round_with_skipped_rounds() -> None:
    state, _ = step(opened_at_t(), Skip("reconnaissance"), at(1))
    state, _ = step(state, Skip("aide"), at(1))
    state, _ = step(state, Tick(), at(5))
    data = state.to_json()
    assert data == {
        "phase": "round",
        "remind_at": None,
        "quorum_at": None,
        "starts_at": "2026-11-23T15:00:00+00:00",
        "round_index": METEO,
        "round_started": "2026-11-23T15:03:00+00:00",
        "round_ends": "2026-11-23T15:07:00+00:00",
        "nudge_at": None,
        "skipped": ["aide", "reconnaissance"],
        "opened_at": "2026-11-23T15:00:00+00:00",
        "version": state.version,
    }
    assert State.from_json(data) == state


def test_json_of_states_before_the_start_and_after_the_end() -> None:
    for state in (
        State(Phase.SCHEDULED),
        scheduled(T, HOUR),
        scheduled(T, timedelta(0)),
        _closed(),
        _cancelled(),
        _missed(),
    ):
        assert_json_round_trip(state)


# --- properties -------------------------------------------------------------------------------

# Events at increasing instants around a check-in planned at T; ticks are the common case.
_gap = st.one_of(
    st.just(timedelta(0)),
    st.integers(1, 59).map(lambda s: timedelta(seconds=s)),
    st.integers(1, 40).map(minutes),
    st.integers(1, 10**6).map(lambda us: timedelta(microseconds=us)),
)
# How long before its receipt an Advance was typed (negative: a sender's clock ahead of ours).
_lag = st.integers(-5_000, 600_000).map(lambda ms: timedelta(milliseconds=ms))


@st.composite
def _plans(draw: st.DrawFn) -> Plan:
    if draw(st.booleans()):
        return Plan(rounds=SOUTIEN.rounds, grace=draw(st.integers(0, 20).map(minutes)))
    n = draw(st.integers(1, 6))
    rounds = tuple(
        RoundPlan(
            f"r{i}",
            draw(
                st.one_of(
                    st.integers(1, 20).map(minutes),
                    st.integers(1, 900).map(lambda s: timedelta(seconds=s)),
                )
            ),
            nudge=draw(st.booleans()),
        )
        for i in range(n)
    )
    grace = draw(st.integers(0, 1200).map(lambda s: timedelta(seconds=s)))
    return Plan(rounds=rounds, grace=grace)


# One scripted event: the time since the previous one, its kind, and an Advance's lag or a
# Skip's key.
ScriptStep = tuple[timedelta, str, timedelta | str]


@st.composite
def _scripts(
    draw: st.DrawFn,
) -> tuple[Plan, State, datetime, list[ScriptStep]]:
    plan = draw(_plans())
    if draw(st.integers(0, 3)):
        initial = scheduled(T, draw(st.integers(0, 120).map(minutes)))
    else:
        initial = State(Phase.SCHEDULED)
    keys = [r.key for r in plan.rounds] + ["pluie"]
    kinds = st.sampled_from(
        ["tick"] * 8 + ["start", "advance", "advance", "skip", "finish", "cancel", "abandon"]
    )
    script = draw(
        st.lists(
            st.tuples(_gap, kinds, st.one_of(_lag, st.sampled_from(keys))),
            max_size=40,
        )
    )
    # From well before the reminder, or from just around the start.
    first = T + draw(
        st.one_of(
            st.just(-minutes(150)),
            st.integers(-120, 120).map(lambda s: timedelta(seconds=s)),
            st.integers(-90, 60).map(minutes),
        )
    )
    return plan, initial, first, script


def _event(kind: str, extra: timedelta | str, now: datetime, keys: list[str]) -> Event:
    if kind == "tick":
        return Tick()
    if kind == "start":
        return Start()
    if kind == "advance":
        lag = extra if isinstance(extra, timedelta) else timedelta(0)
        return Advance(now - lag)
    if kind == "skip":
        return Skip(extra if isinstance(extra, str) else keys[0])
    if kind == "finish":
        return Finish()
    if kind == "abandon":
        return Abandon()
    return Cancel()


_ALLOWED = {
    Phase.SCHEDULED: {Phase.SCHEDULED, Phase.REMINDED, Phase.ROUND, Phase.CANCELLED, Phase.CLOSED},
    Phase.REMINDED: {Phase.REMINDED, Phase.ROUND, Phase.CANCELLED, Phase.CLOSED},
    Phase.ROUND: {Phase.ROUND, Phase.CLOSED},
}


@settings(database=None, deadline=None, max_examples=400)
@given(_scripts())
def test_random_event_sequences_keep_the_machine_s_invariants(
    script: tuple[Plan, State, datetime, list[ScriptStep]],
) -> None:
    plan, state, now, steps = script
    keys = [r.key for r in plan.rounds]
    reasons: set[str] = set()
    for gap, kind, extra in steps:
        now += gap
        event = _event(kind, extra, now, keys)
        try:
            new, effects = transition(state, event, now, plan)
        except Refused as refusal:
            # Anything but Refused fails the test by propagating.
            reasons.add(refusal.reason)
            continue
        assert not state.phase.finished, "a finished check-in accepted an event"
        # Only the bot's removal from the room ends a running check-in without closing it.
        abandoned = {Phase.CANCELLED} if isinstance(event, Abandon) else set()
        assert new.phase in _ALLOWED[state.phase] | abandoned
        # The version never goes down, and moves exactly when the state does.
        if new == state:
            assert effects == []
            assert new.version == state.version
        else:
            assert new.version == state.version + 1
        assert new.round_index >= state.round_index
        assert new.skipped >= state.skipped
        if new.phase is Phase.ROUND:
            assert new.round_started is not None
            assert new.deadline is not None
            assert new.deadline >= new.round_started
            assert new.round_ends is not None
            assert new.round_ends > new.round_started
            assert plan.rounds[new.round_index].key not in new.skipped
        if new.phase.finished:
            assert new.deadline is None
        if isinstance(event, Tick):
            # A tick acts on everything due: nothing is left overdue behind it.
            assert new.deadline is None or new.deadline > now
        if state.phase is Phase.ROUND and new.phase is Phase.ROUND:
            assert new.opened_at == state.opened_at
        for effect in effects:
            if isinstance(effect, PostPrompt):
                assert effect.round_index == new.round_index
                assert effect.ends_at == new.round_ends
                assert effect.ends_at > now, "a prompt for a round already over"
            elif isinstance(effect, NudgeQuiet):
                assert effect.round_index == new.round_index
                assert plan.rounds[effect.round_index].nudge
            elif isinstance(effect, PostSummary):
                assert new.phase is Phase.CLOSED
            elif isinstance(effect, NotifyMissed):
                assert new.phase is Phase.CANCELLED
            elif isinstance(effect, PostOpening):
                assert state.phase in (Phase.SCHEDULED, Phase.REMINDED)
        assert len([e for e in effects if isinstance(e, PostPrompt)]) <= 1
        assert_json_round_trip(new)
        state = new
    assert reasons <= REFUSALS


@settings(database=None, deadline=None, max_examples=200)
@given(
    plan=_plans(),
    late=st.one_of(st.integers(0, 90), st.integers(0, 3600)).map(lambda s: timedelta(seconds=s)),
)
def test_a_scheduled_start_either_opens_or_is_reported_never_both(
    plan: Plan, late: timedelta
) -> None:
    now = T + late
    state, effects = transition(scheduled(T, HOUR), Tick(), now, plan)
    if late > plan.grace:
        assert effects == [NotifyMissed()]
        assert state.phase is Phase.CANCELLED
        return
    assert state.phase is Phase.ROUND
    assert state.round_ends is not None
    assert effects == [PostOpening(late=late > minutes(1)), PostPrompt(0, state.round_ends)]
    # Whatever the delay, the first round has time left and nothing is overdue.
    assert state.round_ends > now
    assert state.deadline is not None
    assert state.deadline > now


@settings(database=None, deadline=None, max_examples=200)
@given(plan=_plans(), start_delay=_gap)
def test_ticks_alone_prompt_every_round_once_in_order(plan: Plan, start_delay: timedelta) -> None:
    state = started_by_hand(X + start_delay, plan)
    final, log = tick_through(state, plan)
    prompts = [e for _, effects in log for e in effects if isinstance(e, PostPrompt)]
    assert [p.round_index for p in prompts] == list(range(1, len(plan.rounds)))
    nudges = [e.round_index for _, effects in log for e in effects if isinstance(e, NudgeQuiet)]
    assert nudges == [i for i, r in enumerate(plan.rounds) if r.nudge]
    total = sum((r.duration for r in plan.rounds), timedelta(0))
    assert log[-1] == (X + start_delay + total, [PostSummary(missed_end=False)])
    assert final.phase is Phase.CLOSED


# --- the core stays pure ----------------------------------------------------------------------

FORBIDDEN = {"nio", "discord", "aiosqlite", "asyncio"}


def test_the_machine_imports_no_platform_database_or_event_loop() -> None:
    check = textwrap.dedent(
        f"""
        import sys
        import bot.checkin
        print(",".join(sorted(
            name for name in sys.modules if name.split(".")[0] in {sorted(FORBIDDEN)!r}
        )))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", check],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"bot.checkin loads {result.stdout.strip()}"


def test_the_machine_never_reads_the_clock() -> None:
    source = (ROOT / "bot" / "checkin.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & (FORBIDDEN | {"time"})
    clock_reads = [
        f"line {node.lineno}: .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"now", "utcnow", "today", "sleep", "monotonic", "time"}
    ]
    assert clock_reads == []
