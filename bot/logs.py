"""Logging that can never carry a message body.

An exception's own text may quote what a person wrote (`KeyError('their word')`), so failures
are logged with the exception's type and the stack's frames only — enough to find the bug, with
the event id to find the event — and never `str(exc)`.
"""

from __future__ import annotations

import logging
import traceback


def log_failure(logger: logging.Logger, what: str, *args: object) -> None:
    """Log the exception being handled, without its message. Call from an `except` block."""
    import sys

    exc = sys.exc_info()[1]
    if exc is None:
        logger.error(what, *args)
        return
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(what + " — %s\n%s", *args, type(exc).__qualname__, frames.rstrip())
