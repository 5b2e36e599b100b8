"""`halte`: run, console, demo, check-config, migrate, export-agenda, purge, classify.

Each subcommand is a thin shell over the runtime; exit codes are for the operator's scripts:
0 success, 1 a runtime failure, 2 a configuration problem.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.clock import Clock
from bot.config import ConfigError, Settings, load_settings
from bot.i18n import text

DEFAULT_CONFIG = Path("config.toml")
EXIT_CONFIG = 2
# Inside the console's data directory: where files sent privately are written.
CONSOLE_FILES_DIR = "files"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="halte", description="Halte — un court temps d'arrêt pour se soutenir mutuellement."
    )
    sub = parser.add_subparsers(dest="action", required=True)

    def with_config(p: argparse.ArgumentParser, default: Path | None = DEFAULT_CONFIG) -> None:
        p.add_argument(
            "-c",
            "--config",
            type=Path,
            default=default,
            help="fichier TOML (défaut : ./config.toml)",
        )

    with_config(sub.add_parser("run", help="lance le bot sur le serveur Matrix configuré"))
    console = sub.add_parser("console", help="le bot dans le terminal, sans serveur")
    with_config(console, default=None)
    console.add_argument("--data-dir", type=Path, help="garder les données ici (défaut : jetable)")
    demo = sub.add_parser("demo", help="démonstration sur un Synapse local jetable")
    demo.add_argument("--lang", choices=("fr", "en"), default="fr")
    with_config(sub.add_parser("check-config", help="valide un fichier de configuration"))
    with_config(sub.add_parser("migrate", help="met la base de données à jour"))
    export = sub.add_parser(
        "export-agenda", help="affiche l'ordre du jour de la prochaine réunion d'un groupe"
    )
    with_config(export)
    export.add_argument("--group", required=True, help="identifiant du salon du groupe (!…)")
    export.add_argument("--format", choices=("md", "json"), default="md", dest="output")
    purge = sub.add_parser(
        "purge", help="efface ce qui a dépassé sa durée de conservation ([privacy])"
    )
    with_config(purge)
    purge.add_argument(
        "--dry-run", action="store_true", help="compte seulement ce qui partirait, sans effacer"
    )
    classify = sub.add_parser(
        "classify", help="classe des messages (JSON Lines sur l'entrée standard, ou --text)"
    )
    classify.add_argument("--text", help="un seul message")
    classify.add_argument("--lang", choices=("fr", "en"), help="langue (sinon détectée)")
    classify.add_argument(
        "--sensitive",
        action="store_true",
        help="filet de crise comme dans un groupe réglé à « élevée » (!groupe crise elevee)",
    )
    return parser


def _load(path: Path | None, *, need_matrix: bool) -> Settings:
    """Load settings, or print every problem with its key path and exit with code 2."""
    try:
        if path is not None and path == DEFAULT_CONFIG and not path.exists() and not need_matrix:
            path = None
        settings = load_settings(path)
        if need_matrix and settings.matrix is None:
            raise ConfigError([("matrix", "Field required (homeserver, user_id, password)")])
    except ConfigError as exc:
        where = path if path is not None else "environment"
        print(f"{where}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for key, reason in exc.problems:
            print(f"  {key}: {reason}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    return settings


def _check_config(path: Path) -> int:
    settings = _load(path, need_matrix=True)
    shown = settings.model_dump(mode="json")
    print(f"{path}: OK")
    for key, value in sorted(_flatten(shown).items()):
        print(f"  {key} = {value}")
    return 0


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


async def _migrate(settings: Settings) -> int:
    from bot.runtime import DATABASE_FILE
    from stockage.database import open_database

    path = settings.data_dir / DATABASE_FILE
    async with open_database(path, migrate=False) as db:
        before = await db.schema_version()
        applied = await db.migrate()
        after = await db.schema_version()
    print(f"{path}: schema {before} -> {after} ({len(applied)} step(s) applied)")
    return 0


async def _export_agenda(settings: Settings, room_id: str, output: str) -> int:
    """Print the agenda as it stands (a preview: nothing is recorded or posted)."""
    import json

    from bot.agenda import Agenda, to_json, to_markdown
    from bot.clock import SystemClock
    from bot.runtime import DATABASE_FILE
    from bot.schedule import next_occurrence
    from stockage.database import open_database
    from stockage.parking import PENDING
    from stockage.repositories import Repositories

    path = settings.data_dir / DATABASE_FILE
    if not path.exists():
        print(f"{path}: no database (run `halte migrate` or the bot first)", file=sys.stderr)
        return EXIT_CONFIG
    async with open_database(path) as db:
        repos = Repositories.on(db)
        group = await repos.groups.get(room_id)
        if group is None:
            print(f"{room_id}: not a Halte group in {path}", file=sys.stderr)
            return EXIT_CONFIG
        meetings = await repos.meetings.get(room_id)
        meeting = None if meetings is None else next_occurrence(meetings, SystemClock().now())
        items = await repos.parking.items(room_id, PENDING)
    agenda = Agenda.of(group.name or room_id, meeting, group.timezone, items)
    if output == "json":
        print(json.dumps(to_json(agenda), ensure_ascii=False, indent=2))
    else:
        print(to_markdown(agenda, group.language), end="")
    return 0


async def _purge(settings: Settings, dry_run: bool, clock: Clock | None = None) -> int:
    """Delete what is past its retention period (or only count it), and print the counts."""
    from bot.clock import SystemClock
    from bot.privacy import purge
    from bot.runtime import DATABASE_FILE
    from stockage.database import open_database
    from stockage.repositories import Repositories

    path = settings.data_dir / DATABASE_FILE
    if not path.exists():
        print(f"{path}: no database (run `halte migrate` or the bot first)", file=sys.stderr)
        return EXIT_CONFIG
    now = (clock or SystemClock()).now()
    async with open_database(path) as db:
        purged = await purge(Repositories.on(db), settings, now, dry_run=dry_run)
    privacy = settings.privacy
    days = {
        "dealt_items": privacy.dealt_items_days,
        "attendance": privacy.counts_days,
        "participation": privacy.counts_days,
        "safety_signals": privacy.counts_days,
        "sent_posts": privacy.counts_days,
        "journal": privacy.journal_days,
    }
    verb = "would delete" if dry_run else "deleted"
    print(
        f"{path}: {verb} {purged.total} row(s)" + (" (dry run, nothing deleted)" if dry_run else "")
    )
    for kind, count in purged.as_dict().items():
        older = f" (older than {days[kind]} days)" if kind in days else ""
        print(f"  {kind}: {count}{older}")
    return 0


def _classify(text: str | None, lang: str | None, sensitive: bool) -> int:
    """One JSON line per message: what the guards see in it (nothing is stored or logged)."""
    from bot.guards import classify_json, classify_lines

    if text is not None:
        print(classify_json(text, lang, sensitive=sensitive))
        return 0
    lines = (line.rstrip("\n") for line in sys.stdin)
    for line in classify_lines(lines, sensitive=sensitive):
        print(line)
    return 0


async def _run(settings: Settings) -> int:
    from bot.runtime import build_app, run_until_stopped, setup_logging
    from bot.transports.matrix import MatrixTransport
    from stockage.events import TransportStateRepository

    setup_logging(settings.log_level)
    assert settings.matrix is not None
    matrix = settings.matrix

    def transport(db: object) -> MatrixTransport:
        from stockage.database import Database

        assert isinstance(db, Database)
        return MatrixTransport(matrix, settings.data_dir, TransportStateRepository(db))

    async with build_app(settings, transport) as app:
        await run_until_stopped(app)
    return 0


async def _console(settings: Settings) -> int:
    from bot.runtime import build_app, run_until_stopped, setup_logging
    from bot.transports.console import ConsoleTransport

    setup_logging("WARNING")
    moderators = set(settings.moderators) or {"@animation:console"}
    # Files the bot sends (the `!mes-donnees` export) go beside the console's data: kept with
    # `--data-dir`, gone with the throwaway directory otherwise, like everything else.
    console = ConsoleTransport(
        moderators=moderators,
        write=print,
        language=settings.language,
        files_dir=settings.data_dir / CONSOLE_FILES_DIR,
    )
    print(text(settings.language, "console.intro", speaker=console.speaker))
    print(text(settings.language, "console.moderators", moderators=", ".join(sorted(moderators))))
    async with build_app(settings, lambda _db: console) as app:
        await run_until_stopped(app)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.action == "check-config":
        return _check_config(args.config)
    if args.action == "migrate":
        return asyncio.run(_migrate(_load(args.config, need_matrix=False)))
    if args.action == "run":
        return asyncio.run(_run(_load(args.config, need_matrix=True)))
    if args.action == "console":
        settings = _load(args.config, need_matrix=False)
        with tempfile.TemporaryDirectory(prefix="halte-console-") as scratch:
            data_dir = args.data_dir or Path(scratch)
            return asyncio.run(_console(settings.model_copy(update={"data_dir": data_dir})))
    if args.action == "export-agenda":
        settings = _load(args.config, need_matrix=False)
        return asyncio.run(_export_agenda(settings, args.group, args.output))
    if args.action == "purge":
        return asyncio.run(_purge(_load(args.config, need_matrix=False), args.dry_run))
    if args.action == "classify":
        return _classify(args.text, args.lang, args.sensitive)
    if args.action == "demo":
        from bot.demo import run_demo

        return asyncio.run(run_demo(args.lang))
    raise AssertionError(args.action)


if __name__ == "__main__":
    raise SystemExit(main())
