"""The console transport's own behaviour: how a file sent privately is shown, and written."""

from __future__ import annotations

import stat
from pathlib import Path

from bot.messages import DirectFile
from bot.transports.console import ConsoleTransport

FILE = DirectFile(
    user_id="@alice:console",
    filename="halte-mes-donnees-2026-11-23.json",
    mimetype="application/json",
    data='{"format": "halte-export/1", "texte": "écrit"}'.encode(),
    key="privacy:$1:export:file",
)


async def test_a_file_is_shown_by_name_size_and_type_not_content() -> None:
    lines: list[str] = []
    console = ConsoleTransport(write=lines.append)
    assert await console.send(FILE) is not None
    assert console.sent == [FILE]
    (line,) = lines
    assert line.startswith("Halte (en privé à @alice:console)")
    assert line.endswith(
        f"📎 fichier halte-mes-donnees-2026-11-23.json ({len(FILE.data)} octets, application/json)"
    )
    assert "écrit" not in line


async def test_a_file_is_shown_in_english() -> None:
    lines: list[str] = []
    console = ConsoleTransport(write=lines.append, language="en")
    await console.send(FILE)
    assert lines[0].startswith("Halte (privately to @alice:console)")
    assert lines[0].endswith(
        f"📎 file halte-mes-donnees-2026-11-23.json ({len(FILE.data)} bytes, application/json)"
    )


async def test_with_a_files_dir_the_file_is_written_there_owner_only(tmp_path: Path) -> None:
    lines: list[str] = []
    files = tmp_path / "files"
    console = ConsoleTransport(write=lines.append, files_dir=files)
    await console.send(FILE)
    written = files / FILE.filename
    assert written.read_bytes() == FILE.data
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.stat().st_mode) == 0o700
    assert lines[0].endswith(f"\n   Enregistré ici : {written}")


async def test_a_file_name_cannot_point_outside_the_files_dir(tmp_path: Path) -> None:
    files = tmp_path / "files"
    console = ConsoleTransport(files_dir=files)
    sneaky = DirectFile("@alice:console", "../../dehors.json", "application/json", b"{}")
    await console.send(sneaky)
    assert [p.name for p in files.iterdir()] == ["dehors.json"]
    assert not (tmp_path / "dehors.json").exists()


async def test_a_keyed_file_sent_again_is_not_shown_again(tmp_path: Path) -> None:
    lines: list[str] = []
    console = ConsoleTransport(write=lines.append)
    first = await console.send(FILE)
    assert await console.send(FILE) == first
    assert len(console.sent) == 1
    assert len(lines) == 1
