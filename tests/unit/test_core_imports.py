"""The domain never imports a platform library: only a transport may."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    import bot.app, bot.messages, bot.i18n, bot.context, bot.services, bot.runtime
    import bot.transports.console
    import commandes, stockage
    for package in (commandes, stockage):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
    loaded = sorted(
        name for name in sys.modules
        if name.split(".")[0] in {"nio", "discord"}
    )
    print(",".join(loaded))
    print(len([name for name in sys.modules if name.startswith("commandes.")]))
    """
)


def test_core_modules_do_not_import_nio_or_discord() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded, commandes_count = result.stdout.splitlines()
    assert loaded == "", f"platform libraries imported by the core: {loaded}"
    assert int(commandes_count) >= 4, "the check must have imported every commandes module"
