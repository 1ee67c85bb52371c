"""The stage dir of one review, shared by the screen and its prepare thread."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bot_bottle.stage import PREFIX, remove_stage_dir

__all__ = ["SharedStageDir"]

T = TypeVar("T")


class SharedStageDir:
    """A new stage dir, removed once nobody needs it, unless handed over.

    The screen may close while the prepare thread still writes into the folder;
    whichever of the two finishes last removes it. A folder handed over (the
    plan was approved) belongs to whoever runs the plan.
    """

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX))
        self._lock = threading.Lock()
        self._in_use = False
        self._released = False
        self._handed_over = False

    def claim(self) -> None:
        """Mark the folder busy; call on the UI thread before starting work."""
        with self._lock:
            self._in_use = True

    def use(self, work: Callable[[Path], T]) -> T:
        """Run `work` on the folder; on failure the folder is removed."""
        try:
            return work(self.path)
        except BaseException:
            remove_stage_dir(self.path)
            raise
        finally:
            with self._lock:
                self._in_use = False
                orphaned = self._released and not self._handed_over
            if orphaned:
                remove_stage_dir(self.path)

    def hand_over(self) -> Path:
        """Give the folder to the caller, who removes it after the run."""
        with self._lock:
            self._handed_over = True
        return self.path

    def release(self) -> None:
        """The screen is done; remove the folder now or when the work ends."""
        with self._lock:
            self._released = True
            remove_now = not self._in_use and not self._handed_over
        if remove_now:
            remove_stage_dir(self.path)
