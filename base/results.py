"""What a suite's evaluation produces and what reports read back: the metric layout of a table, one metric's
result, one cell's evaluation, and a report row (one method and configuration, its records over seeds)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetricSpec:
    key: str  # e.g. "one_to_one/alignment_mse"
    label: str  # column header, e.g. "1→1 Align."
    direction: str  # one_to_one | many_to_one | unconditional
    higher_is_better: bool


@dataclass
class MetricResult:
    value: float | None  # None when the method does not support the direction
    higher_is_better: bool
    per_direction: dict[str, float] = field(default_factory=dict)
    n: int | None = None  # samples the value was computed on
    floor: float | None = None  # what the real data scores at the same n: a difference below it is noise

    @property
    def supported(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "higher_is_better": self.higher_is_better,
                "status": "ok" if self.supported else "unsupported", "per_direction": self.per_direction,
                "n": self.n, "floor": self.floor}


@dataclass
class Evaluation:
    metrics: dict[str, MetricResult]
    samples: dict[str, Any] = field(default_factory=dict)  # small arrays for figures
    timings: dict[str, float] = field(default_factory=dict)  # seconds per task


@dataclass
class Row:
    method: str
    config_hash: str
    overrides: list[str]
    records: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.method + (f" [{', '.join(self.overrides)}]" if self.overrides else "")

    @property
    def stale(self) -> bool:
        """Some of its records were made by code other than this checkout's (see mark_stale)."""
        return any(r.get("_changed") for r in self.records)

    def values(self, key: str) -> list[float] | None:
        """Per-seed values of one metric; None when the method does not support it."""
        found = [r["metrics"].get(key) for r in self.records]
        if any(m is not None and m.get("status") == "unsupported" for m in found):
            return None
        return [m["value"] for m in found if m is not None and m.get("value") is not None]
