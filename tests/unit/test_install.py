"""The package installs where no C++ compiler is found, without its compiled modules.

Why: hospital IT may install the bot on a server without build tools. The compiled modules
(`bot/guards/_model_sums.pyx`, `bot/guards/_pieces.pyx`) only make the guards faster; without
them the guards use their Python code with the same answers (`tests/unit/test_guards_model_sums.py`,
`tests/unit/test_guards_pieces.py`). A Cython detail
once made the build fail instead (it dropped `optional=True`): this builds a wheel as pip would,
with a compiler that always fails, and looks inside.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_COPIED = ("pyproject.toml", "setup.py", "README.md", "bot", "commandes", "stockage")


def test_a_wheel_builds_without_a_compiler_and_leaves_the_modules_out(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in _COPIED:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(
                path,
                source / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.cpp"),
            )
        else:
            shutil.copy2(path, source / name)
    env = {**os.environ, "CC": "/bin/false", "CXX": "/bin/false", "PIP_NO_INPUT": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("halte-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/guards/model.py" in names
    assert "bot/guards/data/crisis.model.json" in names
    assert not [name for name in names if name.endswith(".so")]
