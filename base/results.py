"""What a suite's evaluation produces and what reports read back: the metric layout of a table, one metric's
result (its value, standard error, interval and bootstrap replicates), one cell's evaluation, and a report row
(one method and configuration, its records over seeds)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IDEALS = ("lower", "higher", "match")  # "match": the closer to the real data's value, the better (spreads)
REPLICATE_DIGITS = 7  # significant digits kept of each bootstrap replicate in a record


@dataclass(frozen=True)
class MetricSpec:
    key: str  # e.g. "one_to_one/alignment_mse"
    label: str  # column header, e.g. "1→1 Align."
    direction: str  # one_to_one | many_to_one | unconditional
    ideal: str  # lower | higher | match (the real data's value, given by the suite's oracle reference)

    def __post_init__(self):
        if self.ideal not in IDEALS:
            raise ValueError(f"metric {self.key}: ideal must be one of {', '.join(IDEALS)}, not {self.ideal!r}")

    @property
    def higher_is_better(self) -> bool:
        return self.ideal == "higher"

    @property
    def arrow(self) -> str:
        return {"higher": "↑", "lower": "↓", "match": "≈"}[self.ideal]


@dataclass
class MetricResult:
    value: float | None  # None when the method does not support the direction
    ideal: str
    per_direction: dict[str, float] = field(default_factory=dict)
    n: int | None = None  # test tuples the value was computed on
    se: float | None = None  # bootstrap standard error over the test tuples (tasks/evaluation.py)
    ci95: tuple[float, float] | None = None  # 95% percentile bootstrap interval over the test tuples
    replicates: list[float] | None = None  # the value on each bootstrap resample (the same resamples for every
    # method on the same test tuples, so two methods' replicates can be subtracted: paired differences)
    per_direction_se: dict[str, float] = field(default_factory=dict)

    @property
    def supported(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "ideal": self.ideal,
                               "status": "ok" if self.supported else "unsupported",
                               "per_direction": self.per_direction, "n": self.n}
        if self.se is not None:
            out.update(se=self.se, ci95=list(self.ci95) if self.ci95 else None,
                       per_direction_se=self.per_direction_se,
                       replicates=[float(f"{x:.{REPLICATE_DIGITS}g}") for x in self.replicates or []])
        return out


@dataclass
class Evaluation:
    metrics: dict[str, MetricResult]
    samples: dict[str, Any] = field(default_factory=dict)  # small arrays for figures
    timings: dict[str, float] = field(default_factory=dict)  # seconds per task
    references: dict[str, str] = field(default_factory=dict)  # reference row name -> what it is


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

    def results(self, key: str) -> dict[int, dict[str, Any]] | None:
        """Seed -> the record's metric entry of one key (value, se, replicates, ...), for the seeds that have a
        value; None when the method does not support it."""
        found = {r["seed"]: r["metrics"].get(key) for r in self.records}
        if any(m is not None and m.get("status") == "unsupported" for m in found.values()):
            return None
        return {s: m for s, m in found.items() if m is not None and m.get("value") is not None}

    def values(self, key: str) -> list[float] | None:
        """Per-seed values of one metric; None when the method does not support it."""
        found = self.results(key)
        return None if found is None else [m["value"] for m in found.values()]
