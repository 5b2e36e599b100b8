"""Whether the guards use their compiled parts (`_model_sums.pyx`, `_pieces.pyx`).

Both are optional: built where `pip install` finds a C++ compiler, with the Python code kept
as the fallback and as the definition, giving the same answers. This switch lets a benchmark
or a test run the Python code where the compiled parts are built.
"""

from __future__ import annotations

import os

PURE_PYTHON = "HALTE_PURE_PYTHON"
"""Set (to anything but "" or "0") before the first message, the guards use none of their
compiled parts: `bench/guards_eval.py --pure` measures both ways."""


def wanted() -> bool:
    """Whether the compiled parts may be used (when they are built)."""
    return os.environ.get(PURE_PYTHON, "") in ("", "0")
