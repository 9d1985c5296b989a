"""What every metric declares, and the registry `bench list` reads."""
from __future__ import annotations

from dataclasses import dataclass

from bench.registry import Registry


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    summary: str


METRICS: Registry[MetricInfo] = Registry("metric")


def declare(name: str, higher_is_better: bool, summary: str) -> MetricInfo:
    info = MetricInfo(name, higher_is_better, summary)
    METRICS.register(name)(info)
    return info
