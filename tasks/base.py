"""The suite contract: a suite owns its data, its modality specs and the task matrix it evaluates."""
from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from bench.registry import Registry
from methods.backbone.modality import Batch, ModalitySpec
from methods.base import Method

Progress = Callable[[str], None]


@dataclass
class EvalConfig:
    n_samples: int = 10_000  # samples per task (paper: [NF]; spec 4.3 proposes 10k)
    batch_size: int = 2_000  # rows generated per call
    swd_projections: int = 128  # paper App. D
    projection_seed: int = 0  # the same projections for every method and seed
    figure_samples: int = 512  # jointly generated samples kept in the record for figures


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

    @property
    def supported(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "higher_is_better": self.higher_is_better,
                "status": "ok" if self.supported else "unsupported", "per_direction": self.per_direction}


@dataclass
class Evaluation:
    metrics: dict[str, MetricResult]
    samples: dict[str, Any] = field(default_factory=dict)  # small arrays for figures
    timings: dict[str, float] = field(default_factory=dict)  # seconds per task


def shuffled_rows(data: dict[str, torch.Tensor], batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """Endless epochs: each a fresh permutation of the rows, cut into full batches (the remainder is dropped)."""
    n = len(next(iter(data.values())))
    device = next(iter(data.values())).device
    while True:
        order = torch.randperm(n, device=device)
        for start in range(0, n - batch_size + 1, batch_size):
            rows = order[start:start + batch_size]
            yield {m: x[rows] for m, x in data.items()}


def cache_root() -> Path:
    """Where generated data is cached: $MUNI_BENCH_CACHE, else ~/.cache/muni-bench."""
    return Path(os.environ.get("MUNI_BENCH_CACHE", Path.home() / ".cache" / "muni-bench"))


class Suite:
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    modality_summary: ClassVar[str] = ""  # e.g. "x1, x2, x3: 60-d vectors", shown by `bench list`
    DataConfig: ClassVar[type]
    defaults: ClassVar[dict[str, dict[str, Any]]] = {}  # section overrides applied before the profile
    table: ClassVar[list[MetricSpec]] = []  # the paper's table layout, in column order
    paper_table: ClassVar[str] = ""  # e.g. "Table 5 (App. D)"
    notes: ClassVar[list[str]] = []  # choices the paper leaves open and deviations, printed in reports

    def __init__(self, data_config):
        self.data_config = data_config
        self.specs: list[ModalitySpec] = []

    def train_batches(self, batch_size: int, device: torch.device | str) -> Iterator[Batch]:
        raise NotImplementedError

    def evaluate(self, method: Method, eval_config, device: torch.device | str,
                 progress: Progress | None = None) -> Evaluation:
        raise NotImplementedError

    @classmethod
    def report_figures(cls, rows: list, results: Path, out: Path) -> list[Path]:
        """Suite-specific figures for `bench report` (rows are bench.report.Row); none by default."""
        return []

    def cell_figure(self, method: str, evaluation: Evaluation, path: Path) -> Path | None:
        """A figure of one cell's samples, logged to its MLflow run; none by default."""
        return None

    @classmethod
    def findings(cls, rows: list) -> list[str]:
        """The paper's qualitative findings, each checked against `rows` and stated as (not) reproduced."""
        return []

    def describe(self) -> dict[str, Any]:
        """What `bench list` and records show about the data."""
        return {}

    @classmethod
    def paper_reference(cls) -> dict[str, dict[str, float | None]]:
        """Published numbers, method -> metric key -> value (None for '–'), from the CSV beside the suite."""
        path = Path(__file__).parent / cls.name / "paper_reference.csv"
        if not path.exists():
            return {}
        with open(path, newline="") as f:
            return {row.pop("method"): {k: (float(v) if v not in ("", "-") else None) for k, v in row.items()}
                    for row in csv.DictReader(f)}


SUITES: Registry[type[Suite]] = Registry("suite")
