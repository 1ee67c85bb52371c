"""A row of the results: bot-bottle's samples beside the floor's, and the goal."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Row", "median", "ratio_goal"]


def median(samples: Sequence[float]) -> float | None:
    return statistics.median(samples) if samples else None


@dataclass
class Row:
    """One operation: what bot-bottle took, what the floor took, and the goal."""

    operation: str
    #: "s" for seconds, "MB" for memory.
    unit: str = "s"
    ours: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    floor_name: str = ""
    goal: str = ""
    #: Decides whether the goal is met, from the row; None: no goal.
    check: Callable[[Row], bool] | None = None
    ours_calls: list[int] = field(default_factory=list)
    floor_calls: list[int] = field(default_factory=list)
    #: Engine time by endpoint in bot-bottle's last sample, and the floor's.
    engine_seconds: dict[str, float] = field(default_factory=dict)
    floor_engine_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Why the row has no measurement, when it has none.
    unavailable: str = ""

    @property
    def ours_median(self) -> float | None:
        return median(self.ours)

    @property
    def floor_median(self) -> float | None:
        return median(self.floor)

    @property
    def ratio(self) -> float | None:
        ours, floor = self.ours_median, self.floor_median
        if ours is None or not floor:
            return None
        return ours / floor

    @property
    def calls(self) -> int | None:
        return max(self.ours_calls) if self.ours_calls else None

    @property
    def met(self) -> bool | None:
        if self.check is None or self.unavailable or not self.ours:
            return None
        return self.check(self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "unit": self.unit,
            "ours_median": self.ours_median,
            "floor_median": self.floor_median,
            "floor": self.floor_name,
            "ratio": self.ratio,
            "goal": self.goal,
            "met": self.met,
            "ours_samples": self.ours,
            "floor_samples": self.floor,
            "ours_engine_calls": self.ours_calls,
            "floor_engine_calls": self.floor_calls,
            "ours_engine_seconds_by_endpoint": self.engine_seconds,
            "floor_engine_seconds_by_endpoint": self.floor_engine_seconds,
            "notes": self.notes,
            "unavailable": self.unavailable or None,
        }


def ratio_goal(limit: float) -> Callable[[Row], bool]:
    """A check that the ratio to the floor is at most `limit`."""

    def check(row: Row) -> bool:
        return row.ratio is not None and row.ratio <= limit

    return check
