"""`halte run` as an operator starts it, and `halte demo` as the README promises."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.localserver import LocalSynapse
from tests.integration.conftest import Users, member

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALTE_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


async def test_run_answers_then_stops_cleanly_on_sigterm(
    synapse: LocalSynapse, users: Users, tmp_path: Path
) -> None:
    bot_id, password = users.new("halte")
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\nlog_level = "DEBUG"\n'
        f'[matrix]\nhomeserver = "{synapse.url}"\nuser_id = "{bot_id}"\n'
        f'invite_allowlist = ["{synapse.server_name}"]\n',
        encoding="utf-8",
    )
    log_file = tmp_path / "halte.log"
    with log_file.open("w") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "-c",
            str(config),
            env=_env(HALTE_MATRIX__PASSWORD=password),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        async with member(synapse, users, "sophie") as sophie:
            room = await sophie.create_room("Équipe", invite=[bot_id])
            # The bot may still be starting: ask until it is in the room and answers.
            asked = await _ask_until_answered(sophie, room, bot_id, "!aide")
            assert asked.body.startswith("Commandes de Halte")
            # A plain message and a command quoting text: neither may reach the logs.
            await sophie.send(room, "une phrase que personne ne doit retrouver 7f3a")
            quoting = await sophie.send(room, "!aide encore une phrase 7f3a")
            await sophie.reply_to(room, quoting, bot_id)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
        assert time.monotonic() - started < 10
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    logs = log_file.read_text(encoding="utf-8")
    assert "signal SIGTERM received" in logs
    # Whoever deployed us can tell whether the guards' compiled parts were built.
    parts = r"crisis model sums: (compiled|Python); text normalisation: (compiled|Python)"
    assert re.search(f"guards ready; {parts}", logs)
    assert "command aide" in logs
    assert "7f3a" not in logs  # even at DEBUG, no message text
    assert password not in logs
    credentials = tmp_path / "data" / "credentials.json"
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"


async def _ask_until_answered(sophie, room, bot_id, sentence):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while True:
        members = await sophie.client.joined_members(room)
        if bot_id in [m.user_id for m in getattr(members, "members", [])]:
            event_id = await sophie.send(room, sentence)
            return await sophie.reply_to(room, event_id, bot_id, within=15)
        assert time.monotonic() < deadline, "the bot never joined"
        await asyncio.sleep(0.2)


def test_demo_prints_a_transcript_and_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Karim (membre) : !rejoindre" in out
    assert "Halte : Bienvenue dans le groupe" in out
    assert "réservée aux personnes qui animent" in out
    assert "Utilisation : !groupe langue <fr|en>" in out
    # The short check-in: opening, the three prompts in order, the summary with counts only.
    prompts = [line for line in out.splitlines() if line.startswith("Halte : Tour ")]
    assert [p.split(" — ")[1].split(" (")[0] for p in prompts] == [
        "Météo",
        "Ce qui aide",
        "Clôture",
    ]
    # The exact count is checked by the check-in tests; here, that the summary gives one.
    assert re.search(r"Personnes qui ont pris la parole : \d+", out), out
    # Parking by command and by 🅿️, then the agenda in the team-meeting room.
    assert "Halte a réagi ✅ sur ce message" in out
    assert "[Réunion d'équipe] Halte : Ordre du jour" in out
    assert "2. Le nouvel horaire des fins de semaine" in out
    # The guards: 🅿️ offered on technical talk; the safety net, privately, to both people.
    assert "Halte a réagi 🅿️ sur ce message" in out
    assert "(en privé à Karim (membre)) Halte : Je suis là" in out
    assert "(en privé à Sophie (animation)) Halte : 🔔 Alerte confidentielle" in out
    assert "Je vois plus de sortie" not in out.split("Alerte confidentielle")[1].split("\n")[0]
    assert "Démonstration terminée : tout a fonctionné." in out
