"""The `halte` command line: check-config, migrate, console — as an operator runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from stockage.database import migration_steps

ROOT = Path(__file__).resolve().parents[2]


def halte(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HALTE_")}
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        cwd=ROOT,
        check=False,
    )


def test_check_config_accepts_the_example_and_masks_the_secret() -> None:
    result = halte("check-config", "-c", "config.example.toml")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "change-me" not in result.stdout
    assert "matrix.password = **********" in result.stdout


def test_check_config_names_every_problem_by_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        'language = "de"\nlog_level = 3\n[matrix]\nhomeserver = "https://m.example.org"\n'
        'password = "x"\n',
        encoding="utf-8",
    )
    result = halte("check-config", "-c", str(config))
    assert result.returncode == 2
    assert "matrix.user_id" in result.stderr  # the missing key
    assert "language" in result.stderr  # a wrong value
    assert "log_level" in result.stderr  # a wrong type
    assert "3 problem(s)" in result.stderr


def test_check_config_reports_a_missing_file_and_broken_toml(tmp_path: Path) -> None:
    missing = halte("check-config", "-c", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("language = \n", encoding="utf-8")
    result = halte("check-config", "-c", str(broken))
    assert result.returncode == 2
    assert "not valid TOML" in result.stderr


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    result = halte(
        "check-config",
        "-c",
        "config.example.toml",
        env={"HALTE_LANGUAGE": "en", "HALTE_MATRIX__DEVICE_NAME": "Halte-CLSC"},
    )
    assert result.returncode == 0, result.stderr
    assert "language = en" in result.stdout
    assert "matrix.device_name = Halte-CLSC" in result.stdout


def test_migrate_creates_a_private_database(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    first = halte("migrate", "-c", str(config))
    assert first.returncode == 0, first.stderr
    assert f"schema 0 -> {len(migration_steps())}" in first.stdout
    database = tmp_path / "data" / "halte.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    again = halte("migrate", "-c", str(config))
    assert "0 step(s) applied" in again.stdout


def test_run_without_a_matrix_section_says_what_is_missing(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('language = "fr"\n', encoding="utf-8")
    result = halte("run", "-c", str(config))
    assert result.returncode == 2
    assert "matrix" in result.stderr


def test_console_runs_the_whole_bot_and_switches_speaker() -> None:
    script = "\n".join(
        [
            "!groupe creer",
            "/en-tant-que animation",
            "!groupe creer soutien",
            "/en-tant-que karim",
            "!rejoindre",
            "!groupe info",
            "",
        ]
    )
    result = halte("console", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "réservée aux personnes qui animent" in out  # marie is not a moderator
    assert "Le groupe de soutien est créé" in out
    assert "Bienvenue dans le groupe" in out
    assert "Membres inscrit·es : 1" in out


def test_console_my_data_writes_the_json_file_into_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script = "\n".join(
        [
            "/en-tant-que animation",
            "!groupe creer soutien",
            "/en-tant-que karim",
            "!stationner Le formulaire AH-223 plante",
            "!mes-donnees",
            "",
        ]
    )
    result = halte("console", "--data-dir", str(data), stdin=script)
    assert result.returncode == 0, result.stderr
    (written,) = (data / "files").glob("halte-mes-donnees-*.json")
    assert f"📎 fichier {written.name} (" in result.stdout
    assert f"Enregistré ici : {written}" in result.stdout
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    document = json.loads(written.read_text(encoding="utf-8"))
    assert [i["text"] for i in document["parked_items"]] == ["Le formulaire AH-223 plante"]
    # The text goes into the file, not onto the terminal as JSON.
    assert '"parked_items"' not in result.stdout


def test_export_agenda_prints_markdown_and_json(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script = "\n".join(
        [
            "/en-tant-que animation",
            "!groupe creer soutien",
            "/en-tant-que karim",
            "!stationner Le formulaire *AH-223* plante <script>",
            "!stationner Horaire des fins de semaine",
            "",
        ]
    )
    made = halte("console", "--data-dir", str(data), stdin=script)
    assert made.returncode == 0, made.stderr
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{data}"\n', encoding="utf-8")
    markdown = halte("export-agenda", "-c", str(config), "--group", "!salle:console")
    assert markdown.returncode == 0, markdown.stderr
    lines = markdown.stdout.splitlines()
    assert lines[0].startswith("# Ordre du jour")
    # People's words are inert in Markdown.
    assert lines[2] == r"1. Le formulaire \*AH\-223\* plante \<script\> — @karim:console"
    assert lines[3].startswith("2. Horaire des fins de semaine")
    as_json = halte(
        "export-agenda", "-c", str(config), "--group", "!salle:console", "--format", "json"
    )
    assert as_json.returncode == 0, as_json.stderr
    exported = json.loads(as_json.stdout)
    assert [item["number"] for item in exported["items"]] == [1, 2]
    assert exported["items"][0]["text"] == "Le formulaire *AH-223* plante <script>"
    assert exported["items"][0]["author"] == "@karim:console"
    missing = halte("export-agenda", "-c", str(config), "--group", "!autre:console")
    assert missing.returncode == 2
    assert "not a Halte group" in missing.stderr


def test_classify_reads_json_lines_and_text_with_and_without_sensitive() -> None:
    """The issue's contract: JSON Lines in, one line out each; `--text` for one message;
    `--sensitive` answers as a group at « élevée » (checked against the library's answer)."""
    from bot.guards import classify_json

    tune = ROOT / "tests" / "data" / "guards" / "tune.jsonl"
    rows = [json.loads(line) for line in tune.read_text("utf-8").splitlines()]
    one = next(
        r
        for r in rows
        if json.loads(classify_json(r["text"], r["lang"], sensitive=True))["crisis"]
        and not json.loads(classify_json(r["text"], r["lang"]))["crisis"]
    )
    stdin = "\n".join(
        [json.dumps({"text": "Je veux mourir"}), json.dumps(one, ensure_ascii=False), "{bad"]
    )
    plain = halte("classify", stdin=stdin)
    assert plain.returncode == 0, plain.stderr
    out = [json.loads(line) for line in plain.stdout.splitlines()]
    assert [o.get("crisis") for o in out] == [True, False, None]
    assert set(out[2]) == {"error"}
    high = halte("classify", "--sensitive", stdin=stdin)
    assert [json.loads(line).get("crisis") for line in high.stdout.splitlines()] == [
        True,
        True,
        None,
    ]
    text = halte("classify", "--sensitive", "--lang", one["lang"], "--text", one["text"])
    assert json.loads(text.stdout)["crisis"] is True
