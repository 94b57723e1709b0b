"""Progress messages of the workflows: :data:`Progress` is the optional callback (``None`` = silent)
that receives each step's one-line message, as the command line prints it and the app shows it, and
:func:`say` sends a message to it when there is one."""

from __future__ import annotations

from typing import Callable, Optional

__all__ = ["Progress", "say"]

Progress = Optional[Callable[[str], None]]


def say(progress: Progress, message: str) -> None:
    """Send ``message`` to ``progress`` (nothing when it is None)."""
    if progress is not None:
        progress(message)
